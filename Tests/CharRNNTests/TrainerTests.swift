import CharRNN
import Foundation
import XCTest

final class TrainerTests: XCTestCase {
    func writeText(_ dir: String) throws -> String { try writeTrainingText(dir) }
    func options(_ text: String, _ out: String) -> TrainingOptions { smallTrainingOptions(text, out) }

    func testLossFallsForEveryCell() throws {
        let dir = temporaryDirectory()
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
        let dir = temporaryDirectory()
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

    func testDivergenceStopsWithAClearError() throws {
        let dir = temporaryDirectory()
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
}
