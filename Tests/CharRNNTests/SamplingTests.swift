import CCharRNNKernels
import CharRNN
import XCTest

final class SamplingTests: XCTestCase {
    func sampler() -> Sampler {
        let vocab = Vocabulary(scalarsOf: "abcdefgh \n".unicodeScalars)
        let model = randomModel(ModelConfig(cell: .lstm, layers: 2, hidden: 16, embed: 8, vocabSize: vocab.count), seed: 3)
        return Sampler(model: model, vocabulary: vocab, startCharacter: "\n")
    }

    func testSameSeedSameText() throws {
        let s = sampler()
        var r1 = RandomGenerator(seed: 42), r2 = RandomGenerator(seed: 42), r3 = RandomGenerator(seed: 43)
        let a = try s.generate(prime: "abc", length: 200, options: SamplingOptions(temperature: 0.9), seed: r1.next())
        let b = try s.generate(prime: "abc", length: 200, options: SamplingOptions(temperature: 0.9), seed: r2.next())
        let c = try s.generate(prime: "abc", length: 200, options: SamplingOptions(temperature: 0.9), seed: r3.next())
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertEqual(a.unicodeScalars.count, 200)
    }

    func testTopOneIsGreedy() throws {
        let s = sampler()
        var r1 = RandomGenerator(seed: 1), r2 = RandomGenerator(seed: 2)
        let greedy = try s.generate(prime: "", length: 50, options: SamplingOptions(greedy: true), seed: r1.next())
        let top1 = try s.generate(prime: "", length: 50, options: SamplingOptions(temperature: 1.5, topK: 1), seed: r2.next())
        XCTAssertEqual(greedy, top1)
    }

    func testTopKRestrictsTheChoice() throws {
        let s = sampler()
        // At a hot temperature, many draws after the same prefix must land on at most two characters,
        // one of which is the greedy choice.
        for prefix in ["ab", "hg", "c d"] {
            var g = RandomGenerator(seed: 0)
            let best = try s.generate(prime: prefix, length: 1, options: SamplingOptions(greedy: true), seed: g.next())
            var seen = Set<Unicode.Scalar>()
            var unrestricted = Set<Unicode.Scalar>()
            for seed in 0..<60 {
                var r = RandomGenerator(seed: UInt64(seed))
                seen.formUnion(try s.generate(prime: prefix, length: 1, options: SamplingOptions(temperature: 3, topK: 2), seed: r.next()).unicodeScalars)
                var r2 = RandomGenerator(seed: UInt64(seed))
                unrestricted.formUnion(try s.generate(prime: prefix, length: 1, options: SamplingOptions(temperature: 3), seed: r2.next()).unicodeScalars)
            }
            XCTAssertEqual(seen.count, 2, prefix)
            XCTAssertTrue(seen.contains(best.unicodeScalars.first!), prefix)
            XCTAssertGreaterThan(unrestricted.count, 2, "without top-k the draws spread wider")
        }
    }

    /// The k largest values stay, and of equal values at the k-th place the lowest ids: the same set as a
    /// stable sort by value (largest first) cut after k, over random values, many ties, zeros, and every k.
    func testKeepTopKKeepsTheKLargestAndTheFirstOfTies() {
        var rng = RandomGenerator(seed: 17)
        let rows: [[Float]] = [
            (0..<300).map { _ in Float(rng.nextDouble()) },
            (0..<300).map { _ in Float(Int(rng.nextDouble() * 6)) / 5 },  // six values, many ties, zeros
            (0..<300).map { _ in Float(rng.nextDouble() < 0.5 ? 0 : rng.nextDouble() * 1e-30) },  // subnormal and zero
            [0.25, 0.25, 0.25, 0.25], [1], [0, 0, 3, 0, 3],
        ]
        for row in rows {
            for k in Set([1, 2, 3, 5, 17, 150, row.count - 1, row.count, row.count + 4]) where k >= 1 {
                let order = row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }
                let kept = Set(order.prefix(k))
                let expected = row.indices.map { kept.contains($0) ? row[$0] : 0 }
                var p = row
                crn_keep_top_k(Int32(p.count), &p, Int32(k))
                XCTAssertEqual(p, expected, "k = \(k) of \(row.count)")
            }
        }
    }

    func testStopCharacterEndsTheSample() throws {
        let s = sampler()
        let text = try s.generate(prime: "", length: 500, options: SamplingOptions(temperature: 1, stop: " "), seed: 9)
        XCTAssertFalse(text.contains(" "))
        XCTAssertLessThan(text.count, 500)
    }

    func testUnknownPrimeAndBadOptionsAreErrors() {
        let s = sampler()
        XCTAssertThrowsError(try s.generate(prime: "abz", length: 5, options: SamplingOptions(), seed: 1)) {
            XCTAssertEqual("\($0)", "the prime text has characters the model never saw: 'z'")
        }
        XCTAssertThrowsError(try s.generate(prime: "a", length: 5, options: SamplingOptions(temperature: 0), seed: 1))
        XCTAssertThrowsError(try s.generate(prime: "a", length: 5, options: SamplingOptions(topK: 0), seed: 1))
    }

    /// Frozen inference steps (weights packed once, one kernel whatever the batch) give each row exactly
    /// the logits and states it gets when stepped alone: batching changes no one's text. Every cell, one-hot
    /// and embedded input. They also agree with the ordinary path to rounding.
    func testFrozenStepsDoNotDependOnTheBatch() {
        for (cell, embed, B) in [(CellKind.lstm, 8, 5), (.gru, 0, 5), (.rnnTanh, 8, 5), (.lstm, 0, 5), (.lstm, 8, 100)] {
            let config = ModelConfig(cell: cell, layers: 2, hidden: 40, embed: embed, vocabSize: 11)
            let model = randomModel(config, seed: 4)
            var noDropout = RandomGenerator(seed: 0)
            let batchState = model.hiddenState(batch: B), plainState = model.hiddenState(batch: B)
            let alone = (0..<B).map { _ in model.hiddenState(batch: 1) }
            for step in 0..<4 {
                let ids = randomIds(B, vocab: 11, seed: UInt64(10 + step))
                model.thaw()
                let p = ids.withUnsafeBufferPointer { model.forward($0.baseAddress!, T: 1, B: B, state: plainState, training: false, rng: &noDropout) }
                let plain = Array(UnsafeBufferPointer(start: p, count: B * 11))
                model.freezeForInference()
                let b = ids.withUnsafeBufferPointer { model.forward($0.baseAddress!, T: 1, B: B, state: batchState, training: false, rng: &noDropout) }
                let batched = Array(UnsafeBufferPointer(start: b, count: B * 11))
                assertClose(batched, plain, rtol: 1e-4, atol: 1e-5, "\(cell) frozen vs ordinary")
                for r in 0..<B {
                    var id = ids[r]
                    let l = model.forward(&id, T: 1, B: 1, state: alone[r], training: false, rng: &noDropout)
                    XCTAssertEqual(Array(UnsafeBufferPointer(start: l, count: 11)), Array(batched[(r * 11)..<(r * 11 + 11)]),
                                   "\(cell) E\(embed) step \(step) row \(r)")
                }
            }
            // The states too: row r of the batch state equals stream r's own state.
            let H = config.hidden, S = config.cell.stateCount
            for r in 0..<B {
                for l in 0..<config.layers {
                    for k in 0..<S {
                        let batchRow = Array(UnsafeBufferPointer(start: batchState.blocks[l].pointer + (k * B + r) * H, count: H))
                        let own = Array(UnsafeBufferPointer(start: alone[r].blocks[l].pointer + k * H, count: H))
                        XCTAssertEqual(batchRow, own, "\(cell) state layer \(l) row \(r)")
                    }
                }
            }
        }
    }
}
