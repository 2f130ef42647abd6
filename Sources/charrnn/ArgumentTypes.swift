import ArgumentParser
import CharRNN

extension CellKind: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument.lowercased() {
        case "lstm": self = .lstm
        case "gru": self = .gru
        case "rnn", "rnn_tanh", "rnn-tanh", "tanh": self = .rnnTanh
        case "rnn_relu", "rnn-relu", "relu": self = .rnnRelu
        default: return nil
        }
    }
    public static var allValueStrings: [String] { ["lstm", "gru", "rnn", "rnn-relu"] }
}

extension OptimizerKind: ExpressibleByArgument {}
extension BatchingMode: ExpressibleByArgument {}

extension LRScheduleKind: ExpressibleByArgument {}

/// Recommended settings for a new run (`train --preset`): an LSTM with AWD-LSTM's regularisers,
/// AdamW, warmup and early stopping. Options given on the command line win.
enum Preset: String, ExpressibleByArgument, CaseIterable {
    case small, medium, large

    func apply(to o: inout TrainingOptions, unlessGiven given: (String) -> Bool) {
        func set<T>(_ flag: String, _ keyPath: WritableKeyPath<TrainingOptions, T>, _ value: T) {
            if !given(flag) { o[keyPath: keyPath] = value }
        }
        let (layers, hidden, embed, seq, batch, dropout): (Int, Int, Int, Int, Int, Double)
        switch self {
        case .small: (layers, hidden, embed, seq, batch, dropout) = (2, 256, 64, 100, 32, 0.2)
        case .medium: (layers, hidden, embed, seq, batch, dropout) = (3, 512, 64, 128, 64, 0.3)
        case .large: (layers, hidden, embed, seq, batch, dropout) = (3, 1024, 128, 128, 128, 0.4)
        }
        set("--cell", \.cell, .lstm)
        set("--layers", \.layers, layers)
        set("--hidden", \.hidden, hidden)
        set("--embed", \.embed, embed)
        set("--seq-length", \.seqLength, seq)
        set("--batch-size", \.batchSize, batch)
        set("--dropout", \.dropout, dropout)
        set("--variational-dropout", \.variationalDropout, true)
        set("--weight-drop", \.weightDrop, dropout)
        set("--embed-dropout", \.embedDropout, 0.05)
        set("--optimizer", \.optimizer, .adamw)
        set("--warmup", \.warmup, 200)
        set("--early-stop", \.earlyStop, 8)
        set("--eval-every", \.evalEvery, 250)
        set("--lr-schedule", \.lrSchedule, .cosine)
    }
}
