extension ModelConfig {
    /// Checks a generation's category: one of this model's for a model trained by category, none for
    /// another.
    package func checkCategory(_ category: Int32?) throws {
        guard categories > 0 else {
            guard category == nil else { throw CharRNNError.invalidOption("this model was not trained with categories") }
            return
        }
        guard let category, (0..<Int32(categories)).contains(category) else {
            throw CharRNNError.invalidOption("this model generates by category: give a category from 0 to \(categories - 1)")
        }
    }
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
    /// Categories fed one-hot beside each character (conditional generation, as the PyTorch names
    /// tutorial); 0 for an ordinary language model.
    public var categories: Int

    public init(cell: CellKind, layers: Int, hidden: Int, embed: Int, vocabSize: Int, dropout: Double = 0, categories: Int = 0) {
        self.cell = cell
        self.layers = layers
        self.hidden = hidden
        self.embed = embed
        self.vocabSize = vocabSize
        self.dropout = dropout
        self.categories = categories
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        cell = try c.decode(CellKind.self, forKey: .cell)
        layers = try c.decode(Int.self, forKey: .layers)
        hidden = try c.decode(Int.self, forKey: .hidden)
        embed = try c.decode(Int.self, forKey: .embed)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        dropout = try c.decodeIfPresent(Double.self, forKey: .dropout) ?? 0
        categories = try c.decodeIfPresent(Int.self, forKey: .categories) ?? 0
    }

    public func validate() throws {
        func bad(_ s: String) -> CharRNNError { .invalidOption(s) }
        guard layers >= 1 else { throw bad("--layers must be at least 1 (got \(layers))") }
        guard hidden >= 1 else { throw bad("--hidden must be at least 1 (got \(hidden))") }
        guard embed >= 0 else { throw bad("--embed must be 0 (one-hot) or more (got \(embed))") }
        guard vocabSize >= 1 else { throw bad("the vocabulary is empty") }
        guard dropout >= 0 && dropout < 1 else { throw bad("--dropout must be in [0, 1) (got \(dropout))") }
        guard categories >= 0 else { throw bad("categories must be 0 or more") }
        guard layers <= 64, hidden <= 65536, embed <= 65536 else { throw bad("the model is too large") }
    }

    /// Input width of layer l: layer 0 reads the character (embedded or one-hot) and the category.
    public func inputSize(layer l: Int) -> Int {
        l == 0 ? (embed > 0 ? embed : vocabSize) + categories : hidden
    }

    /// Matrix-product FLOPs of one forward step per character, counted as the PyTorch benchmark does:
    /// sum over layers of 2*G*H*(I+H), plus 2*H*V for the decoder.
    public var forwardFlopsPerCharacter: Int {
        var f = 0
        for l in 0..<layers { f += 2 * cell.gateCount * hidden * (inputSize(layer: l) + hidden) }
        return f + 2 * hidden * vocabSize
    }
}
