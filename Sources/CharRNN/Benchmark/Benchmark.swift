import CCharRNNKernels

/// One benchmark configuration: a model shape and a workload (training steps or sampling).
package struct BenchmarkConfig: Sendable, Equatable {
    package enum Kind: String, Sendable { case train, sample }
    package var kind: Kind
    package var cell: CellKind
    package var layers: Int
    package var hidden: Int
    package var embed = 64
    package var vocab = 65
    package var batch: Int
    package var seq: Int
    package var threads: Int

    package init(_ kind: Kind, _ cell: CellKind, layers: Int, hidden: Int, batch: Int, seq: Int = 1, threads: Int,
                embed: Int = 64) {
        self.kind = kind; self.cell = cell; self.layers = layers; self.hidden = hidden
        self.batch = batch; self.seq = seq; self.threads = threads; self.embed = embed
    }

    package var name: String {
        let c = cell == .rnnTanh ? "RNN" : cell == .rnnRelu ? "RNN-relu" : cell.rawValue.uppercased()
        switch kind {
        case .train: return "train \(c) \(layers)x\(hidden) E\(embed) b\(batch) s\(seq)"
        case .sample: return "sample \(c) \(layers)x\(hidden) b\(batch)"
        }
    }

    package var model: ModelConfig {
        ModelConfig(cell: cell, layers: layers, hidden: hidden, embed: embed, vocabSize: vocab)
    }

    /// The table: char-rnn's defaults up to a 3x512 LSTM, a GRU, a one-sample RNN, and sampling.
    package static func standard(threads: Int) -> [BenchmarkConfig] {
        [
            .init(.train, .lstm, layers: 2, hidden: 128, batch: 50, seq: 50, threads: threads),
            .init(.train, .lstm, layers: 2, hidden: 256, batch: 64, seq: 100, threads: threads),
            .init(.train, .lstm, layers: 2, hidden: 512, batch: 50, seq: 50, threads: threads),
            .init(.train, .lstm, layers: 3, hidden: 512, batch: 64, seq: 128, threads: threads),
            .init(.train, .gru, layers: 2, hidden: 256, batch: 64, seq: 100, threads: threads),
            .init(.train, .rnnTanh, layers: 1, hidden: 100, batch: 1, seq: 200, threads: threads),
            .init(.sample, .lstm, layers: 2, hidden: 512, batch: 1, threads: threads),
            .init(.sample, .lstm, layers: 2, hidden: 128, batch: 1, threads: threads),
            .init(.sample, .lstm, layers: 2, hidden: 512, batch: 32, threads: threads),
        ]
    }

    /// On a GPU: the standard table plus the two large rows of the PyTorch GPU anchor
    /// (../shared/gpu/bench_torch_gpu.py), in its order.
    package static func gpu(threads: Int) -> [BenchmarkConfig] {
        let standard = Self.standard(threads: threads)
        return standard.filter { $0.kind == .train } + [
            .init(.train, .lstm, layers: 2, hidden: 1024, batch: 128, seq: 128, threads: threads),
            .init(.train, .lstm, layers: 3, hidden: 2048, batch: 256, seq: 128, threads: threads, embed: 128),
        ] + standard.filter { $0.kind == .sample } + [.init(.sample, .lstm, layers: 2, hidden: 512, batch: 256, threads: threads)]
    }
}

package struct BenchmarkResult: Sendable {
    package var config: BenchmarkConfig
    package var charactersPerSecond: Double
    package var millisecondsPerStep: Double
    package var gflops: Double
    package var peakRSSBytes: Int
    package var finalLoss: Double?
    /// Floats of activations a training step must keep (see CharRNNModel's header), in bytes.
    package var activationBytes: Int
    /// Peak device memory charrnn allocated (as torch.cuda.max_memory_allocated), on a GPU.
    package var peakDeviceBytes: Int? = nil
    /// Milliseconds per step in each phase (StepPhases), for a training row run with `phases`.
    package var phaseMilliseconds: [StepPhases.Phase: Double]? = nil
    /// On a GPU with `phases`: each operation's calls and GPU milliseconds per step.
    package var operations: [OperationTime]? = nil
}

/// One kind of operation of a training step on a GPU (`bench --phases --device cuda`).
package struct OperationTime: Sendable {
    package var name: String
    package var callsPerStep: Double
    package var millisecondsPerStep: Double
    /// Floating-point operations per call (a product's; 0 for the rest).
    package var flopsPerCall: Double
}

package enum Benchmark {
    /// Trains (Adam, clip 5, sequential batches of random ids, state carried) or samples (temperature 0.8)
    /// after a few untimed warm-up steps, for at least `seconds` and `minSteps` steps.
    /// With `device`, a training row runs its whole step there (DeviceTrainingStep) and a sampling row
    /// generates there (DeviceGenerator).
    /// `phases`: a training row also times each phase of its steps (StepPhases) and, on a GPU, each
    /// operation; the GPU's step is then launched operation by operation, not replayed from a graph.
    package static func run(_ c: BenchmarkConfig, seconds: Double = 3, minSteps: Int = 5, text: [Int32]? = nil,
                           device: CUDADevice? = nil, phases: Bool = false) throws -> BenchmarkResult {
        BLAS.setThreads(c.threads)
        var config = c.model
        if let text { config.vocabSize = Int(text.max()!) + 1 }
        let model = CharRNNModel(config: config)
        var rng = RandomGenerator(seed: 1)
        model.initializeParameters(rng: &rng)
        let state = model.hiddenState(batch: c.batch)
        let V = config.vocabSize
        if let device { return try runOnDevice(c, config: config, model: model, device: device, seconds: seconds,
                                               minSteps: minSteps, text: text, phases: phases) }
        switch c.kind {
        case .train:
            let T = c.seq, B = c.batch
            let ids = text ?? randomIds(B: B, T: T, V: V, rng: &rng)
            var batches = try! BatchSource(ids: ids, batch: B, steps: T, mode: .sequential, name: "bench")
            let opt = Optimizer(kind: .adam, count: model.parameterCount)
            var x = [Int32](repeating: 0, count: B * T), y = x
            var loss = 0.0
            func step() {
                if batches.next(inputs: &x, targets: &y, rng: &rng) { state.reset() }
                loss = x.withUnsafeBufferPointer { xp in
                    y.withUnsafeBufferPointer { model.lossAndGradients(xp.baseAddress!, targets: $0.baseAddress!, T: T, B: B, state: state, rng: &rng) }
                }
                StepPhases.mark(.update)
                GradientClipping.clipGlobalNorm(model.gradients, maxNorm: 5)
                opt.update(parameters: model.parameters, gradients: model.gradients, learningRate: 2e-3)
                StepPhases.mark(.other)
            }
            for _ in 0..<3 { step() }
            if phases { StepPhases.start() }
            let (n, dt) = timed(seconds: seconds, minSteps: minSteps, step)
            let phaseMilliseconds = phases ? try StepPhases.stop().mapValues { 1000 * $0 / Double(n) } : nil
            let cps = Double(n * B * T) / dt
            return BenchmarkResult(config: c, charactersPerSecond: cps, millisecondsPerStep: 1000 * dt / Double(n),
                                   gflops: cps * Double(3 * config.forwardFlopsPerCharacter) / 1e9,
                                   peakRSSBytes: peakResidentBytes(), finalLoss: loss,
                                   activationBytes: 4 * (MemoryEstimate.activationFloats(config, T: T, B: B) ?? 0),
                                   phaseMilliseconds: phaseMilliseconds)
        case .sample:
            let B = c.batch
            let sampler = Sampler(model: model, vocabulary: Vocabulary(scalars: (0..<V).map { Unicode.Scalar(UInt8(32 + $0 % 90)) }),
                                  startCharacter: " ")
            var tokens = [Int32](repeating: 0, count: B)
            let options = SamplingOptions(temperature: 0.8)
            var noDropout = RandomGenerator(seed: 0)
            var draws = (0..<B).map { StreamDraws(seed: 1, stream: $0) }
            func step() {
                let logits = tokens.withUnsafeBufferPointer {
                    model.forward($0.baseAddress!, T: 1, B: B, state: state, training: false, rng: &noDropout)
                }
                for b in 0..<B {
                    tokens[b] = sampler.choose(logits: logits + b * V, options: options, draw: draws[b].current)
                    draws[b].advance()
                }
            }
            for _ in 0..<20 { step() }
            let (n, dt) = timed(seconds: seconds, minSteps: max(minSteps, 50), step)
            let cps = Double(n * B) / dt
            return BenchmarkResult(config: c, charactersPerSecond: cps, millisecondsPerStep: 1000 * dt / Double(n),
                                   gflops: cps * Double(config.forwardFlopsPerCharacter) / 1e9,
                                   peakRSSBytes: peakResidentBytes(), finalLoss: nil, activationBytes: 0)
        }
    }

    /// A training row on a GPU: the trainer's step (DeviceTrainingStep), its losses and norms read back
    /// whenever the log of them is full, and at the end.
    private static func runOnDevice(_ c: BenchmarkConfig, config: ModelConfig, model: CharRNNModel, device: CUDADevice,
                                    seconds: Double, minSteps: Int, text: [Int32]?, phases: Bool) throws -> BenchmarkResult {
        if c.kind == .sample { return try sampleOnDevice(c, config: config, model: model, device: device, seconds: seconds) }
        var rng = RandomGenerator(seed: 2)
        let T = c.seq, B = c.batch, V = config.vocabSize
        let ids = text ?? randomIds(B: B, T: T, V: V, rng: &rng)
        var batches = try BatchSource(ids: ids, batch: B, steps: T, mode: .sequential, name: "bench")
        let deviceModel = try DeviceModel(config: config, device: device)
        let opt = Optimizer(kind: .adam, count: model.parameterCount)
        let training = try DeviceTrainingStep(model: deviceModel, optimizer: opt)
        // A graph's replay has no marks between its operations.
        if phases { training.useGraphs = false }
        try training.upload(parameters: model.parameters, optimizer: opt)
        let state = try deviceModel.hiddenState(batch: B)
        var x = [Int32](repeating: 0, count: B * T), y = x
        var loss = 0.0
        func step() throws {
            if batches.next(inputs: &x, targets: &y, rng: &rng) { try state.reset() }
            try training.step(x, targets: y, T: T, B: B, state: state, rng: &rng, learningRate: 2e-3, clipNorm: 5, clipValue: nil)
            if training.logIsFull { loss = try training.readLog().last?.loss ?? loss }
        }
        for _ in 0..<3 { try step() }
        device.resetPeak()
        var operations: CUDAIntervals<DeviceOperation>? = nil
        if phases {
            try device.synchronize()  // the warm-up's work is not the first timed phase's
            operations = CUDAIntervals(device: device)
            device.operationTimes = operations
            StepPhases.start(clock: try CUDAPhaseClock(device: device))
        }
        defer { device.operationTimes = nil }
        // The steps are queued without waiting; the time ends when the last one has finished.
        let (n, dt) = try timed(seconds: seconds, minSteps: minSteps, step) { loss = try training.readLog().last?.loss ?? loss }
        let cps = Double(n * B * T) / dt
        var result = BenchmarkResult(config: c, charactersPerSecond: cps, millisecondsPerStep: 1000 * dt / Double(n),
                                     gflops: cps * Double(3 * config.forwardFlopsPerCharacter) / 1e9,
                                     peakRSSBytes: peakResidentBytes(), finalLoss: loss,
                                     activationBytes: 4 * (MemoryEstimate.activationFloats(config, T: T, B: B) ?? 0), peakDeviceBytes: device.peakAllocatedBytes)
        if let operations {
            let steps = Double(n)
            result.phaseMilliseconds = try StepPhases.stop().mapValues { 1000 * $0 / steps }
            result.operations = try operations.totals().map { op, total in
                OperationTime(name: op.name, callsPerStep: Double(total.count) / steps,
                              millisecondsPerStep: 1000 * total.seconds / steps, flopsPerCall: op.flops)
            }.sorted { $0.millisecondsPerStep > $1.millisecondsPerStep }
        }
        return result
    }

    /// A sampling row on a GPU: DeviceGenerator drawing 200 characters per stream per call (temperature
    /// 0.8), its characters copied back every 50 steps, as `sample` streams them; each chunk of 50 steps
    /// is replayed from the graph the generator captured.
    private static func sampleOnDevice(_ c: BenchmarkConfig, config: ModelConfig, model: CharRNNModel, device: CUDADevice,
                                       seconds: Double) throws -> BenchmarkResult {
        let V = config.vocabSize, B = c.batch, length = 200
        let deviceModel = try DeviceModel(config: config, device: device)
        try deviceModel.setParameters(model.parameters)
        let vocabulary = Vocabulary(scalars: (0..<V).map { Unicode.Scalar(UInt8(32 + $0 % 90)) })
        let generator = try DeviceGenerator(model: deviceModel, vocabulary: vocabulary, startCharacter: " ")
        var seed: UInt64 = 0
        func call() throws {
            seed += 1
            try generator.generate(prime: "", streams: B, length: length, options: SamplingOptions(temperature: 0.8),
                                   seed: seed, chunk: 50)
        }
        try call()
        device.resetPeak()
        let (n, dt) = try timed(seconds: seconds, minSteps: 2, call)
        let cps = Double(n * B * length) / dt
        return BenchmarkResult(config: c, charactersPerSecond: cps, millisecondsPerStep: 1000 * dt / Double(n * length),
                               gflops: cps * Double(config.forwardFlopsPerCharacter) / 1e9, peakRSSBytes: peakResidentBytes(),
                               finalLoss: nil, activationBytes: 0, peakDeviceBytes: device.peakAllocatedBytes)
    }

    /// Random ids for B streams of T steps, 40 batches' worth: the text of a training row.
    private static func randomIds(B: Int, T: Int, V: Int, rng: inout RandomGenerator) -> [Int32] {
        (0..<(B * T * 40 + 1)).map { _ in Int32(rng.nextInt(below: V)) }
    }

    /// Runs `step` at least minSteps times and for at least `seconds`; the time.
    private static func timed(seconds: Double, minSteps: Int, _ step: () throws -> Void) rethrows -> (Int, Double) {
        try timed(seconds: seconds, minSteps: minSteps, step, finish: {})
    }

    /// The same, then `finish` (waiting for work still queued on a device); the time includes it.
    private static func timed(seconds: Double, minSteps: Int, _ step: () throws -> Void,
                              finish: () throws -> Void) rethrows -> (Int, Double) {
        let start = monotonicSeconds()
        var n = 0
        repeat {
            try step()
            n += 1
        } while n < minSteps || monotonicSeconds() - start < seconds
        try finish()
        return (n, monotonicSeconds() - start)
    }

    /// GFLOP/s of a 2048 x 2048 float32 product: the machine's BLAS ceiling with this many threads.
    package static func blasCeiling(threads: Int, seconds: Double = 1) -> Double {
        BLAS.setThreads(threads)
        // OpenBLAS's own threads for this one big product: the ceiling of the library itself.
        BLAS.setLibraryThreads(threads)
        defer { BLAS.setLibraryThreads(1) }
        let n = 2048
        let a = FloatBuffer(count: n * n), b = FloatBuffer(count: n * n), c = FloatBuffer(count: n * n)
        var rng = RandomGenerator(seed: 3)
        for i in 0..<(n * n) { a[i] = rng.nextFloat(); b[i] = rng.nextFloat() }
        func product() {
            BLAS.gemm(m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n, c: c.pointer, ldc: n)
        }
        product()
        let (count, dt) = timed(seconds: seconds, minSteps: 3, product)
        return Double(count) * 2 * Double(n * n * n) / dt / 1e9
    }
}
