/// The classifier's graph, written once over GraphOperations as ModelGraph is the language model's:
/// Embedding (or one-hot) -> L recurrent layers, the reverse direction of a bidirectional layer reading
/// its input time-reversed and layer l > 0 reading both directions of layer l-1 in original time order,
/// [forward | reverse] -> each direction's state after the last step, concatenated [B, D*H] ->
/// Linear(D*H, C). In training, dropout on the embedded characters and on those features.
/// ClassifierModel runs it on the CPU, DeviceClassifierModel on a GPU: each gives its operations, its
/// layers, its buffers and how layer 0 reads the characters.
protocol ClassifierGraph: AnyObject {
    associatedtype Operations: GraphOperations
    associatedtype Layer: GraphLayer where Layer.Values == Operations.Values, Layer.Failure == Operations.Failure
    var config: ClassifierConfig { get }
    var layout: ParameterLayout { get }
    /// layers[l][d]: layer l, direction d (0 forward, 1 reverse).
    var classifierLayers: [[Layer]] { get }
    /// Layer 0's input of direction d where it reads the characters' ids instead of rows (the CPU's
    /// one-hot input); nil where it reads rows that `embed` writes.
    func idInput(direction d: Int) -> Layer.Input?
    /// The batch's characters' rows of the embedding (or, one-hot, of the identity) into x [T*B, I_0].
    func embed(into x: Operations.Values, rows: Int, parameters: Operations.Values) throws(Operations.Failure)
    /// Adds d [T*B, E], the gradient of the embedded rows, into the embedding's gradient `table`.
    func addEmbeddingGradient(_ d: Operations.Values, rows: Int, into table: Operations.Values) throws(Operations.Failure)
}

/// A classifier's logits [B, C] of B items of T characters (ids time-major) on the host, no dropout,
/// whichever device ran them.
protocol ClassifierLogits {
    func logits(_ ids: [Int32], T: Int, B: Int) throws -> [Float]
}

/// A forward's buffers, reserved by the model for T*B rows.
struct ClassifierBuffers<Values> {
    /// inputs[l][d]: what direction d of layer l reads (time-reversed for d = 1), [T*B, I_l].
    let inputs: [[Values]]
    /// One direction's initial state, zeros; [B, D*H] features; [B, C] logits.
    let zeroState: Values, features: Values, logits: Values
    let embeddingMask: Values, featureMask: Values
}

/// A backward's: [B, D*H], each direction's dL/doutput [T*B, H], and dL/dinput [T*B, I] of a layer.
struct ClassifierGradientBuffers<Values> {
    let dFeatures: Values, dOutputs: [Values], dInput: Values
}

/// What a forward leaves for its backward.
struct ClassifierPass<Values, Input> {
    let T: Int, B: Int
    /// Its dropout probability, 0 in inference.
    let dropout: Double
    let buffers: ClassifierBuffers<Values>
    /// inputs[l][d] as each layer read it.
    let inputs: [[Input]]
}

/// The mask seeds of a training forward, taken from the run's generator in the order the masks are
/// drawn (the embedding's, where there is one, then the features'), in slots 0 and 1.
struct ClassifierMaskSeeds {
    static func draw(dropout p: Double, embed E: Int, rng: inout RandomGenerator) -> MaskSeeds? {
        guard p > 0 else { return nil }
        let embedding = E > 0 ? rng.next() : 0
        return MaskSeeds(words: [embedding, rng.next()])
    }
}

extension ClassifierGraph {
    typealias Values = Operations.Values

    /// Logits [B, C] into the buffers' logits for B items of T characters (ids time-major, held by the
    /// model); with dropout above 0, its masks from the operations' seeds (ClassifierMaskSeeds).
    func forward(_ graph: Operations, T: Int, B: Int, dropout p: Double, parameters prm: Values, buffers ws: ClassifierBuffers<Values>)
    throws(Operations.Failure) -> ClassifierPass<Values, Layer.Input> {
        let H = config.hidden, E = config.embed, D = config.directions, rows = T * B, layers = classifierLayers
        var inputs: [[Layer.Input]] = [], below: [Values] = []
        for l in 0..<config.layers {
            let I = config.inputSize(layer: l), x = ws.inputs[l][0]
            if l > 0 {
                try graph.copyRows(T: T, B: B, width: H, from: below[0], lds: H, to: x, ldd: I, reversed: false)
                if D == 2 {
                    try graph.copyRows(T: T, B: B, width: H, from: below[1], lds: H, to: graph.advanced(x, byFloats: H), ldd: I,
                                       reversed: true)
                }
            } else if idInput(direction: 0) == nil {
                try embed(into: x, rows: rows, parameters: prm)
                if p > 0 && E > 0 { try dropout(graph, x, mask: ws.embeddingMask, count: rows * E, p: p, seed: 0) }
            }
            var read: [Layer.Input] = [], outputs: [Values] = []
            for d in 0..<D {
                var input = Layer.rows(ws.inputs[l][d])
                if l == 0, let ids = idInput(direction: d) {
                    input = ids
                } else if d == 1 {
                    try graph.copyRows(T: T, B: B, width: I, from: x, lds: I, to: ws.inputs[l][1], ldd: I, reversed: true)
                }
                try graph.zero(ws.zeroState, count: config.cell.stateCount * B * H)
                outputs.append(try layers[l][d].run(input, T: T, B: B, params: prm, state: ws.zeroState, training: true))
                read.append(input)
            }
            inputs.append(read)
            below = outputs
        }
        for d in 0..<D {
            try graph.copyRows(T: 1, B: B, width: H, from: graph.advanced(below[d], byFloats: (T - 1) * B * H), lds: H,
                               to: graph.advanced(ws.features, byFloats: d * H), ldd: D * H, reversed: false)
        }
        if p > 0 { try dropout(graph, ws.features, mask: ws.featureMask, count: B * D * H, p: p, seed: 1) }
        try graph.decode(ws.features, rows: B, parameters: prm, layout: layout, hidden: D * H, vocabulary: config.categories,
                         into: ws.logits, head: "classifier")
        return ClassifierPass(T: T, B: B, dropout: p, buffers: ws, inputs: inputs)
    }

    private func dropout(_ graph: Operations, _ x: Values, mask: Values, count: Int, p: Double, seed: Int) throws(Operations.Failure) {
        try graph.drawMask(mask, count: count, p: p, period: count, seed: seed)
        try graph.multiply(x, by: mask, into: x, count: count)
    }

    /// Backward from dL/dlogits held in the pass's logits; adds into `g` (zeroed by the caller).
    func backward(_ graph: Operations, _ pass: ClassifierPass<Values, Layer.Input>, parameters p: Values, gradients g: Values,
                  buffers gs: ClassifierGradientBuffers<Values>) throws(Operations.Failure) {
        let (T, B) = (pass.T, pass.B), ws = pass.buffers, layers = classifierLayers
        let H = config.hidden, E = config.embed, D = config.directions, rows = T * B
        try graph.decoderBackward(ws.logits, top: ws.features, rows: B, parameters: p, gradients: g, layout: layout, hidden: D * H,
                                  vocabulary: config.categories, into: gs.dFeatures, head: "classifier")
        if pass.dropout > 0 { try graph.multiply(gs.dFeatures, by: ws.featureMask, into: gs.dFeatures, count: B * D * H) }
        // Only the last step of the top layer receives a gradient from the head.
        for d in 0..<D {
            try graph.zero(gs.dOutputs[d], count: rows * H)
            try graph.copyRows(T: 1, B: B, width: H, from: graph.advanced(gs.dFeatures, byFloats: d * H), lds: D * H,
                               to: graph.advanced(gs.dOutputs[d], byFloats: (T - 1) * B * H), ldd: H, reversed: false)
        }
        for l in stride(from: config.layers - 1, through: 0, by: -1) {
            let I = config.inputSize(layer: l), needInput = l > 0 || E > 0
            var dInputs: [Values?] = []
            for d in 0..<D {
                dInputs.append(try layers[l][d].runBackward(pass.inputs[l][d], T: T, B: B, params: p, grads: g, dOutput: gs.dOutputs[d],
                                                            needInputGradient: needInput))
            }
            guard needInput, let dForward = dInputs[0] else { break }
            // The gradient of layer l's input in original time order: the forward part plus the reverse part un-reversed.
            let dx = gs.dInput
            try graph.copy(dForward, to: dx, count: rows * I)
            if D == 2, let dReverse = dInputs[1] { try graph.addRows(T: T, B: B, width: I, from: dReverse, into: dx, reversed: true) }
            if l > 0 {
                try graph.copyRows(T: T, B: B, width: H, from: dx, lds: I, to: gs.dOutputs[0], ldd: H, reversed: false)
                if D == 2 {
                    try graph.copyRows(T: T, B: B, width: H, from: graph.advanced(dx, byFloats: H), lds: I, to: gs.dOutputs[1], ldd: H,
                                       reversed: true)
                }
            } else {
                if pass.dropout > 0 { try graph.multiply(dx, by: ws.embeddingMask, into: dx, count: rows * E) }
                try addEmbeddingGradient(dx, rows: rows, into: graph.advanced(g, byFloats: layout.offset("embedding.weight")))
            }
        }
    }
}
