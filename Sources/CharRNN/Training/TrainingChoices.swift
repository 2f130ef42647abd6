/// The options a command line (or an app) gave for a training run, nil where it gave none, in the
/// command line's terms (0 turns --clip-norm, --weight-drop, --warmup and --early-stop off).
///
/// A new run takes them over the defaults and any preset (`apply(to:)`). A resumed run keeps its
/// model and trajectory: `resume(_:)` refuses a different value for any of those, naming the value
/// the run has, and takes only the options a resume may change (when it stops, how often it reports,
/// its threads and device). Every spelling of an option (`--lr`, `--learning-rate`) is one field here,
/// so all are treated alike.
package struct TrainingChoices: Sendable, Equatable {
    // The model and its trajectory: fixed once a run has started.
    package var cell: CellKind?
    package var layers: Int?
    package var hidden: Int?
    package var embed: Int?
    package var dropout: Double?
    package var variationalDropout: Bool?
    package var weightDrop: Double?
    package var embedDropout: Double?
    package var seqLength: Int?
    package var batchSize: Int?
    package var batching: BatchingMode?
    package var optimizer: OptimizerKind?
    package var weightDecay: Double?
    package var lrSchedule: LRScheduleKind?
    package var lrPatience: Int?
    package var ema: Double?
    package var warmup: Int?
    package var learningRate: Double?
    package var lrDecay: Double?
    package var lrDecayEvery: Int?
    package var clipNorm: Double?
    package var clipValue: Double?
    package var validationFraction: Double?
    package var validationLimit: Int?
    package var seed: UInt64?
    package var names: Bool?
    package var earlyStop: Int?
    // What a resume may change.
    package var maxSteps: Int?
    package var maxEpochs: Double?
    package var maxTime: Double?
    package var threads: Int?
    package var device: String?
    package var precision: String?
    package var evalEvery: Int?
    package var logEvery: Int?
    package var sampleLength: Int?

    package init() {}

    /// No option of the model's shape was given: the automatic settings choose it (AutomaticSettings).
    package var leavesModelOpen: Bool { cell == nil && layers == nil && hidden == nil && embed == nil }

    /// A new run: every given option over what `o` holds (the defaults, or a preset's).
    package func apply(to o: inout TrainingOptions) throws {
        if let clipNorm, !(clipNorm >= 0) {
            throw CharRNNError.invalidOption("--clip-norm must be 0 (off) or more (got \(clipNorm))")
        }
        if let v = cell { o.cell = v }
        if let v = layers { o.layers = v }
        if let v = hidden { o.hidden = v }
        if let v = embed { o.embed = v }
        if let v = dropout { o.dropout = v }
        if let v = variationalDropout { o.variationalDropout = v ? true : nil }
        if let v = weightDrop { o.weightDrop = v != 0 ? v : nil }
        if let v = embedDropout { o.embedDropout = v != 0 ? v : nil }
        if let v = seqLength { o.seqLength = v }
        if let v = batchSize { o.batchSize = v }
        if let v = batching { o.batching = v }
        if let v = optimizer { o.optimizer = v }
        if let v = weightDecay { o.weightDecay = v }
        if let v = lrSchedule { o.lrSchedule = v }
        if let v = lrPatience { o.lrPatience = v }
        if let v = ema { o.ema = v }
        if let v = warmup { o.warmup = v != 0 ? v : nil }
        if let v = learningRate { o.learningRate = v }
        if let v = lrDecay { o.lrDecay = v }
        if let v = lrDecayEvery { o.lrDecayEvery = v }
        if let v = clipNorm { o.clipNorm = v > 0 ? v : nil }
        if let v = clipValue { o.clipValue = v }
        if let v = validationFraction { o.validationFraction = v }
        if let v = validationLimit { o.validationLimit = v }
        if let v = seed { o.seed = v }
        if let v = names { o.names = v }
        if let v = earlyStop { o.earlyStop = v != 0 ? v : nil }
        applyResumable(to: &o)
    }

    /// A resumed run's options: refuses a given option whose value differs from the run's, then takes
    /// the stopping, reporting, thread and device options given.
    package func resume(_ saved: TrainingOptions) throws -> TrainingOptions {
        func check(_ flag: String, _ value: String?, _ kept: String) throws {
            guard let value, value != kept else { return }
            throw CharRNNError.invalidOption(
                "\(flag) \(value) differs from the resumed run's \(kept); a resumed run keeps its model and training options (start a new run to change them)")
        }
        func text<T>(_ v: T?) -> String? { v.map { "\($0)" } }
        try check("--cell", cell?.rawValue, saved.cell.rawValue)
        try check("--layers", text(layers), "\(saved.layers)")
        try check("--hidden", text(hidden), "\(saved.hidden)")
        try check("--embed", text(embed), "\(saved.embed)")
        try check("--dropout", text(dropout), "\(saved.dropout)")
        try check("--seq-length", text(seqLength), "\(saved.seqLength)")
        try check("--batch-size", text(batchSize), "\(saved.batchSize)")
        try check("--batching", batching?.rawValue, saved.batching.rawValue)
        try check("--optimizer", optimizer?.rawValue, saved.optimizer.rawValue)
        try check("--learning-rate", text(learningRate), "\(saved.learningRate)")
        try check("--lr-decay", text(lrDecay), "\(saved.lrDecay)")
        try check("--lr-decay-every", text(lrDecayEvery), "\(saved.lrDecayEvery)")
        try check("--clip-norm", text(clipNorm), "\(saved.clipNorm ?? 0)")
        try check("--clip-value", text(clipValue), saved.clipValue.map { "\($0)" } ?? "none")
        try check("--val-fraction", text(validationFraction), "\(saved.validationFraction)")
        try check("--val-characters", text(validationLimit), saved.validationLimit.map { "\($0)" } ?? "all")
        try check("--seed", text(seed), "\(saved.seed)")
        try check("--names", text(names), "\(saved.names)")
        try check("--weight-drop", text(weightDrop), "\(saved.weightDrop ?? 0)")
        try check("--embed-dropout", text(embedDropout), "\(saved.embedDropout ?? 0)")
        try check("--variational-dropout", text(variationalDropout), "\(saved.variationalDropout ?? false)")
        try check("--weight-decay", text(weightDecay), saved.weightDecay.map { "\($0)" } ?? "default")
        try check("--lr-schedule", lrSchedule?.rawValue, saved.lrSchedule?.rawValue ?? "default")
        try check("--ema", text(ema), saved.ema.map { "\($0)" } ?? "none")
        try check("--lr-patience", text(lrPatience), saved.lrPatience.map { "\($0)" } ?? "default")
        try check("--warmup", text(warmup), "\(saved.warmup ?? 0)")
        try check("--early-stop", earlyStop.map { $0 == 0 ? "none" : "\($0)" }, saved.earlyStop.map { "\($0)" } ?? "none")
        var o = saved
        applyResumable(to: &o)
        return o
    }

    /// The options a resume may change, where given.
    private func applyResumable(to o: inout TrainingOptions) {
        if let v = maxSteps { o.maxSteps = v }
        if let v = maxEpochs { o.maxEpochs = v }
        if let v = maxTime { o.maxTime = v }
        if let v = threads { o.threads = v }
        if let v = device { o.device = v == "cpu" ? nil : v }
        if let v = precision { o.precision = v == "fp32" ? nil : v }
        if let v = evalEvery { o.evalEvery = v }
        if let v = logEvery { o.logEvery = v }
        if let v = sampleLength { o.sampleLength = v }
    }
}
