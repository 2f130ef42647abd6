import CharRNN
import CharRNNServer
import Foundation
import XCTest

/// Continuous batching: requests in flight together share steps, and sharing changes no result.
final class InferenceEngineTests: XCTestCase {
    var fixture: ServerFixture!

    override func setUpWithError() throws { fixture = try ServerFixture() }
    override func tearDown() { fixture.remove() }

    static func collect(_ stream: GenerationEvents) async -> (text: String, last: GenerationEvent?) {
        var text = "", last: GenerationEvent? = nil
        for await event in stream {
            if case .text(let t) = event { text += t } else { last = event }
        }
        return (text, last)
    }

    func request(seed: UInt64, length: Int, prompt: String = "ab") -> GenerationRequest {
        GenerationRequest(model: "letters", prompt: prompt, length: length, options: SamplingOptions(temperature: 0.8), seed: seed)
    }

    func testConcurrentRequestsShareStepsAndGetTheirOwnText() async throws {
        let engine = try fixture.engine(maxBatch: 64)
        defer { engine.shutdown() }
        let seeds: [UInt64] = Array(1...12)
        // Different prompts and lengths, so streams join and leave the batch at different steps.
        let results = await withTaskGroup(of: (UInt64, String, GenerationEvent?).self) { group in
            for seed in seeds {
                let r = request(seed: seed, length: 40 + Int(seed) * 5, prompt: String(repeating: "a", count: Int(seed % 4) + 1))
                let stream = engine.generate(r)
                group.addTask { let (t, l) = await Self.collect(stream); return (seed, t, l) }
            }
            var all: [UInt64: (String, GenerationEvent?)] = [:]
            for await (seed, text, last) in group { all[seed] = (text, last) }
            return all
        }
        for seed in seeds {
            let length = 40 + Int(seed) * 5
            let prompt = String(repeating: "a", count: Int(seed % 4) + 1)
            let expected = try fixture.expectedText(prompt: prompt, length: length, options: SamplingOptions(temperature: 0.8), seed: seed)
            XCTAssertEqual(results[seed]?.0, expected, "seed \(seed): batching changed the text")
            XCTAssertEqual(results[seed]?.1, .finished(tokens: length, reason: "length"))
        }
        let stats = engine.statistics
        XCTAssertEqual(stats.rows, seeds.map { 40 + Int($0) * 5 }.reduce(0, +), "one row per character")
        XCTAssertGreaterThan(Double(stats.rows) / Double(stats.steps), 2, "requests in flight together did not share steps")
    }

    func testMaxBatchOneServesOneRequestAtATime() async throws {
        let engine = try fixture.engine(maxBatch: 1)
        defer { engine.shutdown() }
        let streams = (1...4).map { engine.generate(request(seed: UInt64($0), length: 30)) }
        for s in streams { _ = await Self.collect(s) }
        let stats = engine.statistics
        XCTAssertEqual(stats.steps, 120)
        XCTAssertEqual(stats.rows, 120)
    }

    func testARejectedRequestSaysWhy() async throws {
        let engine = try fixture.engine()
        defer { engine.shutdown() }
        let result = await Self.collect(engine.generate(request(seed: 1, length: 10, prompt: "abQ")))
        XCTAssertEqual(result.text, "")
        guard case .rejected(let message)? = result.last else { return XCTFail("expected a rejection, got \(String(describing: result.last))") }
        XCTAssertTrue(message.contains("'Q'"), message)
        XCTAssertEqual(engine.generationsInFlight, 0)
    }

    /// A reader that reads nothing until the generation has ended gets its whole text as one event, then
    /// the last event: nothing is lost, and no event per character waits for it.
    func testAReaderThatFallsBehindGetsTheTextTogether() async throws {
        let engine = try fixture.engine()
        defer { engine.shutdown() }
        let events = engine.generate(request(seed: 4, length: 300))
        let deadline = Date().addingTimeInterval(20)
        while engine.generationsInFlight > 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(5)) }
        var all: [GenerationEvent] = []
        for await event in events { all.append(event) }
        let expected = try fixture.expectedText(prompt: "ab", length: 300, options: SamplingOptions(temperature: 0.8), seed: 4)
        XCTAssertEqual(all, [.text(expected), .finished(tokens: 300, reason: "length")])
    }

    /// A reader gets text while the generation runs, and releasing the events stops it.
    func testTextArrivesBeforeTheEndAndReleasingTheEventsStopsIt() async throws {
        let engine = try fixture.engine()
        defer { engine.shutdown() }
        // The events and their iterator live only inside this function.
        func readFirst() async -> (text: String?, inFlight: Int) {
            let events = engine.generate(request(seed: 5, length: 1_000_000))
            var iterator = events.makeAsyncIterator()
            guard case .text(let first)? = await iterator.next() else { return (nil, engine.generationsInFlight) }
            return (first, engine.generationsInFlight)
        }
        let (first, inFlight) = await readFirst()
        XCTAssertFalse(first?.isEmpty ?? true, "no text first")
        XCTAssertEqual(inFlight, 1, "the text came before the end")
        let deadline = Date().addingTimeInterval(20)
        while engine.generationsInFlight > 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(5)) }
        XCTAssertEqual(engine.generationsInFlight, 0, "the generation went on after its reader left")
        XCTAssertLessThan(engine.statistics.rows, 1_000_000)
    }

    func testShutdownCancelsRunningAndQueuedGenerations() async throws {
        let engine = try fixture.engine(maxBatch: 1)
        let running = engine.generate(request(seed: 1, length: 1_000_000))
        let queued = engine.generate(request(seed: 2, length: 10))
        var iterator = running.makeAsyncIterator()
        _ = await iterator.next()  // it has started
        engine.shutdown()
        var last: GenerationEvent? = nil
        while let e = await iterator.next() { last = e }
        guard case .finished(let tokens, let reason)? = last else { return XCTFail("no final event") }
        XCTAssertEqual(reason, "cancelled")
        XCTAssertLessThan(tokens, 1_000_000)
        let other = await Self.collect(queued)
        XCTAssertEqual(other.last, .finished(tokens: 0, reason: "cancelled"))
        let late = await Self.collect(engine.generate(request(seed: 3, length: 5)))
        XCTAssertEqual(late.last, .rejected("the server is shutting down"))
    }

    /// A training folder with several classifiers is served as one ensemble.
    func testAnEnsembleFolderClassifiesAsTheLibraryDoes() async throws {
        let folder = fixture.directory + "/ensemble"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let first = try ClassifierCheckpoint.load(fixture.classifierPath)
        try first.save(to: folder + "/" + ClassifierEnsemble.memberFile(1))
        let second = ClassifierCheckpoint(model: ClassifierModel(config: first.info.config), vocabulary: first.vocabulary, info: first.info)
        var rng = RandomGenerator(seed: 99)
        second.model.initializeParameters(rng: &rng)
        try second.save(to: folder + "/" + ClassifierEnsemble.memberFile(2))
        let expected = try ClassifierEnsemble.load(folder).predict(["Abba", "hijack"], top: 3)
        XCTAssertNotEqual(expected.map { $0.map(\.probability) }, try first.predict(["Abba", "hijack"], top: 3).map { $0.map(\.probability) })
        let engine = try InferenceEngine(checkpoints: [("both", folder)])
        XCTAssertEqual(engine.model(named: "both")?.members, 2)
        engine.start()
        defer { engine.shutdown() }
        let got = try await engine.classify(model: "both", items: ["Abba", "hijack"], top: 3)
        XCTAssertEqual(got.map { $0.map(\.category) }, expected.map { $0.map(\.category) })
        XCTAssertEqual(got.map { $0.map(\.probability) }, expected.map { $0.map(\.probability) })
    }

    func testModelNamesComeFromFilesOrAreGiven() {
        XCTAssertEqual(ModelSummary.parse("runs/shakespeare").name, "shakespeare")
        XCTAssertEqual(ModelSummary.parse("runs/shakespeare/best.safetensors").name, "shakespeare")
        XCTAssertEqual(ModelSummary.parse("poems.safetensors").name, "poems")
        XCTAssertEqual(ModelSummary.parse("tang=runs/x/latest.safetensors").name, "tang")
        XCTAssertEqual(ModelSummary.parse("tang=runs/x/latest.safetensors").path, "runs/x/latest.safetensors")
    }

    func testLoadingProblemsAreClearErrors() throws {
        XCTAssertThrowsError(try InferenceEngine(checkpoints: [("a", fixture.directory + "/missing.safetensors")])) {
            XCTAssertTrue("\($0)".contains("missing.safetensors"), "\($0)")
        }
        XCTAssertThrowsError(try InferenceEngine(checkpoints: [("a", fixture.generatorPath), ("a", fixture.classifierPath)])) {
            XCTAssertTrue("\($0)".contains("two models are named 'a'"), "\($0)")
        }
        let junk = fixture.directory + "/junk.safetensors"
        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: junk))
        XCTAssertThrowsError(try InferenceEngine(checkpoints: [("j", junk)]))
        XCTAssertThrowsError(try InferenceEngine(checkpoints: [("a", fixture.generatorPath)], maxBatch: 0))
    }
}
