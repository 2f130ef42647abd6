/// The recurrent cell, named as in PyTorch (nn.LSTM, nn.GRU, nn.RNN with nonlinearity tanh or relu).
public enum CellKind: String, Codable, Sendable, CaseIterable {
    case lstm
    case gru
    case rnnTanh = "rnn_tanh"
    case rnnRelu = "rnn_relu"

    /// Gate blocks in the fused weight: 4 (i f g o), 3 (r z n), 1.
    public var gateCount: Int {
        switch self {
        case .lstm: return 4
        case .gru: return 3
        case .rnnTanh, .rnnRelu: return 1
        }
    }

    /// Hidden-state tensors per layer: LSTM keeps h and c.
    public var stateCount: Int { self == .lstm ? 2 : 1 }
}

/// The shape of a model: Embedding(V, E) (or one-hot when E = 0) -> L recurrent layers of H -> Linear(H, V).
public struct ModelConfig: Codable, Sendable, Equatable {
    public var cell: CellKind
    public var layers: Int
    public var hidden: Int
    public var embed: Int
    public var vocabSize: Int
    /// Dropout probability after each recurrent layer (between layers and before the decoder), training only.
    public var dropout: Double

    public init(cell: CellKind, layers: Int, hidden: Int, embed: Int, vocabSize: Int, dropout: Double = 0) {
        self.cell = cell
        self.layers = layers
        self.hidden = hidden
        self.embed = embed
        self.vocabSize = vocabSize
        self.dropout = dropout
    }

    public func validate() throws {
        func bad(_ s: String) -> CharRNNError { .invalidOption(s) }
        guard layers >= 1 else { throw bad("--layers must be at least 1 (got \(layers))") }
        guard hidden >= 1 else { throw bad("--hidden must be at least 1 (got \(hidden))") }
        guard embed >= 0 else { throw bad("--embed must be 0 (one-hot) or more (got \(embed))") }
        guard vocabSize >= 1 else { throw bad("the vocabulary is empty") }
        guard dropout >= 0 && dropout < 1 else { throw bad("--dropout must be in [0, 1) (got \(dropout))") }
        guard layers <= 64, hidden <= 65536, embed <= 65536 else { throw bad("the model is too large") }
    }

    /// Input width of layer l.
    public func inputSize(layer l: Int) -> Int {
        l == 0 ? (embed > 0 ? embed : vocabSize) : hidden
    }

    /// Matrix-product FLOPs of one forward step per character, counted as the PyTorch benchmark does:
    /// sum over layers of 2*G*H*(I+H), plus 2*H*V for the decoder.
    public var forwardFlopsPerCharacter: Int {
        var f = 0
        for l in 0..<layers { f += 2 * cell.gateCount * hidden * (inputSize(layer: l) + hidden) }
        return f + 2 * hidden * vocabSize
    }
}
