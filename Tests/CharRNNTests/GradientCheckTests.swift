import CharRNN
import XCTest

/// Analytic gradients of every cell against central finite differences, over several timesteps,
/// from a non-zero initial state, one and two layers, with dropout off and with a fixed dropout mask
/// (the same seed before every forward gives the same mask).
final class GradientCheckTests: XCTestCase {
    /// With more rows (T*B = 12) than characters the embedding is folded into layer 0's input product;
    /// with a larger vocabulary it is not: `vocabulary` picks which path is checked.
    func check(_ cell: CellKind, layers: Int, embed: Int, dropout: Double, vocabulary: Int = 7,
               regularization: CharRNNModel.Regularization = .init(),
               file: StaticString = #filePath, line: UInt = #line) {
        let V = vocabulary, H = 5, T = 4, B = 3
        let config = ModelConfig(cell: cell, layers: layers, hidden: H, embed: embed, vocabSize: V, dropout: dropout)
        let model = randomModel(config, seed: 11, scale: 1.5)
        model.regularization = regularization
        let inputs = randomIds(T * B, vocab: V, seed: 12), targets = randomIds(T * B, vocab: V, seed: 13)
        let state = model.hiddenState(batch: B)
        var srng = RandomGenerator(seed: 14)
        let h0 = (0..<state.valueCount).map { _ in srng.nextFloat() - 0.5 }

        state.load(h0)
        var rng = RandomGenerator(seed: 99)
        _ = inputs.withUnsafeBufferPointer { x in
            targets.withUnsafeBufferPointer { y in
                model.lossAndGradients(x.baseAddress!, targets: y.baseAddress!, T: T, B: B, state: state, rng: &rng)
            }
        }
        let analytic = model.gradients.array

        func loss() -> Double {
            state.load(h0)
            var rng = RandomGenerator(seed: 99)
            return model.meanLoss(inputs, targets, T: T, B: B, state: state, rng: &rng, training: true)
        }
        // ReLU has a kink at 0: a smaller step keeps the differences on one side of it.
        let eps: Float = cell == .rnnRelu ? 1e-3 : 1e-2
        let check = finiteDifferences(model.parameters, analytic: analytic, step: eps, loss: loss)
        var worst = 0.0, worstName = ""
        for slot in model.layout.slots {
            for j in 0..<slot.count {
                let a = Double(analytic[slot.offset + j]), numeric = check.numeric[slot.offset + j]
                let err = abs(a - numeric) / (abs(a) + abs(numeric) + 1e-3)
                if err > worst { worst = err; worstName = "\(slot.name)[\(j)] analytic \(a) numeric \(numeric)" }
            }
        }
        let relative = check.relativeError
        XCTAssertLessThan(relative, 2e-3, "\(cell) L\(layers) E\(embed) dropout \(dropout): overall", file: file, line: line)
        XCTAssertLessThan(worst, 5e-2, "\(cell) L\(layers) E\(embed) dropout \(dropout): worst \(worstName)", file: file, line: line)
    }

    func testLSTM() {
        check(.lstm, layers: 1, embed: 4, dropout: 0)
        check(.lstm, layers: 2, embed: 4, dropout: 0)
        check(.lstm, layers: 2, embed: 0, dropout: 0)
        check(.lstm, layers: 2, embed: 4, dropout: 0.3)
        check(.lstm, layers: 2, embed: 4, dropout: 0, vocabulary: 16)
    }

    func testGRU() {
        check(.gru, layers: 1, embed: 4, dropout: 0)
        check(.gru, layers: 2, embed: 4, dropout: 0)
        check(.gru, layers: 1, embed: 0, dropout: 0)
        check(.gru, layers: 2, embed: 4, dropout: 0.3)
        check(.gru, layers: 1, embed: 4, dropout: 0, vocabulary: 16)
    }

    func testTanhRNN() {
        check(.rnnTanh, layers: 1, embed: 4, dropout: 0)
        check(.rnnTanh, layers: 2, embed: 0, dropout: 0)
        check(.rnnTanh, layers: 2, embed: 4, dropout: 0.3)
        check(.rnnTanh, layers: 1, embed: 4, dropout: 0, vocabulary: 16)
    }

    func testReluRNN() {
        check(.rnnRelu, layers: 1, embed: 4, dropout: 0)
        check(.rnnRelu, layers: 2, embed: 4, dropout: 0)
        check(.rnnRelu, layers: 2, embed: 0, dropout: 0.3)
    }

    /// AWD-LSTM's regularisers with fixed masks: weight drop (W_hh masked), embedding dropout (folded
    /// into layer 0's product with V = 7, not folded with V = 16) and variational dropout.
    func testRegularisers() {
        let weightDrop = CharRNNModel.Regularization(weightDrop: 0.4)
        let embedDrop = CharRNNModel.Regularization(embedDropout: 0.4)
        let variational = CharRNNModel.Regularization(variational: true)
        let all = CharRNNModel.Regularization(weightDrop: 0.3, embedDropout: 0.3, variational: true)
        check(.lstm, layers: 2, embed: 4, dropout: 0, regularization: weightDrop)
        check(.gru, layers: 1, embed: 4, dropout: 0, regularization: weightDrop)
        check(.rnnTanh, layers: 2, embed: 0, dropout: 0, regularization: weightDrop)
        check(.lstm, layers: 1, embed: 4, dropout: 0, regularization: embedDrop)
        check(.lstm, layers: 1, embed: 4, dropout: 0, vocabulary: 16, regularization: embedDrop)
        check(.gru, layers: 2, embed: 4, dropout: 0.3, regularization: variational)
        check(.lstm, layers: 2, embed: 4, dropout: 0.3, regularization: all)
        check(.lstm, layers: 2, embed: 4, dropout: 0.3, vocabulary: 16, regularization: all)
    }

    /// The masks really drop: dropped W_hh entries get no gradient, a dropped character's embedding row
    /// gets none, and the weights the model keeps are never masked in place.
    func testRegularisersDropWhatTheySay() {
        let config = ModelConfig(cell: .lstm, layers: 1, hidden: 6, embed: 4, vocabSize: 16, dropout: 0.5)
        let model = randomModel(config, seed: 3)
        model.regularization = .init(weightDrop: 0.5, embedDropout: 0.5, variational: true)
        let T = 5, B = 2
        let x = [Int32](repeating: 3, count: T * B), y = randomIds(T * B, vocab: 16, seed: 4)
        var sawDropped = false
        for seed in UInt64(0)..<20 {
            var rng = RandomGenerator(seed: seed)
            _ = x.withUnsafeBufferPointer { xp in
                y.withUnsafeBufferPointer {
                    model.lossAndGradients(xp.baseAddress!, targets: $0.baseAddress!, T: T, B: B,
                                           state: model.hiddenState(batch: B), rng: &rng)
                }
            }
            let embedding = model.gradient("embedding.weight")
            if embedding[12..<16].allSatisfy({ $0 == 0 }) { sawDropped = true }  // row 3: the only character read
            let whh = model.gradient("rnn.weight_hh_l0")
            XCTAssertGreaterThan(whh.filter { $0 == 0 }.count, whh.count / 4, "about half of W_hh is dropped")
        }
        XCTAssertTrue(sawDropped, "in 20 minibatches the one character is dropped at least once")
        let before = model.parameters.array
        var rng = RandomGenerator(seed: 1)
        _ = model.meanLoss(x, y, T: T, B: B, state: model.hiddenState(batch: B), rng: &rng, training: true)
        XCTAssertEqual(model.parameters.array, before, "a training forward leaves the kept weights as they were")
    }

    /// The same checks with the batch, the products and the copies split over two threads (sizes this
    /// small run on one thread unless told to share everything).
    func testSplitOverTwoThreads() {
        BLAS.setThreads(2)
        defer { BLAS.setThreads(1) }
        Parallel.sharingEverything {
            check(.lstm, layers: 2, embed: 4, dropout: 0.3)
            check(.gru, layers: 2, embed: 0, dropout: 0)
            check(.rnnTanh, layers: 2, embed: 4, dropout: 0)
        }
    }

    /// The check itself must fail when a gradient is wrong.
    func testCheckDetectsAWrongGradient() {
        let config = ModelConfig(cell: .lstm, layers: 1, hidden: 3, embed: 2, vocabSize: 4)
        let model = randomModel(config, seed: 1)
        let x = randomIds(6, vocab: 4, seed: 2), y = randomIds(6, vocab: 4, seed: 3)
        let state = model.hiddenState(batch: 2)
        var rng = RandomGenerator(seed: 0)
        _ = x.withUnsafeBufferPointer { xp in
            y.withUnsafeBufferPointer { model.lossAndGradients(xp.baseAddress!, targets: $0.baseAddress!, T: 3, B: 2, state: state, rng: &rng) }
        }
        let i = model.layout["rnn.weight_hh_l0"]!.offset
        let analytic = Double(model.gradients[i])
        let saved = model.parameters[i]
        func loss() -> Double { state.reset(); return model.meanLoss(x, y, T: 3, B: 2, state: state, rng: &rng, training: false) }
        model.parameters[i] = saved + 1e-2; let up = loss()
        model.parameters[i] = saved - 1e-2; let down = loss()
        let numeric = (up - down) / 2e-2
        XCTAssertEqual(analytic, numeric, accuracy: 1e-3)
        XCTAssertGreaterThan(abs(analytic * 1.5 - numeric), 1e-4, "a 50% error must be visible")
    }
}
