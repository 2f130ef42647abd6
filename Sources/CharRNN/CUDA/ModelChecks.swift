/// DeviceModel, DeviceTrainingStep and DeviceClassifierModel against CharRNNModel, Optimizer and
/// ClassifierModel on the CPU, on any device: the loss, every gradient, the carried state and the logits
/// of each cell (with an embedding and one-hot, from a non-zero state, at a small odd size and at
/// char-rnn's default size; a conditional model with each stream's category after the character; in
/// inference also with layer 0's input product folded into a table looked up by id), dropout, weight
/// drop and embedding dropout (whose masks are the same on both sides), three updates of each optimizer
/// with clipping, and the classifier (one and two directions, and with dropout). The tests run
/// it on the emulated device; `charrnn devices --check` on a GPU. Each outcome passes within the tolerance
/// of the device's precision (1e-4 relative in fp32).
package enum ModelChecks {
    package static func run(on device: ComputeDevice, large: Bool = true) throws -> [KernelChecks.Outcome] {
        var outcomes: [KernelChecks.Outcome] = []
        for cell in CellKind.allCases {
            for embed in [6, 0] {
                outcomes.append(try compare(cell, layers: 2, hidden: 17, embed: embed, vocabulary: 11, T: 5, B: 3, on: device))
            }
        }
        for embed in [6, 0] {
            outcomes.append(try compare(.gru, layers: 1, hidden: 13, embed: embed, vocabulary: 11, categories: 4, T: 5, B: 3, on: device))
        }
        for (cell, variational) in [(CellKind.lstm, false), (.gru, true)] {
            let regularization = CharRNNModel.Regularization(weightDrop: 0.3, embedDropout: 0.2, variational: variational)
            outcomes.append(try compare(cell, layers: 2, hidden: 17, embed: 6, vocabulary: 11, T: 5, B: 3,
                                        dropout: 0.3, regularization: regularization, on: device))
        }
        if large {
            outcomes.append(try compare(.lstm, layers: 2, hidden: 128, embed: 64, vocabulary: 65, T: 50, B: 50, on: device))
            outcomes.append(try compare(.gru, layers: 2, hidden: 256, embed: 64, vocabulary: 65, T: 20, B: 64, on: device))
        }
        // With rounded products, an adaptive optimizer turns a near-zero gradient's rounding into a whole
        // step (Adam divides by the gradient's own size), so the updates are compared in fp32 only.
        if device.precision == .fp32 {
            for kind in OptimizerKind.allCases { outcomes.append(try steps(kind, on: device)) }
        }
        for (cell, embed, bidirectional, dropout) in [(CellKind.gru, 5, true, 0.0), (.lstm, 0, true, 0), (.rnnTanh, 5, false, 0),
                                                      (.lstm, 4, true, 0.3)] {
            outcomes.append(try classifier(cell, embed: embed, bidirectional: bidirectional, dropout: dropout, on: device))
        }
        if device.precision == .fp32 {
            outcomes.append(try capturedGeneration(on: device))
            outcomes.append(try capturedTraining(on: device))
        }
        return outcomes
    }

    /// Training steps replayed from a captured graph against the same steps launched one by one: the
    /// same losses, norms and parameters, with dropout, weight drop, embedding dropout, clipping and a
    /// learning rate that changes every step, so every per-step value must come from the host's copies
    /// rather than from what the capture saw. (Bit for bit on the emulated device; within 1e-5 relative
    /// on a GPU, where cuBLAS may pick another algorithm inside a capture. A value baked in by the
    /// capture is off by far more.)
    static func capturedTraining(on device: ComputeDevice) throws -> KernelChecks.Outcome {
        let config = ModelConfig(cell: .lstm, layers: 2, hidden: 24, embed: 6, vocabSize: 13, dropout: 0.2)
        let cpu = CharRNNModel(config: config)
        var rng = RandomGenerator(seed: 51)
        cpu.initializeParameters(rng: &rng)
        let T = 7, B = 4, steps = 8
        func run(graphs: Bool) throws -> (log: [(loss: Double, norm: Double)], parameters: [Float], replayed: Int, failure: String?) {
            let model = try DeviceModel(config: config, device: device)
            model.regularization.weightDrop = 0.3
            model.regularization.embedDropout = 0.1
            let training = try DeviceTrainingStep(model: model, optimizer: Optimizer(kind: .adamw, count: cpu.parameterCount))
            training.useGraphs = graphs
            try training.upload(parameters: cpu.parameters, optimizer: Optimizer(kind: .adamw, count: cpu.parameterCount))
            let state = try model.hiddenState(batch: B)
            var data = RandomGenerator(seed: 52), masks = RandomGenerator(seed: 53)
            for step in 0..<steps {
                let inputs = (0..<(T * B)).map { _ in Int32(data.nextInt(below: 13)) }
                let targets = (0..<(T * B)).map { _ in Int32(data.nextInt(below: 13)) }
                try training.step(inputs, targets: targets, T: T, B: B, state: state, rng: &masks,
                                  learningRate: 0.01 / Float(step + 1), clipNorm: 0.5, clipValue: nil)
            }
            return (try training.readLog(), try model.parameterValues(), training.replayedSteps, training.graphFailure)
        }
        let plain = try run(graphs: false), captured = try run(graphs: true)
        var worst = KernelChecks.relativeError(captured.parameters, plain.parameters, floor: 1e-3)
        for (a, b) in zip(plain.log, captured.log) {
            worst = max(worst, abs(a.loss - b.loss) / max(1, a.loss), abs(a.norm - b.norm) / max(1, a.norm))
        }
        if plain.log.count != captured.log.count { worst = .infinity }
        var name = "training: steps replayed from a captured graph give the step-by-step losses and parameters"
        if let why = captured.failure {
            name += " (capture failed: \(why))"
        } else {
            name += " (\(captured.replayed) of \(steps) steps replayed)"
        }
        // The first step runs one by one, the second is captured, and the six after it replay it too.
        let passed = worst <= 1e-5 && captured.failure == nil && (captured.replayed == steps - 1 || !device.capturesWork)
        return KernelChecks.Outcome(name: name, relativeError: passed ? worst : .infinity, passed: passed)
    }

    /// Generation with each full chunk replayed from a captured graph against the same generation
    /// launched step by step: the same text for the same seed, in a first call (captured then) and a
    /// second (replayed from the graph kept), with top-k and a prime.
    static func capturedGeneration(on device: ComputeDevice) throws -> KernelChecks.Outcome {
        let config = ModelConfig(cell: .lstm, layers: 2, hidden: 24, embed: 6, vocabSize: 11)
        let cpu = CharRNNModel(config: config)
        var rng = RandomGenerator(seed: 31)
        cpu.initializeParameters(rng: &rng)
        for i in 0..<cpu.parameterCount { cpu.parameters[i] *= 3 }
        let vocabulary = Vocabulary(scalars: Array("abcdefghij\n".unicodeScalars))
        func generator(graphs: Bool) throws -> DeviceGenerator {
            let model = try DeviceModel(config: config, device: device)
            try model.setParameters(cpu.parameters)
            let g = try DeviceGenerator(model: model, vocabulary: vocabulary, startCharacter: "a")
            g.useGraphs = graphs
            return g
        }
        let plain = try generator(graphs: false), captured = try generator(graphs: true)
        let options = SamplingOptions(temperature: 0.9, topK: 6)
        var same = true
        for seed: UInt64 in [9, 10] {
            let want = try plain.generate(prime: "abc", streams: 3, length: 5 * 8 + 3, options: options, seed: seed, chunk: 8)
            let got = try captured.generate(prime: "abc", streams: 3, length: 5 * 8 + 3, options: options, seed: seed, chunk: 8)
            same = same && got == want
        }
        var name = "generation: chunks replayed from a captured graph give the step-by-step text"
        if let why = captured.graphFailure {
            name += " (capture failed: \(why))"
        } else if !captured.useGraphs {
            name += " (this device does not capture)"
        } else {
            name += " (\(captured.replayedChunks) chunks replayed)"
        }
        // 4 of the 5 full chunks of the first call (the first runs step by step), all 5 of the second.
        let passed = same && captured.graphFailure == nil && (captured.replayedChunks == 9 || !device.capturesWork)
        return KernelChecks.Outcome(name: name, relativeError: passed ? 0 : .infinity, passed: passed)
    }

    /// The worst relative error of any one tensor of the gradients (each against its own scale).
    static func gradientError(_ got: [Float], _ want: [Float], layout: ParameterLayout) -> Double {
        layout.slots.map { slot in
            let r = slot.offset..<(slot.offset + slot.count)
            return KernelChecks.relativeError(Array(got[r]), Array(want[r]), floor: 1e-3)
        }.max() ?? 0
    }

    /// The classifier (2 layers, H=9, 4 categories, weighted loss) on both sides: logits, loss and every
    /// gradient for 3 items of 6 characters; with `dropout`, masks drawn from generators in the same state
    /// (the same masks on both sides).
    static func classifier(_ cell: CellKind, embed: Int, bidirectional: Bool, dropout: Double = 0,
                           on device: ComputeDevice) throws -> KernelChecks.Outcome {
        let config = ClassifierConfig(cell: cell, layers: 2, hidden: 9, embed: embed, bidirectional: bidirectional, vocabSize: 8,
                                      categories: 4)
        let cpu = ClassifierModel(config: config)
        var rng = RandomGenerator(seed: 81)
        cpu.initializeParameters(rng: &rng)
        for i in 0..<cpu.parameterCount { cpu.parameters[i] *= 1.5 }
        let gpu = try DeviceClassifierModel(config: config, device: device)
        try gpu.setParameters(cpu.parameters)
        let T = 6, B = 3
        let ids = (0..<(T * B)).map { _ in Int32(rng.nextInt(below: 8)) }
        let labels: [Int32] = [2, 0, 3], weights: [Float] = [0.5, 1, 2, 1.5]
        var cpuMasks = RandomGenerator(seed: 82), gpuMasks = cpuMasks
        let cpuLogits = Array(UnsafeBufferPointer(start: cpu.forward(ids, T: T, B: B, dropout: dropout, rng: &cpuMasks), count: B * 4))
        let cpuLoss = cpu.lossAndGradients(labels: labels, weights: weights)
        try gpu.forward(ids, T: T, B: B, dropout: dropout, rng: &gpuMasks)
        var worst = KernelChecks.relativeError(try device.downloadFloats(gpu.logits.pointer, count: B * 4), cpuLogits)
        let loss = try DeviceBuffer(device, count: 1, elementSize: 8)
        try gpu.lossAndGradients(labels: labels, weights: weights, lossOut: loss.pointer)
        let gpuLoss = try device.downloadDoubles(loss.pointer, count: 1)[0]
        worst = max(worst, abs(gpuLoss - cpuLoss) / max(1, abs(cpuLoss)))
        worst = max(worst, gradientError(try gpu.gradientValues(), cpu.gradients.array, layout: cpu.layout))
        let name = "classifier \(cell.rawValue) 2x9 E\(embed)\(bidirectional ? " bidirectional" : "") C4 b\(B) s\(T)"
            + "\(dropout > 0 ? " dropout \(dropout)" : ""): logits, weighted loss, gradients"
        return KernelChecks.Outcome(name: name, relativeError: worst,
                                    passed: worst <= device.precision.tolerance && cpuMasks == gpuMasks)
    }

    /// With `dropout` and `regularization`, the training step draws its masks from generators in the same
    /// state on both sides: the same masks, so the same loss, gradients and state, and both generators
    /// advanced alike.
    static func compare(_ cell: CellKind, layers: Int, hidden H: Int, embed: Int, vocabulary V: Int, categories C: Int = 0,
                        T: Int, B: Int, dropout: Double = 0, regularization: CharRNNModel.Regularization = .init(),
                        on device: ComputeDevice) throws -> KernelChecks.Outcome {
        let config = ModelConfig(cell: cell, layers: layers, hidden: H, embed: embed, vocabSize: V, dropout: dropout, categories: C)
        let cpu = CharRNNModel(config: config)
        cpu.regularization = regularization
        var rng = RandomGenerator(seed: 21)
        cpu.initializeParameters(rng: &rng)
        for i in 0..<cpu.parameterCount { cpu.parameters[i] *= 1.5 }
        let gpu = try DeviceModel(config: config, device: device)
        gpu.regularization = regularization
        try gpu.setParameters(cpu.parameters)
        let inputs = (0..<(T * B)).map { _ in Int32(rng.nextInt(below: V)) }
        let targets = (0..<(T * B)).map { _ in Int32(rng.nextInt(below: V)) }
        let categories = C > 0 ? (0..<B).map { _ in Int32(rng.nextInt(below: C)) } : nil
        let cpuState = cpu.hiddenState(batch: B)
        cpuState.load((0..<cpuState.valueCount).map { _ in rng.nextFloat() - 0.5 })
        let gpuState = try gpu.hiddenState(batch: B)
        try gpuState.load(cpuState.flattened)

        var none = RandomGenerator(seed: 1), cpuMasks = RandomGenerator(seed: 62), gpuMasks = cpuMasks
        let cpuLoss = inputs.withUnsafeBufferPointer { x in
            targets.withUnsafeBufferPointer { y in
                cpu.lossAndGradients(x.baseAddress!, targets: y.baseAddress!, T: T, B: B, state: cpuState, rng: &cpuMasks,
                                     categories: categories)
            }
        }
        try gpu.lossAndGradients(inputs, targets: targets, T: T, B: B, state: gpuState, rng: &gpuMasks, categories: categories)
        let gpuLoss = try gpu.lastLossSum() / Double(T * B)
        var worst = abs(gpuLoss - cpuLoss) / max(1, abs(cpuLoss))
        worst = max(worst, gradientError(try gpu.gradientValues(), cpu.gradients.array, layout: cpu.layout))
        worst = max(worst, KernelChecks.relativeError(try gpuState.flattened(), cpuState.flattened))
        inputs.withUnsafeBufferPointer { x in
            _ = cpu.forward(x.baseAddress!, T: T, B: B, state: cpuState, training: false, rng: &none, categories: categories)
        }
        let want = Array(UnsafeBufferPointer(start: cpu.logits.pointer, count: T * B * V))
        // One more step alone, as generation takes it (the state updated in place on the device).
        let next = Array(inputs.prefix(B))
        next.withUnsafeBufferPointer { x in
            _ = cpu.forward(x.baseAddress!, T: 1, B: B, state: cpuState, training: false, rng: &none, categories: categories)
        }
        let step = Array(UnsafeBufferPointer(start: cpu.logits.pointer, count: B * V))
        // The device both ways: layer 0 multiplying its input, and looking up its folded input product.
        let start = try gpuState.flattened()
        let folded = try gpu.foldedInputProjection()
        for table in folded == nil ? [nil] : [nil, folded] {
            try gpuState.load(start)
            try gpu.forward(inputs, T: T, B: B, state: gpuState, training: false, rng: &none, categories: categories, folded: table)
            worst = max(worst, KernelChecks.relativeError(try device.downloadFloats(gpu.logits.pointer, count: T * B * V), want))
            try gpu.forward(next, T: 1, B: B, state: gpuState, training: false, rng: &none, categories: categories, folded: table)
            worst = max(worst, KernelChecks.relativeError(try device.downloadFloats(gpu.logits.pointer, count: B * V), step))
            worst = max(worst, KernelChecks.relativeError(try gpuState.flattened(), cpuState.flattened))
        }
        let regularised = dropout > 0 || regularization != .init()
        let masks = !regularised ? "" : " dropout \(dropout)\(regularization.variational ? " variational" : ""), weight drop "
            + "\(regularization.weightDrop), embedding dropout \(regularization.embedDropout) (the same masks)"
        let name = "model \(cell.rawValue) \(layers)x\(H) E\(embed) V\(V)\(C > 0 ? " C\(C)" : "") b\(B) s\(T)\(masks): loss, gradients, state, logits, a step alone\(folded == nil ? "" : ", folded input")"
        return KernelChecks.Outcome(name: name, relativeError: worst,
                                    passed: worst <= device.precision.tolerance && cpuMasks == gpuMasks)
    }

    /// Three training steps (loss, backward, clip to norm 1, update) on both sides from the same start.
    static func steps(_ kind: OptimizerKind, on device: ComputeDevice) throws -> KernelChecks.Outcome {
        let config = ModelConfig(cell: .lstm, layers: 2, hidden: 19, embed: 5, vocabSize: 13)
        let cpu = CharRNNModel(config: config)
        var rng = RandomGenerator(seed: 41)
        cpu.initializeParameters(rng: &rng)
        let T = 6, B = 4
        let cpuOptimizer = Optimizer(kind: kind, count: cpu.parameterCount)
        let gpu = try DeviceModel(config: config, device: device)
        let training = try DeviceTrainingStep(model: gpu, optimizer: Optimizer(kind: kind, count: cpu.parameterCount))
        try training.upload(parameters: cpu.parameters, optimizer: cpuOptimizer)
        let cpuState = cpu.hiddenState(batch: B), gpuState = try gpu.hiddenState(batch: B)
        var worst = 0.0
        for step in 1...3 {
            let inputs = (0..<(T * B)).map { _ in Int32(rng.nextInt(below: 13)) }
            let targets = (0..<(T * B)).map { _ in Int32(rng.nextInt(below: 13)) }
            let lr: Float = kind == .sgd ? 0.5 : 0.01
            var none = RandomGenerator(seed: 0)
            let cpuLoss = inputs.withUnsafeBufferPointer { x in
                targets.withUnsafeBufferPointer { y in
                    cpu.lossAndGradients(x.baseAddress!, targets: y.baseAddress!, T: T, B: B, state: cpuState, rng: &none)
                }
            }
            let cpuNorm = GradientClipping.clipGlobalNorm(cpu.gradients, maxNorm: 1)
            cpuOptimizer.update(parameters: cpu.parameters, gradients: cpu.gradients, learningRate: lr)
            cpu.thaw()
            try training.step(inputs, targets: targets, T: T, B: B, state: gpuState, rng: &none, learningRate: lr, clipNorm: 1,
                              clipValue: nil)
            let (loss, norm) = try training.readLog()[0]
            worst = max(worst, abs(loss - cpuLoss) / max(1, cpuLoss), abs(norm - cpuNorm) / max(1, cpuNorm))
            _ = step
        }
        worst = max(worst, KernelChecks.relativeError(try gpu.parameterValues(), cpu.parameters.array, floor: 1e-3))
        return KernelChecks.Outcome(name: "training steps \(kind.rawValue) (3 steps, clip 1): losses, norms, parameters",
                                    relativeError: worst, passed: worst <= device.precision.tolerance)
    }
}
