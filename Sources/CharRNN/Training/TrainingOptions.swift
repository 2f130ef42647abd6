/// Everything `charrnn train` can be told. Defaults are char-rnn's (2 x 128 LSTM, seq 50, batch 50,
/// Adam 2e-3, clip 5).
public struct TrainingOptions: Codable, Sendable, Equatable {
    public var textPath: String
    public var outputDirectory: String
    public var cell: CellKind = .lstm
    public var layers = 2
    public var hidden = 128
    public var embed = 64
    public var dropout = 0.0
    public var seqLength = 50
    public var batchSize = 50
    public var batching: BatchingMode = .sequential
    public var optimizer: OptimizerKind = .adam
    public var learningRate = 2e-3
    /// Multiply the learning rate by this every `lrDecayEvery` steps.
    public var lrDecay = 1.0
    public var lrDecayEvery = 1000
    public var clipNorm: Double? = 5
    public var clipValue: Double? = nil
    public var validationFraction = 0.1
    public var maxSteps: Int? = nil
    public var maxEpochs: Double? = nil
    /// Seconds of training (not counting validation) after which to stop.
    public var maxTime: Double? = nil
    public var seed: UInt64 = 1
    public var threads = 2
    /// Validate, print a sample and write checkpoints every this many steps.
    public var evalEvery = 1000
    /// Record a row of the loss history every this many steps.
    public var logEvery = 10
    public var sampleLength = 200
    /// Names mode: each line of the text is one item (a folder of one file per category implies it).
    public var names = false

    public init(textPath: String, outputDirectory: String) {
        self.textPath = textPath
        self.outputDirectory = outputDirectory
    }

    public func validate() throws {
        func bad(_ s: String) -> CharRNNError { .invalidOption(s) }
        guard seqLength >= 1 else { throw bad("--seq-length must be at least 1 (got \(seqLength))") }
        guard batchSize >= 1 else { throw bad("--batch-size must be at least 1 (got \(batchSize))") }
        guard learningRate > 0, learningRate.isFinite else { throw bad("--learning-rate must be above 0 (got \(learningRate))") }
        guard lrDecay > 0, lrDecay <= 1 else { throw bad("--lr-decay must be in (0, 1] (got \(lrDecay))") }
        guard lrDecayEvery >= 1 else { throw bad("--lr-decay-every must be at least 1 (got \(lrDecayEvery))") }
        if let c = clipNorm, !(c > 0) { throw bad("--clip-norm must be above 0 (got \(c))") }
        if let c = clipValue, !(c > 0) { throw bad("--clip-value must be above 0 (got \(c))") }
        guard validationFraction >= 0, validationFraction < 1 else {
            throw bad("--val-fraction must be in [0, 1) (got \(validationFraction))")
        }
        if let s = maxSteps, s < 1 { throw bad("--max-steps must be at least 1 (got \(s))") }
        if let e = maxEpochs, !(e > 0) { throw bad("--max-epochs must be above 0 (got \(e))") }
        if let t = maxTime, !(t > 0) { throw bad("--max-time must be above 0 seconds (got \(t))") }
        guard threads >= 1, threads <= 256 else { throw bad("--threads must be between 1 and 256 (got \(threads))") }
        guard evalEvery >= 1 else { throw bad("--eval-every must be at least 1 (got \(evalEvery))") }
        guard logEvery >= 1 else { throw bad("--log-every must be at least 1 (got \(logEvery))") }
        guard sampleLength >= 0 else { throw bad("--sample-length must be 0 or more (got \(sampleLength))") }
        try modelConfig(vocabSize: 1).validate()
    }

    public func modelConfig(vocabSize: Int) -> ModelConfig {
        ModelConfig(cell: cell, layers: layers, hidden: hidden, embed: embed, vocabSize: vocabSize, dropout: dropout)
    }
}
