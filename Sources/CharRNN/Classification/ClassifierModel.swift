import CCharRNNKernels

/// A sequence classifier: Embedding (or one-hot) -> L recurrent layers, optionally bidirectional ->
/// the final state (both directions' final states, concatenated) -> Linear(D*H, C).
package struct ClassifierConfig: Codable, Sendable, Equatable {
    package var cell: CellKind
    package var layers: Int
    package var hidden: Int
    package var embed: Int
    package var bidirectional: Bool
    package var vocabSize: Int
    package var categories: Int

    package init(cell: CellKind, layers: Int, hidden: Int, embed: Int, bidirectional: Bool, vocabSize: Int, categories: Int) {
        self.cell = cell; self.layers = layers; self.hidden = hidden; self.embed = embed
        self.bidirectional = bidirectional; self.vocabSize = vocabSize; self.categories = categories
    }

    enum CodingKeys: String, CodingKey {
        case cell, layers, hidden, embed, bidirectional, categories
        case vocabSize = "vocab_size"
    }

    package var directions: Int { bidirectional ? 2 : 1 }

    package func inputSize(layer l: Int) -> Int { l == 0 ? (embed > 0 ? embed : vocabSize) : directions * hidden }

    /// The widest layer input: what one layer's input gradient (or reversed input) needs per row.
    var widestInput: Int { (0..<layers).map(inputSize(layer:)).max()! }

    package func validate() throws {
        try ModelConfig(cell: cell, layers: layers, hidden: hidden, embed: embed, vocabSize: max(vocabSize, 1)).validate()
        guard categories >= 2 else { throw CharRNNError.invalidOption("a classifier needs at least two categories") }
    }

    /// PyTorch's names: nn.RNN/LSTM/GRU(bidirectional=...) as `rnn`, the head as `classifier`.
    package var layout: ParameterLayout {
        var slots: [(String, [Int])] = []
        if embed > 0 { slots.append(("embedding.weight", [vocabSize, embed])) }
        let gh = cell.gateCount * hidden
        for l in 0..<layers {
            for suffix in (bidirectional ? ["", "_reverse"] : [""]) {
                slots.append(("rnn.weight_ih_l\(l)\(suffix)", [gh, inputSize(layer: l)]))
                slots.append(("rnn.weight_hh_l\(l)\(suffix)", [gh, hidden]))
                slots.append(("rnn.bias_ih_l\(l)\(suffix)", [gh]))
                slots.append(("rnn.bias_hh_l\(l)\(suffix)", [gh]))
            }
        }
        slots.append(("classifier.weight", [categories, directions * hidden]))
        slots.append(("classifier.bias", [categories]))
        return ParameterLayout(slots: slots)
    }
}

/// The classifier on the CPU: ClassifierGraph over CPUGraphOperations and the CPU's layers.
package final class ClassifierModel: ClassifierGraph, ClassifierLogits {
    typealias Operations = CPUGraphOperations
    typealias Layer = RecurrentLayer
    package let config: ClassifierConfig
    package let layout: ParameterLayout
    package let parameters: FloatBuffer
    package let gradients: FloatBuffer
    let classifierLayers: [[RecurrentLayer]]
    /// inputs[l][d]: what layer l direction d read (time-reversed for d = 1).
    private let inputs: [[FloatBuffer]]
    private let forwardIds = IdBuffer()
    private let reversedIds = IdBuffer()
    private let zeroState = FloatBuffer(count: 0)
    package let features = FloatBuffer(count: 0)
    package let logits = FloatBuffer(count: 0)
    private let dFeatures = FloatBuffer(count: 0)
    private let dOut: [FloatBuffer]
    private let dConcat = FloatBuffer(count: 0)
    private let ones = FloatBuffer(count: 0)
    private let embeddingMask = FloatBuffer(count: 0), featureMask = FloatBuffer(count: 0)
    private var ids: [Int32] = []
    private var seeds: MaskSeeds?
    private var lastPass: ClassifierPass<UnsafeMutablePointer<Float>, LayerInput>?

    package init(config: ClassifierConfig) {
        self.config = config
        layout = config.layout
        parameters = FloatBuffer(count: layout.count)
        gradients = FloatBuffer(count: layout.count)
        classifierLayers = (0..<config.layers).map { l in
            (0..<config.directions).map { d in
                config.cell.makeLayer(inputSize: config.inputSize(layer: l), hidden: config.hidden,
                                    layout: config.layout, layer: l, suffix: d == 0 ? "" : "_reverse")
            }
        }
        let weightGradients = SharedPanelProduct()
        for layer in classifierLayers.joined() { layer.weightGradients = weightGradients }
        inputs = (0..<config.layers).map { _ in (0..<config.directions).map { _ in FloatBuffer(count: 0) } }
        dOut = (0..<config.directions).map { _ in FloatBuffer(count: 0) }
    }

    package var parameterCount: Int { layout.count }

    /// PyTorch's initialisation (see CharRNNModel), with the LSTM forget-gate input bias at 1.
    package func initializeParameters(rng: inout RandomGenerator) {
        let p = parameters.pointer, k = 1 / Float(config.hidden).squareRoot()
        for slot in layout.slots {
            for j in 0..<slot.count {
                p[slot.offset + j] = slot.name == "embedding.weight" ? Float(CharRNNModel.normal(&rng)) : (rng.nextFloat() * 2 - 1) * k
            }
            if config.cell == .lstm && slot.name.hasPrefix("rnn.bias_ih_l") {
                for j in config.hidden..<(2 * config.hidden) { p[slot.offset + j] = 1 }
            }
        }
    }

    /// Logits [B, C] for B sequences of equal length T, ids time-major (row t*B + b); no dropout.
    @discardableResult
    package func forward(_ ids: [Int32], T: Int, B: Int) -> UnsafeMutablePointer<Float> {
        var unused = RandomGenerator(seed: 0)
        return forward(ids, T: T, B: B, dropout: 0, rng: &unused)
    }

    /// With `dropout` above 0 (training), the embedded characters and the final features are dropped
    /// with that probability and the rest scaled by 1/(1-p), masks seeded from `rng` (ClassifierMaskSeeds):
    /// the masks of DeviceClassifierModel too.
    @discardableResult
    package func forward(_ ids: [Int32], T: Int, B: Int, dropout: Double = 0,
                        rng: inout RandomGenerator) -> UnsafeMutablePointer<Float> {
        precondition(ids.count == T * B)
        self.ids = ids
        let H = config.hidden, E = config.embed, D = config.directions, rows = T * B
        if E == 0 {
            var reversed = [Int32](repeating: 0, count: rows)
            for t in 0..<T { for b in 0..<B { reversed[t * B + b] = ids[(T - 1 - t) * B + b] } }
            forwardIds.set(ids)
            reversedIds.set(reversed)
        }
        for l in 0..<config.layers where l > 0 || E > 0 {
            for d in 0..<D { inputs[l][d].reserve(rows * config.inputSize(layer: l)) }
        }
        zeroState.reserve(config.cell.stateCount * B * H)
        features.reserve(B * D * H)
        logits.reserve(B * config.categories)
        if dropout > 0 {
            embeddingMask.reserve(rows * E)
            featureMask.reserve(B * D * H)
        }
        seeds = ClassifierMaskSeeds.draw(dropout: dropout, embed: E, rng: &rng)
        let buffers = ClassifierBuffers(inputs: inputs.map { $0.map(\.pointer) }, zeroState: zeroState.pointer, features: features.pointer,
                                        logits: logits.pointer, embeddingMask: embeddingMask.pointer, featureMask: featureMask.pointer)
        lastPass = forward(CPUGraphOperations(seeds: seeds), T: T, B: B, dropout: dropout, parameters: parameters.pointer, buffers: buffers)
        return logits.pointer
    }

    func idInput(direction d: Int) -> LayerInput? {
        config.embed > 0 ? nil : .oneHot(d == 0 ? forwardIds.pointer : reversedIds.pointer)
    }

    func embed(into x: UnsafeMutablePointer<Float>, rows: Int, parameters p: UnsafeMutablePointer<Float>) {
        let E = config.embed, table = p + layout.offset("embedding.weight")
        for r in 0..<rows { (x + r * E).update(from: table + Int(ids[r]) * E, count: E) }
    }

    func addEmbeddingGradient(_ d: UnsafeMutablePointer<Float>, rows: Int, into table: UnsafeMutablePointer<Float>) {
        let E = config.embed
        for r in 0..<rows { crn_add(d + r * E, table + Int(ids[r]) * E, E) }
    }

    /// Weighted mean cross-entropy of the last forward (PyTorch's CrossEntropyLoss(weight=w)), and its
    /// gradients in `gradients` (overwritten). `weights` nil means all 1.
    package func lossAndGradients(labels: [Int32], weights: [Float]?) -> Double {
        let pass = lastPass!, B = pass.B, C = config.categories
        var total = 0.0, weightSum: Float = 0
        for b in 0..<B { weightSum += weights?[Int(labels[b])] ?? 1 }
        for b in 0..<B {
            let w = weights?[Int(labels[b])] ?? 1
            var y = labels[b]
            total += Double(w) * crn_softmax_xent(1, Int32(C), logits.pointer + b * C, &y, w / weightSum, 1)
        }
        let rows = pass.T * B, H = config.hidden, D = config.directions
        dFeatures.reserve(B * D * H)
        for d in 0..<D { dOut[d].reserve(rows * H) }
        dConcat.reserve(rows * config.widestInput)
        if ones.count < B {
            ones.reserve(B)
            ones.pointer.update(repeating: 1, count: B)
        }
        gradients.zero()
        backward(CPUGraphOperations(seeds: seeds, ones: ones.pointer), pass, parameters: parameters.pointer, gradients: gradients.pointer,
                 buffers: ClassifierGradientBuffers(dFeatures: dFeatures.pointer, dOutputs: dOut.map(\.pointer), dInput: dConcat.pointer))
        return total / Double(weightSum)
    }

    func logits(_ ids: [Int32], T: Int, B: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: forward(ids, T: T, B: B), count: B * config.categories))
    }

    /// Class probabilities [B][C] of the last forward.
    package func probabilities() -> [[Float]] {
        let C = config.categories
        return (0..<(lastPass?.B ?? 0)).map { b in
            var probs = [Float](repeating: 0, count: C)
            crn_softmax_temperature(Int32(C), logits.pointer + b * C, 1, &probs)
            return probs
        }
    }
}
