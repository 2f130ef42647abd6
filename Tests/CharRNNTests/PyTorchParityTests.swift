import CharRNN
import XCTest

/// Logits, loss, gradients and optimizer steps against PyTorch (fixtures from Tests/parity/make_fixtures.py).
final class PyTorchParityTests: XCTestCase {
    let cases = ["lstm_2x7_e6", "gru_2x7_e6", "rnn_tanh_1x9_onehot", "rnn_relu_2x8_e5", "lstm_1x6_onehot"]

    struct Fixture {
        let checkpoint: Checkpoint
        let tensors: [String: SafeTensors.Tensor]
        let T: Int, B: Int
        let inputs: [Int32], targets: [Int32]
    }

    func load(_ name: String) throws -> Fixture {
        let path = fixturesDirectory() + "/\(name).safetensors"
        let cp = try Checkpoint.load(path)
        let file = try SafeTensors.decode(try TextFile.readBytes(path), path: path)
        let x = file.tensors["fixture.inputs"]!
        return Fixture(checkpoint: cp, tensors: file.tensors, T: x.shape[0], B: x.shape[1],
                       inputs: x.values.map { Int32($0) }, targets: file.tensors["fixture.targets"]!.values.map { Int32($0) })
    }

    override func tearDown() { BLAS.setThreads(1) }

    /// Run with one thread and with the work split over two (batch parts, split products and copies:
    /// the fixtures are small enough to run on one thread unless told to share everything).
    func testLogitsLossAndGradients() throws {
        try onOneAndTwoThreads { try logitsLossAndGradients() }
    }

    func testOptimizersMatchTorchOptim() throws {
        try onOneAndTwoThreads { try optimizersMatchTorchOptim() }
    }

    private func onOneAndTwoThreads(_ body: () throws -> Void) throws {
        BLAS.setThreads(1)
        try body()
        BLAS.setThreads(2)
        try Parallel.sharingEverything(body)
    }

    func logitsLossAndGradients() throws {
        for name in cases {
            let f = try load(name)
            let model = f.checkpoint.model
            let state = model.hiddenState(batch: f.B)
            var rng = RandomGenerator(seed: 0)
            f.inputs.withUnsafeBufferPointer { x in
                _ = model.forward(x.baseAddress!, T: f.T, B: f.B, state: state, training: false, rng: &rng)
            }
            assertClose(model.logits.array.prefix(f.T * f.B * model.config.vocabSize).map { $0 },
                        f.tensors["fixture.logits"]!.values, rtol: 1e-4, atol: 1e-5, "\(name) logits")
            state.reset()
            let loss = f.inputs.withUnsafeBufferPointer { x in
                f.targets.withUnsafeBufferPointer { y in
                    model.lossAndGradients(x.baseAddress!, targets: y.baseAddress!, T: f.T, B: f.B, state: state, rng: &rng)
                }
            }
            XCTAssertEqual(loss, Double(f.tensors["fixture.loss"]!.values[0]), accuracy: 1e-4 * loss, "\(name) loss")
            for slot in model.layout.slots {
                assertClose(model.gradient(slot.name), f.tensors["grad." + slot.name]!.values,
                            rtol: 1e-4, atol: 1e-6, "\(name) grad \(slot.name)")
            }
        }
    }

    func optimizersMatchTorchOptim() throws {
        for name in cases {
            let f = try load(name)
            let model = f.checkpoint.model
            let initial = model.parameters.array
            let settings: [(OptimizerKind, Float, Float)] = [(.sgd, 0.1, 0.9), (.adam, 0.01, 0), (.adamw, 0.01, 0),
                                                             (.rmsprop, 0.01, 0), (.adagrad, 0.1, 0)]
            for (kind, lr, momentum) in settings {
                for i in 0..<initial.count { model.parameters[i] = initial[i] }
                let opt = Optimizer(kind: kind, count: model.parameterCount)
                opt.momentum = momentum
                opt.weightDecay = 0.1
                for _ in 0..<3 {
                    let state = model.hiddenState(batch: f.B)
                    var rng = RandomGenerator(seed: 0)
                    _ = f.inputs.withUnsafeBufferPointer { x in
                        f.targets.withUnsafeBufferPointer { y in
                            model.lossAndGradients(x.baseAddress!, targets: y.baseAddress!, T: f.T, B: f.B, state: state, rng: &rng)
                        }
                    }
                    GradientClipping.clipGlobalNorm(model.gradients, maxNorm: 0.5)
                    opt.update(parameters: model.parameters, gradients: model.gradients, learningRate: lr)
                }
                for slot in model.layout.slots {
                    assertClose(model.slot(slot.name), f.tensors["after.\(kind.rawValue).\(slot.name)"]!.values,
                                rtol: 2e-4, atol: 2e-5, "\(name) \(kind) \(slot.name)")
                }
            }
        }
    }

    /// The learning rate of every update against torch.optim.lr_scheduler (StepLR, CosineAnnealingLR,
    /// and LinearLR warmup before either through SequentialLR).
    func testLearningRateSchedulesMatchTorch() throws {
        let url = URL(fileURLWithPath: fixturesDirectory() + "/lr_schedules.json")
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let base = try XCTUnwrap(root["base"] as? Double)
        let cases = try XCTUnwrap(root["cases"] as? [String: [String: Any]])
        XCTAssertEqual(cases.count, 4)
        for (name, c) in cases {
            let kind: LRScheduleKind = name.hasPrefix("cosine") ? .cosine : .step
            let schedule = LearningRateSchedule(base: base, kind: kind, decay: c["decay"] as! Double,
                                                decayEvery: c["decay_every"] as! Int, warmup: c["warmup"] as! Int,
                                                total: c["total"] as? Int)
            let rates = try XCTUnwrap(c["rates"] as? [Double])
            for (s, expected) in rates.enumerated() {
                XCTAssertEqual(schedule.rate(update: s), expected, accuracy: 1e-9 + 1e-6 * expected, "\(name) update \(s)")
            }
        }
    }

    /// The rate after each validation loss against torch.optim.lr_scheduler.ReduceLROnPlateau: ties,
    /// improvements below the 1e-4 relative threshold (which add up to one), a NaN, and a stall long
    /// enough to reach the 1e-8 smallest reduction.
    func testPlateauScheduleMatchesTorch() throws {
        let url = URL(fileURLWithPath: fixturesDirectory() + "/lr_plateau.json")
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let base = try XCTUnwrap(root["base"] as? Double)
        let cases = try XCTUnwrap(root["cases"] as? [String: [String: Any]])
        XCTAssertEqual(cases.count, 3)
        for (name, c) in cases {
            let schedule = LearningRateSchedule(base: base, kind: .plateau, decay: try XCTUnwrap(c["factor"] as? Double))
            let patience = try XCTUnwrap(c["patience"] as? Int)
            let losses = try XCTUnwrap(c["losses"] as? [Any]).map { ($0 as? Double) ?? .nan }
            let rates = try XCTUnwrap(c["rates"] as? [Double])
            XCTAssertEqual(losses.count, rates.count)
            var plateau = PlateauState()
            for (k, (loss, expected)) in zip(losses, rates).enumerated() {
                plateau.record(loss, patience: patience, schedule: schedule)
                let rate = schedule.rate(update: 1000, reductions: plateau.reductions)
                XCTAssertEqual(rate, expected, accuracy: 1e-12 * base, "\(name) after loss \(k)")
            }
        }
    }

    /// WeightAverage against torch.optim.swa_utils.AveragedModel(get_ema_multi_avg_fn(0.75)): the first
    /// update copies, each later one is torch.lerp toward the parameters.
    func testWeightAverageMatchesTorch() throws {
        let url = URL(fileURLWithPath: fixturesDirectory() + "/weight_average.json")
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let decay = try XCTUnwrap(root["decay"] as? Double)
        let params = try XCTUnwrap(root["parameters"] as? [[Double]]), averages = try XCTUnwrap(root["averages"] as? [[Double]])
        XCTAssertEqual(params.count, 6)
        let average = WeightAverage(decay: decay, count: params[0].count)
        for (k, (p, expected)) in zip(params, averages).enumerated() {
            average.update(from: FloatBuffer(p.map { Float($0) }))
            XCTAssertEqual(average.updates, k + 1)
            for (got, want) in zip(average.values.array, expected) {
                XCTAssertEqual(Double(got), want, accuracy: 1e-6 * max(1, abs(want)), "after update \(k + 1)")
            }
        }
        XCTAssertNotEqual(averages[5], params[5], "the average lags the parameters")
    }
}
