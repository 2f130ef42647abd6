import CharRNN
import Foundation
import XCTest

/// The continuous-batching engine is the library's: an app batches generations with CharRNN alone (no
/// server), gets the sampler's text for each seed, and can watch the engine's counts.
final class InferenceEngineLibraryTests: XCTestCase {
    final class Counts: InferenceEngineObserver, @unchecked Sendable {
        private let lock = NSLock()
        private var characters = 0, inFlight: [Int] = []
        func generationsInFlight(_ count: Int) { lock.withLock { inFlight.append(count) } }
        func queueDepth(_ count: Int) {}
        func batchRows(_ count: Int) {}
        func characterGenerated() { lock.withLock { characters += 1 } }
        var seen: (characters: Int, inFlight: [Int]) { lock.withLock { (characters, inFlight) } }
    }

    func testAnAppBatchesGenerationsWithTheLibraryAlone() async throws {
        let dir = scratchDirectory()
        var o = smallTrainingOptions(try writeTrainingText(dir), dir + "/run")
        o.maxSteps = 20
        _ = try Trainer(options: o).run()
        let engine = try InferenceEngine(checkpoints: [("mine", dir + "/run")])
        let counts = Counts()
        engine.observer = counts
        engine.start()
        defer { engine.shutdown() }
        let options = SamplingOptions(temperature: 0.9)
        let texts = await withTaskGroup(of: (UInt64, String).self) { group in
            for seed: UInt64 in 1...3 {
                let events = engine.generate(GenerationRequest(model: "mine", prompt: "the", length: 30, options: options, seed: seed))
                group.addTask {
                    var text = ""
                    for await event in events { if case .text(let t) = event { text += t } }
                    return (seed, text)
                }
            }
            var all: [UInt64: String] = [:]
            for await (seed, text) in group { all[seed] = text }
            return all
        }
        let sampler = Sampler(checkpoint: try Checkpoint.load(dir + "/run"))
        for seed: UInt64 in 1...3 {
            XCTAssertEqual(texts[seed], try sampler.generate(prime: "the", length: 30, options: options, seed: seed), "seed \(seed)")
        }
        XCTAssertEqual(counts.seen.characters, 90)
        XCTAssertEqual(counts.seen.inFlight.last, 0)
        XCTAssertEqual(counts.seen.inFlight.max(), 3)
    }
}
