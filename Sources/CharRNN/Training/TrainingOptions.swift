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

    // Added after the first release: optional, so training states saved before them still load.
    /// DropConnect on each layer's W_hh (AWD-LSTM's weight drop); nil is 0.
    public var weightDrop: Double? = nil
    /// Drops whole characters' embeddings for a minibatch; nil is 0.
    public var embedDropout: Double? = nil
    /// Dropout masks drawn once per sequence and reused at every step; nil is off.
    public var variationalDropout: Bool? = nil
    /// AdamW's decoupled weight decay; nil is PyTorch's default, 0.01.
    public var weightDecay: Double? = nil
    /// nil: step when --lr-decay is below 1, else constant.
    public var lrSchedule: LRScheduleKind? = nil
    /// Updates whose rate ramps up linearly before the schedule starts; nil is 0.
    public var warmup: Int? = nil
    /// Stop when validation has not improved for this many evaluations; nil never.
    public var earlyStop: Int? = nil
    /// Evaluations without improvement tolerated before the rate is reduced by lrDecay: with
    /// --lr-schedule plateau (nil is `defaultLRPatience` there), or constant or cosine (nil: never).
    public var lrPatience: Int? = nil
    /// --ema: the decay of an exponential moving average of the weights (WeightAverage); nil is none.
    public var ema: Double? = nil
    /// --device (auto, cpu, cuda:N); nil is the CPU. A resumed run may move to another device: the
    /// files are the same.
    public var device: String? = nil
    /// --precision on a GPU: fp32 (nil), tf32 or bf16 (the products' operands rounded; see Precision).
    public var precision: String? = nil
    /// --init-from: the checkpoint the run's weights started from (its absolute path), for the record.
    public var initFrom: String? = nil
    /// Validate on the first this many held-out characters (names mode: the items they fill); nil all.
    public var validationLimit: Int? = nil
    /// The automatic settings' line (what they chose and why) when they chose this run's; for the record.
    public var automaticChoice: String? = nil

    package var regularization: CharRNNModel.Regularization {
        .init(weightDrop: weightDrop ?? 0, embedDropout: embedDropout ?? 0, variational: variationalDropout ?? false)
    }

    public var scheduleKind: LRScheduleKind { lrSchedule ?? (lrPatience != nil ? .plateau : lrDecay < 1 ? .step : .constant) }

    /// Whether validation reduces the rate (LearningRateSchedule.reducesOnPlateau).
    public var reducesOnPlateau: Bool { scheduleKind == .plateau || lrPatience != nil }

    public static let defaultLRPatience = 2
    /// Evaluations without a new best after which a run whose validation is meaningful stops, unless
    /// --early-stop says otherwise.
    public static let defaultEarlyStop = 10

    public init(textPath: String, outputDirectory: String) {
        self.textPath = textPath
        self.outputDirectory = outputDirectory
    }

    /// The longest sample printed at a validation.
    public static let maximumSampleLength = 100_000

    public func validate() throws {
        _ = try DeviceChoice(parsing: device ?? "cpu")
        _ = try Precision(parsing: precision ?? "fp32")
        func bad(_ s: String) -> CharRNNError { .invalidOption(s) }
        guard !outputDirectory.isEmpty else { throw bad("--output must name a folder (got an empty name)") }
        guard seqLength >= 1 else { throw bad("--seq-length must be at least 1 (got \(seqLength))") }
        guard batchSize >= 1 else { throw bad("--batch-size must be at least 1 (got \(batchSize))") }
        guard let perStep = MemoryEstimate.product([seqLength, batchSize]), perStep <= 1 << 30 else {
            throw bad("--seq-length \(seqLength) times --batch-size \(batchSize) is more characters per step than charrnn trains on (at most 2^30)")
        }
        try CharRNNError.requirePositive(learningRate, "--learning-rate")
        guard lrDecay > 0, lrDecay <= 1 else { throw bad("--lr-decay must be in (0, 1] (got \(lrDecay))") }
        guard lrDecayEvery >= 1 else { throw bad("--lr-decay-every must be at least 1 (got \(lrDecayEvery))") }
        if let c = clipNorm { try CharRNNError.requirePositive(c, "--clip-norm") }
        if let c = clipValue { try CharRNNError.requirePositive(c, "--clip-value") }
        guard validationFraction >= 0, validationFraction < 1 else {
            throw bad("--val-fraction must be in [0, 1) (got \(validationFraction))")
        }
        if let l = validationLimit, l < 1 { throw bad("--val-characters must be at least 1 (got \(l))") }
        if let s = maxSteps, s < 1 { throw bad("--max-steps must be at least 1 (got \(s))") }
        if let e = maxEpochs { try CharRNNError.requirePositive(e, "--max-epochs") }
        if let t = maxTime { try CharRNNError.requirePositive(t, "--max-time", unit: " seconds") }
        try BLAS.checkThreads(threads)
        func probability(_ v: Double?, _ option: String) throws {
            if let v, !(v >= 0 && v < 1) { throw bad("\(option) must be in [0, 1) (got \(v))") }
        }
        try probability(weightDrop, "--weight-drop")
        try probability(embedDropout, "--embed-dropout")
        if (embedDropout ?? 0) > 0 && embed == 0 {
            throw bad("--embed-dropout drops embedding rows; it needs --embed above 0 (one-hot input has none)")
        }
        if variationalDropout == true && !(dropout > 0) {
            throw bad("--variational-dropout changes how --dropout masks are drawn; give --dropout above 0")
        }
        if let w = weightDecay {
            guard optimizer == .adamw else { throw bad("--weight-decay is AdamW's decoupled decay; use it with --optimizer adamw") }
            guard w >= 0, w.isFinite, w * learningRate < 1 else {
                throw bad("--weight-decay must be 0 or more, and below 1 / --learning-rate (got \(w))")
            }
        }
        if let p = lrPatience {
            guard scheduleKind != .step else {
                throw bad("--lr-patience reduces the rate by --lr-decay, which --lr-schedule step spends on its own steps; use constant, cosine or plateau")
            }
            guard p >= 0 else { throw bad("--lr-patience must be 0 or more evaluations (got \(p))") }
        }
        if let kind = lrSchedule, kind != .step, !reducesOnPlateau, lrDecay != 1 {
            throw bad("--lr-decay belongs to --lr-schedule step or plateau, or to --lr-patience (got --lr-schedule \(kind.rawValue))")
        }
        if reducesOnPlateau {
            let what = scheduleKind == .plateau ? "--lr-schedule plateau" : "--lr-patience"
            guard lrDecay < 1 else {
                throw bad("\(what) multiplies the rate by --lr-decay when validation stops improving; give --lr-decay below 1 (for example 0.5)")
            }
            guard validationFraction > 0 else { throw bad("\(what) needs a validation part (--val-fraction above 0)") }
        }
        if let d = ema, !(d > 0 && d < 1) { throw bad("--ema must be between 0 and 1, e.g. 0.999 (got \(d))") }
        if let w = warmup, w < 0 { throw bad("--warmup must be 0 or more steps (got \(w))") }
        if let n = earlyStop {
            guard n >= 1 else { throw bad("--early-stop must be 1 or more evaluations, or 0 for none (got \(n))") }
            guard validationFraction > 0 else { throw bad("--early-stop needs a validation part (--val-fraction above 0)") }
        }
        guard evalEvery >= 1 else { throw bad("--eval-every must be at least 1 (got \(evalEvery))") }
        guard logEvery >= 1 else { throw bad("--log-every must be at least 1 (got \(logEvery))") }
        guard (0...Self.maximumSampleLength).contains(sampleLength) else {
            throw bad("--sample-length must be between 0 and \(Self.maximumSampleLength) (got \(sampleLength))")
        }
        try modelConfig(vocabSize: 1).validate()
    }

    public func modelConfig(vocabSize: Int) -> ModelConfig {
        ModelConfig(cell: cell, layers: layers, hidden: hidden, embed: embed, vocabSize: vocabSize, dropout: dropout)
    }
}
