import CharRNN
import Foundation
import XCTest

final class TrainerTests: XCTestCase {
    func writeText(_ dir: String) throws -> String { try writeTrainingText(dir) }
    func options(_ text: String, _ out: String) -> TrainingOptions { smallTrainingOptions(text, out) }

    func testLossFallsForEveryCell() throws {
        let dir = scratchDirectory()
        let text = try writeText(dir)
        for cell in CellKind.allCases {
            var o = options(text, dir + "/\(cell.rawValue)")
            o.cell = cell
            o.maxSteps = 120
            if cell == .rnnRelu { o.learningRate = 3e-3 }
            let trainer = try Trainer(options: o)
            let result = try trainer.run()
            let history = try String(contentsOfFile: dir + "/\(cell.rawValue)/loss.csv", encoding: .utf8)
                .split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
            let first = Double(history.first![2])!, last = Double(history.last![2])!
            XCTAssertLessThan(last, first * 0.7, "\(cell): loss \(first) -> \(last)")
            XCTAssertLessThan(result.validation!.nats, 2.0, "\(cell)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/\(cell.rawValue)/best.safetensors"))
        }
    }

    func testResumeReproducesTheUninterruptedRun() throws {
        let dir = scratchDirectory()
        let text = try writeText(dir)
        for batching in BatchingMode.allCases {
            var o = options(text, dir + "/full-\(batching)")
            o.batching = batching
            o.dropout = 0.2
            o.maxSteps = 60
            _ = try Trainer(options: o).run()
            var half = o
            half.outputDirectory = dir + "/half-\(batching)"
            half.maxSteps = 40
            _ = try Trainer(options: half).run()
            let resumed = try Trainer(resumeFrom: half.outputDirectory) { $0.maxSteps = 60 }
            XCTAssertEqual(resumed.step, 40)
            _ = try resumed.run()
            let a = try String(contentsOfFile: o.outputDirectory + "/loss.csv", encoding: .utf8)
            let b = try String(contentsOfFile: half.outputDirectory + "/loss.csv", encoding: .utf8)
            XCTAssertEqual(a, b, "\(batching)")
            let pa = try Checkpoint.load(o.outputDirectory + "/latest.safetensors").model.parameters.array
            let pb = try Checkpoint.load(half.outputDirectory + "/latest.safetensors").model.parameters.array
            XCTAssertEqual(pa, pb, "\(batching): parameters bit-identical")
        }
    }

    /// The caller's stop condition (what Ctrl-C is to the CLI; the library installs no signal handler):
    /// the run saves where it stopped and says so, and resuming it gives the uninterrupted run's files.
    func testAStopConditionSavesAndTheResumeIsExact() throws {
        let dir = scratchDirectory()
        let text = try writeText(dir)
        var o = options(text, dir + "/full")
        o.maxSteps = 50
        _ = try Trainer(options: o).run()
        var stopped = o
        stopped.outputDirectory = dir + "/stopped"
        var lastStep = 0
        let result = try Trainer(options: stopped).run(report: { event in
            if case .progress(let p) = event { lastStep = p.step }
        }, stop: { lastStep >= 23 })
        XCTAssertEqual(result.outcome, .interrupted)
        XCTAssertLessThan(result.step, 50)
        XCTAssertGreaterThanOrEqual(result.step, 23)
        let resumed = try Trainer(resumeFrom: stopped.outputDirectory)
        XCTAssertEqual(resumed.step, result.step, "saved where it stopped")
        XCTAssertEqual(try resumed.run().outcome, .finished)
        let a = try Checkpoint.load(o.outputDirectory + "/latest.safetensors").model.parameters.array
        let b = try Checkpoint.load(stopped.outputDirectory + "/latest.safetensors").model.parameters.array
        XCTAssertEqual(a, b, "parameters bit-identical to the uninterrupted run")
    }

    /// --ema: validation is the average's loss, latest.safetensors is the average, and the train state
    /// keeps the raw parameters that training goes on from.
    func testWeightAverageIsWhatValidatesAndIsSaved() throws {
        let dir = scratchDirectory()
        let text = try writeText(dir)
        var o = options(text, dir + "/ema")
        o.ema = 0.9
        o.maxSteps = 30
        o.evalEvery = 30
        let reported: Double, validationIds: [Int32]
        do {
            let trainer = try Trainer(options: o)
            reported = try XCTUnwrap(try trainer.run().validation).nats
            let ids = try trainer.data.vocabulary.encode(try String(contentsOfFile: text, encoding: .utf8), what: "the text")
            validationIds = Array(ids.suffix(trainer.data.validationCharacters))
        }
        let latest = try Checkpoint.load(o.outputDirectory + "/latest.safetensors").model
        let raw = try Trainer(resumeFrom: o.outputDirectory).model
        XCTAssertNotEqual(raw.parameters.array, latest.parameters.array, "the saved model is the average, not the raw weights")
        let ofAverage = try Evaluation.loss(of: latest, ids: validationIds, streams: o.batchSize, chunk: o.seqLength).nats
        let ofRaw = try Evaluation.loss(of: raw, ids: validationIds, streams: o.batchSize, chunk: o.seqLength).nats
        XCTAssertEqual(ofAverage, reported, accuracy: 1e-9, "validation ran on the average")
        XCTAssertNotEqual(ofRaw, reported, "and not on the raw weights")
    }

    func testDivergenceStopsWithAClearError() throws {
        let dir = scratchDirectory()
        let text = try writeText(dir)
        var o = options(text, dir + "/boom")
        o.learningRate = 50; o.optimizer = .sgd; o.clipNorm = nil; o.maxSteps = 200; o.evalEvery = 1000
        XCTAssertThrowsError(try Trainer(options: o).run()) { e in
            XCTAssertTrue("\(e)".contains("training diverged"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/boom/latest.safetensors"))
    }

    func testEvaluationCarriesStateThroughTheText() throws {
        let vocab = Vocabulary(scalarsOf: "abcd".unicodeScalars)
        let model = randomModel(ModelConfig(cell: .lstm, layers: 1, hidden: 8, embed: 4, vocabSize: 4), seed: 2)
        let ids = randomIds(100, vocab: 4, seed: 3)
        let whole = try Evaluation.loss(of: model, ids: ids, streams: 1, chunk: 99)
        let chunked = try Evaluation.loss(of: model, ids: ids, streams: 1, chunk: 7)
        XCTAssertEqual(whole.characters, 99)
        XCTAssertEqual(whole.nats, chunked.nats, accuracy: 1e-5)
        XCTAssertEqual(whole.perplexity, exp(whole.nats), accuracy: 1e-9)
        XCTAssertEqual(whole.bitsPerCharacter, whole.nats / log(2), accuracy: 1e-9)
        _ = vocab
    }

    /// Cosine in a run bounded by time alone follows the seconds spent: the full rate at the start, half
    /// at half time, 0 when the time is up and after; the warmup still counts updates; a known update
    /// count wins over the seconds (the path that matches PyTorch).
    func testCosineOverTimeFollowsTheSecondsSpent() {
        let byTime = LearningRateSchedule(base: 0.01, kind: .cosine, warmup: 4, totalSeconds: 100)
        XCTAssertEqual(byTime.rate(update: 0, seconds: 50), 0.01 / 4, accuracy: 1e-12)
        XCTAssertEqual(byTime.rate(update: 10, seconds: 0), 0.01, accuracy: 1e-12)
        XCTAssertEqual(byTime.rate(update: 10, seconds: 25), 0.01 * (1 + cos(Double.pi / 4)) / 2, accuracy: 1e-12)
        XCTAssertEqual(byTime.rate(update: 10, seconds: 50), 0.005, accuracy: 1e-12)
        XCTAssertEqual(byTime.rate(update: 10, seconds: 100), 0, accuracy: 1e-12)
        XCTAssertEqual(byTime.rate(update: 10, seconds: 130), 0, accuracy: 1e-12)
        let bySteps = LearningRateSchedule(base: 0.01, kind: .cosine, total: 20, totalSeconds: 100)
        XCTAssertEqual(bySteps.rate(update: 10, seconds: 99), 0.005, accuracy: 1e-12)
    }
}
