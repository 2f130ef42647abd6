import CharRNN
import CharRNNServer
import Foundation
import Hummingbird
import XCTest

/// Every endpoint and every refusal, over real HTTP on an ephemeral loopback port.
final class ServerTests: XCTestCase {
    var fixture: ServerFixture!
    var engine: InferenceEngine!

    override func setUpWithError() throws {
        fixture = try ServerFixture()
        engine = try fixture.engine()
    }

    override func tearDown() {
        engine.shutdown()
        fixture.remove()
    }

    /// Serves the engine on an ephemeral loopback port for the length of `body`.
    func live(maxLength: Int = 2000, maxBodyBytes: Int = 4096, idleTimeout: Double = 30,
              maxConnections: Int = 512, _ body: (LiveClient) async throws -> Void) async throws {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.maxLength = maxLength
        configuration.maxBodyBytes = maxBodyBytes
        configuration.maxItems = 10
        configuration.idleTimeout = idleTimeout
        configuration.maxConnections = maxConnections
        let engine = self.engine!
        try await withLiveServer({ ModelServer.application(engine: engine, configuration: configuration, onRunning: $0) }, body)
    }

    func testHealthModelsPageAndOpenAPIDocument() async throws {
        try await live { client in
            let health = try await client.execute(uri: "/healthz", method: .get)
            XCTAssertEqual(health.status, .ok)
            XCTAssertEqual(try jsonObject(health.body)["status"] as? String, "ok")
            XCTAssertEqual(try jsonObject(health.body)["version"] as? String, CharRNNVersion.current)

            let models = try await client.execute(uri: "/v1/models", method: .get)
            let list = try XCTUnwrap(try jsonObject(models.body)["models"] as? [[String: Any]])
            XCTAssertEqual(list.map { $0["name"] as? String }, ["letters", "places"])
            XCTAssertEqual(list[0]["kind"] as? String, "generator")
            XCTAssertEqual(list[0]["cell"] as? String, "lstm")
            XCTAssertEqual(list[0]["layers"] as? Int, 2)
            XCTAssertEqual(list[0]["hidden"] as? Int, 24)
            XCTAssertEqual(list[0]["vocabulary_size"] as? Int, ServerFixture.alphabet.count)
            XCTAssertEqual(list[0]["training_loss"] as? Double, 2.5)
            XCTAssertEqual(list[0]["start_character"] as? String, "\n", "what an empty prompt starts from")
            XCTAssertEqual(list[1]["kind"] as? String, "classifier")
            XCTAssertEqual(list[1]["categories"] as? [String], ["North", "South", "West"])
            XCTAssertEqual(list[1]["members"] as? Int, 1)
            XCTAssertNil(list[0]["members"])

            let page = try await client.execute(uri: "/", method: .get)
            XCTAssertEqual(page.status, .ok)
            XCTAssertEqual(page.headers[.contentType], "text/html; charset=utf-8")
            XCTAssertTrue(page.body.text.contains("/v1/generate"))
            XCTAssertFalse(page.body.text.contains("http://"), "the page must not load anything from elsewhere")
            XCTAssertFalse(page.body.text.contains("https://"), "the page must not load anything from elsewhere")

            let spec = try await client.execute(uri: "/openapi.json", method: .get)
            let doc = try jsonObject(spec.body)
            XCTAssertEqual(doc["openapi"] as? String, "3.0.3")
            let paths = try XCTUnwrap(doc["paths"] as? [String: Any])
            XCTAssertEqual(Set(paths.keys), ["/healthz", "/v1/models", "/v1/generate", "/v1/classify", "/v1/completions", "/metrics"])
        }
    }

    func testGenerationIsWhatTheSamplerGivesForTheSameSeed() async throws {
        let options = SamplingOptions(temperature: 0.9, topK: 6)
        let expected = try fixture.expectedText(prompt: "abc", length: 80, options: options, seed: 42)
        try await live { client in
            let request = body(["model": "letters", "prompt": "abc", "length": 80, "temperature": 0.9, "top_k": 6, "seed": 42])
            let response = try await client.execute(uri: "/v1/generate", method: .post, body: request)
            XCTAssertEqual(response.status, .ok)
            let reply = try jsonObject(response.body)
            XCTAssertEqual(reply["text"] as? String, expected)
            XCTAssertEqual(reply["tokens"] as? Int, 80)
            XCTAssertEqual(reply["finish_reason"] as? String, "length")
            XCTAssertEqual(reply["seed"] as? Int, 42)
            XCTAssertNotNil(reply["ms"] as? Double)

            // Nucleus and penalties too (what the page's top-p and repeat penalty send).
            let nucleus = SamplingOptions(temperature: 1.2, topP: 0.6, presencePenalty: 0.8, frequencyPenalty: 0.3)
            let wanted = try fixture.expectedText(prompt: "abc", length: 80, options: nucleus, seed: 5)
            XCTAssertNotEqual(wanted, try fixture.expectedText(prompt: "abc", length: 80, options: SamplingOptions(temperature: 1.2), seed: 5))
            let cut = try await client.execute(uri: "/v1/generate", method: .post, body: body([
                "prompt": "abc", "length": 80, "temperature": 1.2, "top_p": 0.6, "presence_penalty": 0.8, "frequency_penalty": 0.3, "seed": 5,
            ]))
            XCTAssertEqual(try jsonObject(cut.body)["text"] as? String, wanted)

            // Beam search: the library's result, whole.
            let beam = try BeamSearch(checkpoint: try Checkpoint.load(fixture.generatorPath)).search(prime: "abc", beams: 4, length: 30)
            let searched = try await client.execute(uri: "/v1/generate", method: .post,
                                                    body: body(["prompt": "abc", "length": 30, "beams": 4]))
            XCTAssertEqual(searched.status, .ok)
            let found = try jsonObject(searched.body)
            XCTAssertEqual(found["text"] as? String, beam.text)
            XCTAssertEqual(found["finish_reason"] as? String, beam.stopped ? "stop" : "length")
        }
    }

    /// The events add up to the text (how many there are depends on how fast the reader keeps up:
    /// InferenceEngineTests checks both ends).
    func testStreamedGenerationSendsEventsThatAddUpToTheSameText() async throws {
        let expected = try fixture.expectedText(prompt: "", length: 60, options: SamplingOptions(), seed: 7)
        try await live { client in
            // No model named: the server has one language model, so it is that one.
            let response = try await client.execute(uri: "/v1/generate", method: .post,
                                                    body: body(["length": 60, "seed": 7, "stream": true]))
            XCTAssertEqual(response.status, .ok)
            XCTAssertEqual(response.headers[.contentType], "text/event-stream")
            let events = try serverSentEvents(response.body.text)
            let chunks = events.filter { $0.name == "message" }
            XCTAssertGreaterThanOrEqual(chunks.count, 1)
            XCTAssertFalse(chunks.contains { ($0.data["text"] as? String ?? "").isEmpty }, "an empty event")
            XCTAssertEqual(chunks.map { $0.data["text"] as? String ?? "" }.joined(), expected)
            let done = try XCTUnwrap(events.last)
            XCTAssertEqual(done.name, "done")
            XCTAssertEqual(done.data["tokens"] as? Int, 60)
            XCTAssertEqual(done.data["finish_reason"] as? String, "length")
        }
    }

    func testStopCharacterEndsTheText() async throws {
        let free = try fixture.expectedText(prompt: "ab", length: 200, options: SamplingOptions(), seed: 3)
        let scalars = Array(free.unicodeScalars)
        let stop = scalars[min(5, scalars.count - 1)]
        let expected = String(String.UnicodeScalarView(scalars.prefix { $0 != stop }))
        try await live { client in
            let request = body(["prompt": "ab", "length": 200, "seed": 3, "stop": String(stop)])
            let reply = try jsonObject(try await client.execute(uri: "/v1/generate", method: .post, body: request).body)
            XCTAssertEqual(reply["text"] as? String, expected)
            XCTAssertEqual(reply["finish_reason"] as? String, "stop")
            XCTAssertEqual(reply["tokens"] as? Int, expected.unicodeScalars.count)
        }
    }

    func testClassifyRanksCategoriesAsTheLibraryDoes() async throws {
        let expected = try ClassifierCheckpoint.load(fixture.classifierPath).predict(["Abba", "hijack"], top: 2)
        try await live { client in
            let response = try await client.execute(uri: "/v1/classify", method: .post,
                                                    body: body(["model": "places", "items": ["Abba", "hijack"], "top": 2]))
            XCTAssertEqual(response.status, .ok)
            let results = try XCTUnwrap(try jsonObject(response.body)["results"] as? [[String: Any]])
            XCTAssertEqual(results.count, 2)
            for (result, want) in zip(results, expected) {
                let got = try XCTUnwrap(result["categories"] as? [[String: Any]])
                XCTAssertEqual(got.map { $0["category"] as? String }, want.map(\.category))
                for (g, w) in zip(got, want) {
                    XCTAssertEqual((g["probability"] as? Double) ?? -1, Double(w.probability), accuracy: 1e-6)
                }
            }
            XCTAssertEqual(results[0]["item"] as? String, "Abba")
        }
    }

    func testEveryBadRequestGetsAJSONErrorAndTheServerCarriesOn() async throws {
        let cases: [(String, HTTPRequest.Method, String, HTTPResponse.Status, String)] = [
            ("/v1/generate", .post, #"{"model": "nope"}"#, .notFound, "unknown model 'nope'"),
            ("/v1/generate", .post, #"{"prompt": "abcxyz"}"#, .badRequest, "never saw: 'x', 'y', 'z'"),
            ("/v1/generate", .post, #"{"length": 101}"#, .badRequest, "maximum of 100"),
            ("/v1/generate", .post, #"{"length": -1}"#, .badRequest, "must not be negative"),
            ("/v1/generate", .post, #"{"temperature": 0}"#, .badRequest, "temperature must be a finite number above 0"),
            ("/v1/generate", .post, #"{"temperature": 1e300}"#, .badRequest, "temperature must be a finite number above 0 (got 1e+300)"),
            ("/v1/generate", .post, #"{"temprature": 0.5}"#, .badRequest, "unknown field 'temprature'"),
            ("/v1/generate", .post, #"{"length": 1e300}"#, .badRequest, "length must be a whole number"),
            ("/v1/generate", .post, #"{"length": 2.5}"#, .badRequest, "length must be a whole number"),
            ("/v1/generate", .post, #"{"seed": -1}"#, .badRequest, "seed must be a whole number from 0 to 18446744073709551615 (got -1)"),
            ("/v1/generate", .post, #"{"top_k": 1e30}"#, .badRequest, "top_k must be a whole number"),
            ("/v1/generate", .post, #"{"stop": "z"}"#, .badRequest, "would never stop"),
            ("/v1/classify", .post, #"{"items": ["ab"], "topp": 2}"#, .badRequest, "unknown field 'topp'"),
            ("/v1/generate", .post, #"{"top_k": 0}"#, .badRequest, "top_k must be at least 1"),
            ("/v1/generate", .post, #"{"top_p": 0}"#, .badRequest, "top_p must be above 0 and at most 1 (got 0.0)"),
            ("/v1/generate", .post, #"{"beams": 0}"#, .badRequest, "beams must be from 1 to 16 (got 0)"),
            ("/v1/generate", .post, #"{"beams": 2, "temperature": 0.5}"#, .badRequest, "temperature does not go with it"),
            ("/v1/generate", .post, #"{"beams": 2, "stream": true}"#, .badRequest, "stream does not go with it"),
            ("/v1/generate", .post, #"{"top_p": 1.5}"#, .badRequest, "top_p must be above 0"),
            ("/v1/generate", .post, #"{"presence_penalty": 3}"#, .badRequest, "presence_penalty must be between -2 and 2"),
            ("/v1/generate", .post, #"{"frequency_penalty": -2.5}"#, .badRequest, "frequency_penalty must be between -2 and 2"),
            ("/v1/generate", .post, #"{"stop": "ab"}"#, .badRequest, "exactly one character"),
            ("/v1/generate", .post, #"{"category": "North"}"#, .badRequest, "not trained with categories"),
            ("/v1/generate", .post, #"{"model": "places"}"#, .badRequest, "is a classifier, not a generator"),
            ("/v1/generate", .post, #"{"prompt": "#, .badRequest, "malformed JSON"),
            ("/v1/generate", .post, #"{"length": "long"}"#, .badRequest, "at 'length'"),
            ("/v1/generate", .post, "{\"prompt\": \"" + String(repeating: "a", count: 5000) + "\"}", .contentTooLarge, "larger than"),
            ("/v1/classify", .post, #"{"items": []}"#, .badRequest, "items must not be empty"),
            ("/v1/classify", .post, #"{"items": ["ab1"]}"#, .badRequest, "never saw: '1'"),
            ("/v1/classify", .post, #"{"items": ["a","b","c","d","e","f","g","h","i","j","k"]}"#, .badRequest, "maximum of 10"),
            ("/v1/classify", .post, #"{"model": "letters", "items": ["ab"]}"#, .badRequest, "not a classifier"),
            ("/v1/classify", .post, #"{"top": 2}"#, .badRequest, "missing field 'items'"),
            ("/v1/nothing", .get, "", .notFound, "no such endpoint"),
            ("/v1/generate", .get, "", .methodNotAllowed, "use POST"),
            ("/v1/models", .delete, "", .methodNotAllowed, "use GET"),
        ]
        try await live(maxLength: 100) { client in
            for (uri, method, text, status, message) in cases {
                let response = try await client.execute(uri: uri, method: method, body: text.isEmpty ? nil : ByteBuffer(string: text))
                XCTAssertEqual(response.status, status, "\(text)")
                XCTAssertEqual(response.headers[.contentType], "application/json", "\(text)")
                let error = try XCTUnwrap(try jsonObject(response.body)["error"] as? [String: Any], "\(text)")
                XCTAssertEqual(error["status"] as? Int, status.code)
                let said = error["message"] as? String ?? ""
                XCTAssertTrue(said.contains(message), "\(text): \(said)")
            }
            let after = try await client.execute(uri: "/v1/generate", method: .post, body: body(["length": 5]))
            XCTAssertEqual(after.status, .ok)
        }
    }

    func testAClientThatHangsUpStopsItsGeneration() async throws {
        let engine = self.engine!
        try await live(maxLength: 100_000) { client in
            let port = client.port
            let payload = #"{"length": 100000, "stream": true, "seed": 1}"#
            let request = "POST /v1/generate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
                "Content-Length: \(payload.utf8.count)\r\n\r\n" + payload
            let head = try await sendAndHangUp(port: port, request: request, enough: 2000)
            XCTAssertTrue(head.hasPrefix("HTTP/1.1 200"), head)
            let deadline = Date().addingTimeInterval(10)
            while engine.generationsInFlight > 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            XCTAssertEqual(engine.generationsInFlight, 0, "the generation goes on after its client left")
            XCTAssertLessThan(engine.statistics.rows, 100_000)
        }
    }

    /// Protocol errors and truncated bodies get 400 with the JSON error; a connection beyond the limit
    /// gets 503; idle, half-sent-header and half-sent-body connections are closed after the timeout.
    func testProtocolErrorsConnectionLimitAndSlowClients() async throws {
        try await live(idleTimeout: 1, maxConnections: 4) { client in
            let port = client.port
            let malformed: [String] = [
                "garbage\r\n\r\n",
                "GET /\r\n",
                "POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                "GET /" + String(repeating: "a", count: 100_000) + " HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET /healthz HTTP/1.1\r\nHost: x\r\n" + (0...1000).map { "X-\($0): y\r\n" }.joined() + "\r\n",
                "POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"prompt\":",
            ]
            for request in malformed {
                let reply = try await exchange(port: port, request, halfClose: true, timeout: 5)
                XCTAssertTrue(reply.text.hasPrefix("HTTP/1.1 400"), "\(request.prefix(60)): \(reply.text.prefix(200))")
                XCTAssertTrue(reply.text.contains("{\"error\":{\"message\":"), "\(request.prefix(60)): \(reply.text.prefix(300))")
            }
            // Slow clients: idle, a header never finished, a body never finished. Each is closed by the
            // server within about the timeout (1 s), not held open.
            for request in ["", "GET /healthz HTTP/1.1\r\nHo", "POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"] {
                let reply = try await exchange(port: port, request, halfClose: false, timeout: 10)
                XCTAssertTrue(reply.closedByServer, "'\(request)' left open")
                XCTAssertLessThan(reply.seconds, 5, "'\(request)' closed only after \(reply.seconds) s")
            }
            // Four connections held open: the fifth is refused at once with 503 and the JSON error.
            let held = try (0..<4).map { _ in try RawConnection(port: port) }
            try await Task.sleep(for: .milliseconds(200))
            let refused = try await exchange(port: port, "", halfClose: false, timeout: 5)
            XCTAssertTrue(refused.text.hasPrefix("HTTP/1.1 503"), refused.text)
            XCTAssertTrue(refused.text.contains("maximum"), refused.text)
            XCTAssertLessThan(refused.seconds, 1)
            held.forEach { $0.close() }
            try await Task.sleep(for: .milliseconds(300))
            let after = try await exchange(port: port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                             halfClose: false, timeout: 5)
            XCTAssertTrue(after.text.hasPrefix("HTTP/1.1 200"), "the server answers once connections are released: \(after.text)")
        }
    }
}
