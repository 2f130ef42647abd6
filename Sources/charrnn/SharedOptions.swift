import ArgumentParser
import CharRNN

/// Each command's defaults for the model's shape (ModelShapeOptions): its options' own.
protocol ModelShapeDefaults {
    static var shape: any ModelShaped { get }
}

/// The model's shape, declared once for `train` and `classify train`: nil where not given, so each
/// command applies its own defaults (and `train` can choose the shape from the text, or refuse a
/// different one on resume).
struct ModelShapeOptions<Defaults: ModelShapeDefaults>: ParsableArguments {
    @Option(help: "Recurrent cell: lstm, gru, rnn (tanh) or rnn-relu (default: \(Defaults.shape.cell.rawValue)).")
    var cell: CellKind?
    @Option(parsing: .unconditional, help: "Number of recurrent layers (default: \(Defaults.shape.layers)).")
    var layers: Int?
    @Option(parsing: .unconditional, help: "Hidden size of each layer (default: \(Defaults.shape.hidden)).")
    var hidden: Int?
    @Option(parsing: .unconditional, help: "Embedding size; 0 feeds one-hot vectors instead (default: \(Defaults.shape.embed)).")
    var embed: Int?

    /// The options given, over `shape`'s values.
    func apply<Shape: ModelShaped>(to shape: inout Shape) {
        if let cell { shape.cell = cell }
        if let layers { shape.layers = layers }
        if let hidden { shape.hidden = hidden }
        if let embed { shape.embed = embed }
    }
}

/// What ModelShapeOptions sets.
protocol ModelShaped {
    var cell: CellKind { get set }
    var layers: Int { get set }
    var hidden: Int { get set }
    var embed: Int { get set }
}

extension TrainingOptions: ModelShaped {}
extension ClassifierOptions: ModelShaped {}

/// --threads, declared once for the commands whose default is every usable core.
struct ThreadsOption: ParsableArguments {
    @Option(name: .customLong("threads"), parsing: .unconditional,
            help: "Threads (default: the physical cores this process may use, from its CPU affinity and any cgroup quota).")
    var count = CPUCount.usable

    func validate() throws { try BLAS.checkThreads(count) }
}

/// --device and --precision of `train`, nil where not given (a resumed run keeps its own). Each value
/// is checked as it is parsed.
struct TrainingDeviceOptions: ParsableArguments {
    @Option(help: DefaultDevice.help("; see 'charrnn devices'. A resumed run keeps its own unless given."),
            transform: { try DeviceChoice(parsing: $0) })
    var device: DeviceChoice?
    @Option(help: "On a GPU, the matrix products: fp32, tf32 (TensorFloat-32, about 1e-3 relative) or bf16 (bfloat16 operands, fp32 sums, about 1e-2 relative); faster on large models (default: fp32).",
            transform: { try Precision(parsing: $0) })
    var precision: Precision?
}
