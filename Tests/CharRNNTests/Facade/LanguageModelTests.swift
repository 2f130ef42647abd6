import CharRNN
import Foundation
import XCTest

/// The app-facing LanguageModel: its stream is the CPU sampler's (or the GPU generator's) text for the
/// seed, ending the iteration stops the generation, and evaluate is Evaluation's figure.
final class LanguageModelTests: XCTestCase {
    func trainedRun() throws -> String {
        let dir = scratchDirectory()
        let text = try writeTrainingText(dir)
        var o = smallTrainingOptions(text, dir + "/run")
        o.maxSteps = 30
        _ = try Trainer(options: o).run()
        return dir + "/run"
    }

    func collect(_ stream: AsyncThrowingStream<String, Error>) async throws -> [String] {
        var pieces: [String] = []
        for try await piece in stream { pieces.append(piece) }
        return pieces
    }

    func testStreamIsTheSamplersTextAndEvaluateIsEvaluations() async throws {
        let run = try trainedRun()
        let model = try LanguageModel(contentsOf: run)
        let options = SamplingOptions(temperature: 0.9, topP: 0.95)
        let pieces = try await collect(model.generate(prompt: "the cat", length: 120, options: options, seed: 7))
        let checkpoint = try Checkpoint.load(run)
        let want = try Sampler(checkpoint: checkpoint).generate(prime: "the cat", length: 120, options: options, seed: 7)
        XCTAssertEqual(pieces.joined(), want)
        XCTAssertEqual(pieces.count, 120, "a character at a time on the CPU")
        XCTAssertEqual(try model.generateText(prompt: "the cat", length: 120, options: options, seed: 7), want)

        let text = try String(contentsOfFile: checkpoint.info.training!.corpus, encoding: .utf8)
        let ids = try checkpoint.vocabulary.encode(text, what: "text")
        XCTAssertEqual(try model.evaluate(text: text), try Evaluation.loss(of: checkpoint.model, ids: ids, streams: 1, chunk: 256))
        XCTAssertThrowsError(try model.evaluate(text: "the cat€")) { XCTAssertTrue("\($0)".contains("never saw"), "\($0)") }
        XCTAssertThrowsError(try model.generateText(prompt: "", length: 5, seed: 1, category: "x")) {
            XCTAssertTrue("\($0)".contains("not trained with categories"), "\($0)")
        }
    }

    /// A consumer that stops reading ends the generation: the model is free again at once, not after
    /// the ten million characters asked for.
    func testEndingTheIterationStopsTheGeneration() async throws {
        let model = try LanguageModel(contentsOf: try trainedRun())
        var seen = 0
        for try await _ in model.generate(prompt: "a", length: 10_000_000, seed: 1) {
            seen += 1
            if seen == 5 { break }
        }
        let started = Date()
        XCTAssertEqual(try model.generateText(prompt: "a", length: 10, seed: 2).unicodeScalars.count, 10)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "the first generation kept the model")
    }

    /// On a device (the emulated one): the generator's text for the seed, and the CPU's loss.
    func testOnADeviceTheCallsAreTheSame() async throws {
        let run = try trainedRun()
        let device = DeviceTrainerTests.device
        let model = try LanguageModel(contentsOf: run, device: device)
        let options = SamplingOptions(temperature: 0.8, topK: 5, topP: 0.9)
        let pieces = try await collect(model.generate(prompt: "my bird", length: 40, options: options, seed: 3))
        let checkpoint = try Checkpoint.load(run)
        let gpu = try DeviceModel(config: checkpoint.model.config, device: device)
        try gpu.setParameters(checkpoint.model.parameters)
        let want = try DeviceGenerator(model: gpu, vocabulary: checkpoint.vocabulary, startCharacter: checkpoint.startCharacter)
            .generate(prime: "my bird", streams: 1, length: 40, options: options, seed: 3, chunk: 16)[0]
        XCTAssertEqual(pieces.joined(), want)
        let text = try String(contentsOfFile: checkpoint.info.training!.corpus, encoding: .utf8)
        XCTAssertEqual(try model.evaluate(text: text).nats, try LanguageModel(contentsOf: run).evaluate(text: text).nats, accuracy: 1e-4)
    }
}
