import ArgumentParser
import CharRNN

extension CellKind: ExpressibleByArgument {
    public init?(argument: String) {
        guard let cell = CellKind.names[argument.lowercased()] else { return nil }
        self = cell
    }
    public static var allValueStrings: [String] { shownNames }
}

extension OptimizerKind: ExpressibleByArgument {}
extension BatchingMode: ExpressibleByArgument {}

extension LRScheduleKind: ExpressibleByArgument {}

/// Recommended settings for a new run (`train --preset`): an LSTM with AWD-LSTM's regularisers,
/// AdamW, warmup and early stopping. Options given on the command line win.
enum Preset: String, ExpressibleByArgument, CaseIterable {
    case small, medium, large
    /// char-rnn's settings, the defaults before settings were chosen from the data: LSTM 2x128,
    /// batch 50 x 50, Adam 0.002, validation every 1,000 steps, no dropout, no early stop.
    case charRNN = "char-rnn"

    /// The preset's settings; the options given on the command line are applied over them.
    func apply(to o: inout TrainingOptions) {
        let (layers, hidden, embed, seq, batch, dropout): (Int, Int, Int, Int, Int, Double)
        switch self {
        case .charRNN: return  // TrainingOptions' own defaults
        case .small: (layers, hidden, embed, seq, batch, dropout) = (2, 256, 64, 100, 32, 0.2)
        case .medium: (layers, hidden, embed, seq, batch, dropout) = (3, 512, 64, 128, 64, 0.3)
        case .large: (layers, hidden, embed, seq, batch, dropout) = (3, 1024, 128, 128, 128, 0.4)
        }
        o.cell = .lstm
        o.layers = layers
        o.hidden = hidden
        o.embed = embed
        o.seqLength = seq
        o.batchSize = batch
        o.dropout = dropout
        o.variationalDropout = true
        o.weightDrop = dropout
        o.embedDropout = 0.05
        o.optimizer = .adamw
        o.warmup = 200
        o.earlyStop = 8
        o.evalEvery = 250
        o.lrSchedule = .cosine
    }
}
