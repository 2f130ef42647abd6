import CharRNN
import CharRNNServer
import Foundation
import Hummingbird
import XCTest

/// What the second adversarial pass found in the server: names that never ended, trickled bodies that
/// held every connection, generations that outlived their clients, HEAD refused, one long classify
/// item that kept the process large.
final class ServerHardeningTests: XCTestCase {
    var fixture: ServerFixture!
    var engine: InferenceEngine!
    var namesPath = ""

    override func setUpWithError() throws {
        fixture = try ServerFixture()
        let vocab = Vocabulary(scalars: Array("\nabcdefg".unicodeScalars))
        let model = initialisedModel(ModelConfig(cell: .gru, layers: 1, hidden: 16, embed: 4, vocabSize: vocab.count), seed: 4)
        model.parameters[model.layout["decoder.bias"]!.offset] += 1.5
        var names = Checkpoint(model: model, vocabulary: vocab, startCharacter: "\n", training: nil)
        names.info.names = true
        namesPath = fixture.directory + "/dinos.safetensors"
        try names.save(to: namesPath)
        // A model large enough that 20,000 characters take seconds.
        let big = Vocabulary(scalars: ServerFixture.alphabet)
        let slow = initialisedModel(ModelConfig(cell: .lstm, layers: 3, hidden: 384, embed: 16, vocabSize: big.count), seed: 2)
        try Checkpoint(model: slow, vocabulary: big, startCharacter: "\n", training: nil).save(to: fixture.directory + "/slow.safetensors")
        engine = try InferenceEngine(checkpoints: [("letters", fixture.generatorPath), ("places", fixture.classifierPath),
                                                   ("dinos", namesPath), ("slow", fixture.directory + "/slow.safetensors")])
        engine.start()
    }

    override func tearDown() {
        engine.shutdown()
        fixture.remove()
    }

    func live(bodyTimeout: Double = 10, maxBodyBytes: Int = 4096, maxRequestBytes: Int = 512 << 20,
              _ body: (LiveClient) async throws -> Void) async throws {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.maxLength = 100_000
        configuration.maxBodyBytes = maxBodyBytes
        configuration.bodyTimeout = bodyTimeout
        configuration.maxRequestBytes = maxRequestBytes
        let engine = self.engine!
        try await withLiveServer({ ModelServer.application(engine: engine, configuration: configuration, onRunning: $0) }, body)
    }

    func testANamesModelStopsAtTheEndOfANameAsTheCLIDoes() async throws {
        let sampler = Sampler(checkpoint: try Checkpoint.load(namesPath))
        try await live { client in
            for seed in 1...8 {
                let reply = try jsonObject(try await client.execute(uri: "/v1/generate", method: .post,
                                                                    body: body(["model": "dinos", "seed": seed])).body)
                let expected = try sampler.generate(prime: "", length: 200, options: SamplingOptions(), seed: UInt64(seed))
                XCTAssertEqual(reply["text"] as? String, expected, "seed \(seed)")
                XCTAssertEqual(reply["finish_reason"] as? String, "stop", "seed \(seed): one name, ended at its line break")
            }
        }
    }

    func testHeadIsAnsweredOnTheReadableEndpoints() async throws {
        try await live { client in
            for path in ["/", "/healthz", "/v1/models", "/openapi.json"] {
                let reply = try await exchange(port: client.port, "HEAD \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                               halfClose: false, timeout: 5)
                XCTAssertTrue(reply.text.hasPrefix("HTTP/1.1 200"), "\(path): \(reply.text.prefix(80))")
                let parts = reply.text.components(separatedBy: "\r\n\r\n")
                XCTAssertEqual(parts.count, 2)
                XCTAssertEqual(parts.last, "", "\(path): a HEAD reply has no body")
                let get = try await client.execute(uri: path, method: .get)
                let length = try XCTUnwrap(reply.text.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("content-length:") })
                if path != "/healthz" {  // its counters may change between the two
                    XCTAssertEqual(length.split(separator: ":")[1].trimmingCharacters(in: .whitespaces), "\(get.body.readableBytes)", path)
                }
            }
        }
    }

    func testConnectIsRefusedWithTheJSONErrorAndTheConnectionClosed() async throws {
        try await live { client in
            for request in ["CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", "CONNECT / HTTP/1.1\r\n\r\n"] {
                let reply = try await exchange(port: client.port, request, halfClose: false, timeout: 5)
                XCTAssertTrue(reply.text.hasPrefix("HTTP/1.1 405"), reply.text)
                XCTAssertTrue(reply.text.contains("{\"error\":{\"message\":\"CONNECT is not supported"), reply.text)
                XCTAssertTrue(reply.closedByServer)
                XCTAssertLessThan(reply.seconds, 2)
            }
        }
    }

    func testATrickledBodyIsCutOffAtTheBodyTimeout() async throws {
        try await live(bodyTimeout: 1) { client in
            let port = client.port
            let reply = try await offTheCooperativePool { () -> RawConnection.Reply in
                let connection = try RawConnection(port: port)
                connection.send("POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n{")
                var reply = connection.receive(atLeast: 1, timeout: 0.4)
                // A byte every 0.4 s: never idle long enough for the idle timeout, never done.
                for _ in 0..<15 where reply.bytes.isEmpty {
                    connection.send(" ")
                    reply = connection.receive(atLeast: 1, timeout: 0.4)
                }
                let rest = connection.receive(timeout: 2)
                return RawConnection.Reply(bytes: reply.bytes + rest.bytes, closedByServer: rest.closedByServer, seconds: 0)
            }
            XCTAssertTrue(reply.text.hasPrefix("HTTP/1.1 408"), reply.text)
            XCTAssertTrue(reply.text.contains("\"error\""), reply.text)
            XCTAssertTrue(reply.closedByServer, "the connection is closed after the 408")
        }
    }

    /// A client that hangs up ends its generation within a step or two, streaming or not.
    func testAGenerationEndsWhenItsClientHasGone() async throws {
        try await live { client in
            let port = client.port
            for stream in [false, true] {
                let request = String(buffer: body(["model": "slow", "length": 20000, "seed": 1, "stream": stream]))
                let engine = self.engine!
                let before = try await offTheCooperativePool { () -> Int in
                    let connection = try RawConnection(port: port)
                    connection.send("POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Length: \(request.utf8.count)\r\n\r\n" + request)
                    Thread.sleep(forTimeInterval: 0.5)
                    let generating = engine.generationsInFlight
                    connection.close()
                    return generating
                }
                XCTAssertEqual(before, 1, "stream \(stream): still generating when the client leaves")
                let start = Date()
                while self.engine.generationsInFlight > 0 && Date().timeIntervalSince(start) < 10 { try await Task.sleep(for: .milliseconds(10)) }
                XCTAssertEqual(self.engine.generationsInFlight, 0)
                XCTAssertLessThan(Date().timeIntervalSince(start), 1, "stream \(stream): the generation stopped soon after its client left")
            }
        }
    }

    func testAClassifyRequestBeyondTheMemoryLimitIsRefusedBeforeItRuns() async throws {
        try await live(maxBodyBytes: 1 << 20, maxRequestBytes: 1 << 20) { client in
            let long = String(repeating: "abc", count: 100_000)
            let response = try await client.execute(uri: "/v1/classify", method: .post, body: body(["model": "places", "items": [long]]))
            XCTAssertEqual(response.status, .badRequest)
            let message = try XCTUnwrap((try jsonObject(response.body)["error"] as? [String: Any])?["message"] as? String)
            XCTAssertTrue(message.contains("--max-request-memory") && message.contains("300000 characters"), message)
            let short = try await client.execute(uri: "/v1/classify", method: .post, body: body(["model": "places", "items": ["abc"]]))
            XCTAssertEqual(short.status, .ok)
        }
    }
}

private func initialisedModel(_ config: ModelConfig, seed: UInt64) -> CharRNNModel {
    let model = CharRNNModel(config: config)
    var rng = RandomGenerator(seed: seed)
    model.initializeParameters(rng: &rng)
    return model
}
