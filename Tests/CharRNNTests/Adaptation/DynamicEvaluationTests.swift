import CharRNN
import XCTest

/// Dynamic evaluation: a character is scored before any step that has seen it; the steps are the
/// RMS-normalised ones with decay (checked against the same process written out from the model's
/// public pieces); the model is the trained one again afterwards; and adapting helps where it should.
final class DynamicEvaluationTests: XCTestCase {
    let config = ModelConfig(cell: .lstm, layers: 2, hidden: 8, embed: 5, vocabSize: 7)
    let settings = DynamicEvaluation.Settings(segment: 7, learningRate: 0.05, decay: 0.02, epsilon: 0.02)

    func evaluator(_ model: CharRNNModel) throws -> DynamicEvaluation {
        let statistics = try GradientStatistics.measure(model, ids: randomIds(400, vocab: 7, seed: 3), segment: 7,
                                                        streams: 3, segmentsPerStream: 5)
        XCTAssertEqual(statistics.segments, 15)
        return try DynamicEvaluation(statistics: statistics, settings: settings)
    }

    /// Two texts equal up to a character in the middle of a segment: every character before it gets the
    /// same score from both. Were a segment's step taken before its characters were scored, the
    /// characters of that segment before the change would see it.
    func testNoCharacterIsScoredAfterAStepThatSawIt() throws {
        let model = randomModel(config, seed: 11, scale: 1)
        let dynamic = try evaluator(model)
        let a = randomIds(60, vocab: 7, seed: 5)
        for changed in [24, 22, 15, 8] {
            var b = a
            for i in changed..<b.count { b[i] = (b[i] + 3) % 7 }
            let scoresA = try dynamic.evaluate(model, ids: a, characterLogprobs: true).logprobs
            let scoresB = try dynamic.evaluate(model, ids: b, characterLogprobs: true).logprobs
            // logprobs[k] scores ids[k + 1]
            XCTAssertEqual(Array(scoresA[..<(changed - 1)]), Array(scoresB[..<(changed - 1)]), "changed from \(changed)")
            XCTAssertNotEqual(scoresA[changed - 1], scoresB[changed - 1], "the changed character's own score differs")
        }
        // The first segment is scored by the trained model; the ones after by an adapted one.
        let fixed = Evaluation.characterLogprobs(of: model, ids: a, chunk: 7)
        let adapted = try dynamic.evaluate(model, ids: a, characterLogprobs: true).logprobs
        assertClose(Array(adapted[..<7]), Array(fixed[..<7]), rtol: 0, atol: 1e-6, "first segment")
        XCTAssertGreaterThan(zip(adapted[7...], fixed[7...]).map { abs($0 - $1) }.max()!, 1e-3, "later segments adapted")
    }

    /// The same process written out from the model's public training pieces: score a segment and take
    /// its gradient (lossAndGradients), then p += min(1, lambda rms / mean) (p0 - p) - lr g / (rms + eps mean).
    func testStepsAreKrauseEtAlsUpdate() throws {
        let model = randomModel(config, seed: 12, scale: 1)
        let dynamic = try evaluator(model)
        let ids = randomIds(50, vocab: 7, seed: 8)
        let trained = model.parameters.array
        let got = try dynamic.evaluate(model, ids: ids, characterLogprobs: true)
        XCTAssertEqual(model.parameters.array, trained, "the trained weights are back")

        let rms = dynamic.statistics.rms, n = rms.count
        let mean = rms.reduce(0, +) / Float(n)
        let state = model.hiddenState(batch: 1)
        var rng = RandomGenerator(seed: 0)
        var total = 0.0, pos = 0
        while pos < ids.count - 1 {
            let T = min(7, ids.count - 1 - pos)
            let x = Array(ids[pos..<pos + T]), y = Array(ids[pos + 1...pos + T])
            total += Double(T) * x.withUnsafeBufferPointer { xp in
                y.withUnsafeBufferPointer { yp in
                    model.lossAndGradients(xp.baseAddress!, targets: yp.baseAddress!, T: T, B: 1, state: state, rng: &rng, training: false)
                }
            }
            for i in 0..<n {
                let p = model.parameters[i], decay = min(1, 0.02 * rms[i] / mean)
                model.parameters[i] = p + decay * (trained[i] - p) - 0.05 * model.gradients[i] / (rms[i] + 0.02 * mean)
            }
            pos += T
        }
        XCTAssertEqual(got.report.characters, ids.count - 1)
        XCTAssertEqual(got.report.nats, total / Double(ids.count - 1), accuracy: 1e-5)
        XCTAssertEqual(-got.logprobs.reduce(0.0) { $0 + Double($1) } / Double(ids.count - 1), got.report.nats, accuracy: 1e-5)
        XCTAssertNotEqual(model.parameters.array, trained, "the written-out process moved the weights")
    }

    /// The statistics are the root mean square of single-segment gradients.
    func testStatisticsAreTheRootMeanSquareGradient() throws {
        let model = randomModel(config, seed: 13, scale: 1)
        let ids = randomIds(100, vocab: 7, seed: 9)
        let statistics = try GradientStatistics.measure(model, ids: ids, segment: 10, streams: 2, segmentsPerStream: 3)
        var sum = [Double](repeating: 0, count: model.parameterCount)
        var rng = RandomGenerator(seed: 0)
        for s in 0..<2 {
            let state = model.hiddenState(batch: 1)
            for k in 0..<3 {
                let from = s * 49 + k * 10
                let x = Array(ids[from..<from + 10]), y = Array(ids[from + 1...from + 10])
                _ = x.withUnsafeBufferPointer { xp in
                    y.withUnsafeBufferPointer { yp in
                        model.lossAndGradients(xp.baseAddress!, targets: yp.baseAddress!, T: 10, B: 1, state: state, rng: &rng, training: false)
                    }
                }
                for i in 0..<sum.count { sum[i] += Double(model.gradients[i] * model.gradients[i]) }
            }
        }
        XCTAssertEqual(statistics.segments, 6)
        assertClose(statistics.rms, sum.map { Float(($0 / 6).squareRoot()) }, rtol: 1e-5, atol: 1e-9, "rms")
    }

    /// A text that repeats a pattern the model has never seen: adapting as it reads must beat the
    /// fixed model clearly, and the more so the further it reads.
    func testAdaptingLearnsARepeatedPattern() throws {
        let model = randomModel(config, seed: 14, scale: 1)
        let statistics = try GradientStatistics.measure(model, ids: randomIds(2000, vocab: 7, seed: 4), segment: 10)
        let dynamic = try DynamicEvaluation(statistics: statistics,
                                            settings: .init(segment: 10, learningRate: 0.02, decay: 0.001, epsilon: 0.02))
        let pattern: [Int32] = [0, 3, 1, 4, 1, 5, 2, 6, 5, 3, 5]
        let ids = Array((0..<60).flatMap { _ in pattern })
        let fixed = try Evaluation.loss(of: model, ids: ids, streams: 1, chunk: 64)
        let adapted = try dynamic.evaluate(model, ids: ids)
        XCTAssertLessThan(adapted.report.nats, 0.6 * fixed.nats, "static \(fixed.nats), dynamic \(adapted.report.nats)")
    }

    func testNonsenseSettingsAndAnotherModelsStatisticsAreRefused() throws {
        let model = randomModel(config, seed: 15, scale: 1)
        let statistics = try GradientStatistics.measure(model, ids: randomIds(100, vocab: 7, seed: 1), segment: 5)
        for bad in [DynamicEvaluation.Settings(segment: 0, learningRate: 1e-4, decay: 0, epsilon: 0.1),
                    .init(segment: 5, learningRate: 0, decay: 0, epsilon: 0.1),
                    .init(segment: 5, learningRate: .nan, decay: 0, epsilon: 0.1),
                    .init(segment: 5, learningRate: 1e-4, decay: -1, epsilon: 0.1),
                    .init(segment: 5, learningRate: 1e-4, decay: 0, epsilon: 0)] {
            XCTAssertThrowsError(try DynamicEvaluation(statistics: statistics, settings: bad), "\(bad)")
        }
        let other = randomModel(ModelConfig(cell: .gru, layers: 1, hidden: 4, embed: 0, vocabSize: 7), seed: 1)
        let dynamic = try DynamicEvaluation(statistics: statistics)
        XCTAssertThrowsError(try dynamic.evaluate(other, ids: randomIds(20, vocab: 7, seed: 2))) {
            XCTAssertTrue("\($0)".contains("another model"), "\($0)")
        }
        XCTAssertThrowsError(try GradientStatistics.measure(model, ids: randomIds(5, vocab: 7, seed: 1), segment: 5))
    }
}
