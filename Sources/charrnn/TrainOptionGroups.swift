import ArgumentParser
import CharRNN

/// AWD-LSTM's regularisers and dropout (`train`), nil where not given.
struct RegularizationOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Dropout probability after each recurrent layer, during training (default: 0).")
    var dropout: Double?
    @Flag(help: "Draw the --dropout masks once per sequence and reuse them at every step (locked dropout).")
    var variationalDropout = false
    @Option(parsing: .unconditional, help: "DropConnect on each layer's recurrent weights W_hh, one mask per minibatch (AWD-LSTM's weight drop) (default: 0).")
    var weightDrop: Double?
    @Option(parsing: .unconditional, help: "Drop whole characters' embeddings for a minibatch (default: 0).")
    var embedDropout: Double?

    func give(to c: inout TrainingChoices) {
        c.dropout = dropout; c.variationalDropout = variationalDropout ? true : nil
        c.weightDrop = weightDrop; c.embedDropout = embedDropout
    }
}

/// The batches, the update rule and its schedule (`train`), nil where not given.
struct OptimizationOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Steps of truncated backpropagation through time (default: 50).")
    var seqLength: Int?
    @Option(parsing: .unconditional, help: "Sequences per minibatch (default: 50).")
    var batchSize: Int?
    @Option(help: "sequential: B contiguous streams, hidden state carried across batches; random: random windows, state reset (default: sequential).")
    var batching: BatchingMode?
    @Option(help: "sgd, adam, adamw, rmsprop or adagrad (PyTorch's update rules) (default: adam).")
    var optimizer: OptimizerKind?
    @Option(name: [.customLong("learning-rate"), .customLong("lr")], parsing: .unconditional, help: "Learning rate (default: 0.002).")
    var learningRate: Double?
    @Option(help: "constant, step (times --lr-decay every --lr-decay-every steps), cosine (to 0 over --max-steps or --max-epochs, or over the training seconds of --max-time when it is the only bound) or plateau (times --lr-decay when validation has not improved for more than --lr-patience evaluations, as PyTorch's ReduceLROnPlateau). Default: plateau with --lr-patience, else step when --lr-decay is below 1, else constant.")
    var lrSchedule: LRScheduleKind?
    @Option(parsing: .unconditional, help: "Multiply the learning rate by this every --lr-decay-every steps (step), or when validation stalls (plateau) (default: 1).")
    var lrDecay: Double?
    @Option(parsing: .unconditional, help: "Steps between learning-rate decays (default: 1000).")
    var lrDecayEvery: Int?
    @Option(parsing: .unconditional, help: "Multiply the rate by --lr-decay after more than N evaluations without a new best (by 1e-4 relative): --lr-schedule plateau (default \(TrainingOptions.defaultLRPatience)), or on top of constant or cosine.")
    var lrPatience: Int?
    @Option(parsing: .unconditional, help: "Steps whose learning rate ramps up linearly (from 1/N of it) before the schedule starts (default: 0).")
    var warmup: Int?
    @Option(parsing: .unconditional, help: "AdamW's decoupled weight decay (default 0.01, PyTorch's).")
    var weightDecay: Double?
    @Option(parsing: .unconditional, help: "Keep an exponential moving average of the weights with this decay (e.g. 0.999; PyTorch's AveragedModel with get_ema_multi_avg_fn): validation, samples, latest and best use it.")
    var ema: Double?
    @Option(parsing: .unconditional, help: "Clip gradients to this global L2 norm (0 turns it off) (default: 5).")
    var clipNorm: Double?
    @Option(parsing: .unconditional, help: "Clip each gradient to [-v, v].")
    var clipValue: Double?
    @Option(parsing: .unconditional, help: "Random seed (initialisation, batches, dropout) (default: 1).")
    var seed: UInt64?

    func give(to c: inout TrainingChoices) {
        c.seqLength = seqLength; c.batchSize = batchSize; c.batching = batching; c.optimizer = optimizer
        c.learningRate = learningRate; c.lrSchedule = lrSchedule; c.lrDecay = lrDecay; c.lrDecayEvery = lrDecayEvery
        c.lrPatience = lrPatience; c.warmup = warmup; c.weightDecay = weightDecay; c.ema = ema
        c.clipNorm = clipNorm; c.clipValue = clipValue; c.seed = seed
    }
}

/// The held-out part and when a run stops (`train`), nil where not given; a resume may change the limits.
struct StoppingOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Fraction of the text (its end) held out for validation (default: 0.1).")
    var valFraction: Double?
    @Option(parsing: .unconditional, help: "Validate on the first N characters of the held-out part (default: all of it; the settings chosen for a large text bound it).")
    var valCharacters: Int?
    @Option(parsing: .unconditional, help: "Stop after this many steps.")
    var maxSteps: Int?
    @Option(parsing: .unconditional, help: "Stop after this many epochs (default 50 when no other limit is given).")
    var maxEpochs: Double?
    @Option(parsing: .unconditional, help: "Stop after this many seconds of training, in all: a resumed run counts the seconds it trained before (its first line says how many are left).")
    var maxTime: Double?
    @Option(parsing: .unconditional, help: "Stop when validation has not improved for N evaluations; best.safetensors is the model to use (0: never, which turns off a preset's).")
    var earlyStop: Int?

    func give(to c: inout TrainingChoices) {
        c.validationFraction = valFraction; c.validationLimit = valCharacters
        c.maxSteps = maxSteps; c.maxEpochs = maxEpochs; c.maxTime = maxTime; c.earlyStop = earlyStop
    }
}

/// How often a run validates, saves and reports (`train`); a resume may change them.
struct ReportingOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Validate, print a sample and save checkpoints every N steps (default: 1000).")
    var evalEvery: Int?
    @Option(parsing: .unconditional, help: "Add a row to loss.csv every N steps (default: 10).")
    var logEvery: Int?
    @Option(parsing: .unconditional, help: "Print a progress line every N steps when output is not a terminal.")
    var printEvery = 100
    @Option(parsing: .unconditional, help: "Length of the sample printed at each validation (0: none) (default: 200).")
    var sampleLength: Int?

    func give(to c: inout TrainingChoices) {
        c.evalEvery = evalEvery; c.logEvery = logEvery; c.sampleLength = sampleLength
    }
}

/// Threads, device and precision (`train`); a resume may change them.
struct MachineOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Threads (default: the physical cores this process may use, from its CPU affinity and any cgroup quota; under mpirun, each rank's share of the machine's cores).")
    var threads: Int?
    @OptionGroup var placement: TrainingDeviceOptions

    func give(to c: inout TrainingChoices) {
        c.threads = threads; c.device = placement.device?.description; c.precision = placement.precision?.rawValue
    }
}
