import CharRNN
import Foundation
import XCTest

/// `--init-from`: a new run starts from a trained model's weights; characters of the new text that
/// the model never saw get fresh rows, and every row of the characters it knew keeps its weights.
final class FineTuningTests: XCTestCase {
    func weights(_ cp: Checkpoint, _ name: String) -> [Float] {
        let slot = cp.model.layout[name]!
        return Array(UnsafeBufferPointer(start: cp.model.parameters.pointer + slot.offset, count: slot.count))
    }

    func testKnownCharactersKeepTheirWeightsAndNewOnesAreFresh() throws {
        for embed in [8, 0] {
            let dir = scratchDirectory()
            try String(repeating: "abc cab bca acb\n", count: 200).write(toFile: dir + "/old.txt", atomically: true, encoding: .utf8)
            try String(repeating: "abz zxa bcx xyz\n", count: 200).write(toFile: dir + "/new.txt", atomically: true, encoding: .utf8)
            var o = smallTrainingOptions(dir + "/old.txt", dir + "/old")
            o.embed = embed
            o.maxSteps = 30
            _ = try Trainer(options: o).run()
            let old = try Checkpoint.load(dir + "/old/latest.safetensors")

            var f = smallTrainingOptions(dir + "/new.txt", dir + "/new")
            f.hidden = 99  // the checkpoint's shape wins
            f.maxSteps = 1
            f.learningRate = 1e-12  // one update too small to move a weight: the start is what is compared
            do {  // the run's lock goes with it
                let trainer = try Trainer(options: f, fineTuning: try FineTuning(from: dir + "/old"))
                XCTAssertEqual(trainer.options.hidden, old.model.config.hidden)
                XCTAssertEqual(trainer.options.initFrom, AbsolutePath.of(dir + "/old"))
                _ = try trainer.run()
            }
            let new = try Checkpoint.load(dir + "/new/latest.safetensors")
            XCTAssertEqual(new.vocabulary.scalars.map { String($0) }.joined(), "\n abcxyz", "the old characters and the new")
            for name in ["rnn.weight_hh_l0", "rnn.bias_ih_l1", "rnn.weight_ih_l1"] {
                assertClose(weights(new, name), weights(old, name), rtol: 0, atol: 1e-6, "embed \(embed): \(name)")
            }
            let rowed = embed > 0 ? ["embedding.weight", "decoder.weight"] : ["decoder.weight"]
            for name in rowed {
                let width = new.model.layout[name]!.shape[1]
                let o = weights(old, name), n = weights(new, name)
                for (i, c) in old.vocabulary.scalars.enumerated() {
                    let j = Int(new.vocabulary.id(of: c)!)
                    assertClose(Array(n[j * width..<(j + 1) * width]), Array(o[i * width..<(i + 1) * width]), rtol: 0, atol: 1e-6,
                                "embed \(embed): \(name) row of \(c)")
                }
                for c in "xyz".unicodeScalars {
                    let j = Int(new.vocabulary.id(of: c)!)
                    XCTAssertTrue(n[j * width..<(j + 1) * width].contains { $0 != 0 }, "\(name): \(c) starts as a fresh row")
                }
            }
            if embed == 0 {
                // One-hot input: layer 0's input weights have a column per character.
                let rows = new.model.layout["rnn.weight_ih_l0"]!.shape[0]
                let o = weights(old, "rnn.weight_ih_l0"), n = weights(new, "rnn.weight_ih_l0")
                let oldV = old.vocabulary.count, newV = new.vocabulary.count
                for (i, c) in old.vocabulary.scalars.enumerated() {
                    let j = Int(new.vocabulary.id(of: c)!)
                    for r in 0..<rows { XCTAssertEqual(n[r * newV + j], o[r * oldV + i], accuracy: 1e-6) }
                }
            }
            // A fine-tuned run resumes like any other.
            let resumed = try Trainer(resumeFrom: dir + "/new") { $0.maxSteps = 3 }
            XCTAssertEqual(try resumed.run().step, 3)
        }
    }
}
