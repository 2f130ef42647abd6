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
