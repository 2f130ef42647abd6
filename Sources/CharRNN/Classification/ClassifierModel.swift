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

package final class ClassifierModel {
    package let config: ClassifierConfig
    package let layout: ParameterLayout
    package let parameters: FloatBuffer
    package let gradients: FloatBuffer
    /// layers[l][d]: layer l, direction d (0 forward, 1 reverse).
    private let layers: [[RecurrentLayer]]
    /// inputs[l][d]: what layer l direction d read (time-reversed for d = 1).
    private var inputs: [[FloatBuffer]]
    private let forwardIds = IdBuffer()
    private let reversedIds = IdBuffer()
    private let zeroState = FloatBuffer(count: 0)
    private var outputs: [[UnsafeMutablePointer<Float>]] = []
    package let features = FloatBuffer(count: 0)
    package let logits = FloatBuffer(count: 0)
    private let dFeatures = FloatBuffer(count: 0)
    private let dOut: [FloatBuffer]
    private let dConcat = FloatBuffer(count: 0)
    private var shape = (T: 0, B: 0)
    private var droppingWith = 0.0
    private let embeddingMask = FloatBuffer(count: 0), featureMask = FloatBuffer(count: 0)
    private var ids: [Int32] = []

    package init(config: ClassifierConfig) {
        self.config = config
        layout = config.layout
        parameters = FloatBuffer(count: layout.count)
        gradients = FloatBuffer(count: layout.count)
        layers = (0..<config.layers).map { l in
            (0..<config.directions).map { d in
                config.cell.makeLayer(inputSize: config.inputSize(layer: l), hidden: config.hidden,
                                    layout: config.layout, layer: l, suffix: d == 0 ? "" : "_reverse")
            }
        }
        let weightGradients = SharedPanelProduct()
        for layer in layers.joined() { layer.weightGradients = weightGradients }
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

    /// Rows of `src` [T*B, width] in reversed time order into `dst` (block t <- block T-1-t).
    private func reverseTime(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, T: Int, B: Int, width: Int) {
        let block = B * width
        for t in 0..<T { (dst + t * block).update(from: src + (T - 1 - t) * block, count: block) }
    }

    /// Logits [B, C] for B sequences of equal length T, ids time-major (row t*B + b); no dropout.
    @discardableResult
    package func forward(_ ids: [Int32], T: Int, B: Int) -> UnsafeMutablePointer<Float> {
        var unused = RandomGenerator(seed: 0)
        return forward(ids, T: T, B: B, dropout: 0, rng: &unused)
    }

    @discardableResult
    /// With `dropout` above 0 (training), the embedded characters and the final features are dropped
    /// with that probability and the rest scaled by 1/(1-p), masks drawn from `rng`.
    package func forward(_ ids: [Int32], T: Int, B: Int, dropout: Double = 0,
                        rng: inout RandomGenerator) -> UnsafeMutablePointer<Float> {
        precondition(ids.count == T * B)
        droppingWith = dropout
        self.ids = ids
        shape = (T, B)
        let H = config.hidden, E = config.embed, D = config.directions, rows = T * B
        let p = parameters.pointer
        var reversed = [Int32](repeating: 0, count: rows)
        for t in 0..<T { for b in 0..<B { reversed[t * B + b] = ids[(T - 1 - t) * B + b] } }
        forwardIds.set(ids)
        reversedIds.set(reversed)
        zeroState.reserve(config.cell.stateCount * B * H)
        outputs = []
        for l in 0..<config.layers {
            let I = config.inputSize(layer: l)
            if l == 0 && E > 0 {
                inputs[0][0].reserve(rows * E)
                let table = p + layout.offset("embedding.weight"), x = inputs[0][0].pointer
                for r in 0..<rows { (x + r * E).update(from: table + Int(ids[r]) * E, count: E) }
                if droppingWith > 0 { applyDropout(x, count: rows * E, mask: embeddingMask, rng: &rng) }
            } else if l > 0 {
                // Layer l reads both directions of layer l-1, each in original time order.
                inputs[l][0].reserve(rows * I)
                let x = inputs[l][0].pointer
                for r in 0..<rows {
                    (x + r * I).update(from: outputs[l - 1][0] + r * H, count: H)
                    if D == 2 {
                        let t = r / B, b = r % B
                        (x + r * I + H).update(from: outputs[l - 1][1] + ((T - 1 - t) * B + b) * H, count: H)
                    }
                }
            }
            var outs: [UnsafeMutablePointer<Float>] = []
            for d in 0..<D {
                zeroState.zero()
                let input: LayerInput
                if l == 0 && E == 0 {
                    input = .oneHot(d == 0 ? forwardIds.pointer : reversedIds.pointer)
                } else {
                    if d == 1 {
                        inputs[l][1].reserve(rows * I)
                        reverseTime(inputs[l][0].pointer, inputs[l][1].pointer, T: T, B: B, width: I)
                    }
                    input = .dense(inputs[l][d].pointer)
                }
                outs.append(layers[l][d].forward(input, T: T, B: B, params: p, state: zeroState.pointer))
            }
            outputs.append(outs)
        }
        // Features: each direction's output after its last step.
        features.reserve(B * D * H)
        for d in 0..<D {
            for b in 0..<B {
                (features.pointer + b * D * H + d * H).update(from: outputs[config.layers - 1][d] + ((T - 1) * B + b) * H, count: H)
            }
        }
        if droppingWith > 0 { applyDropout(features.pointer, count: B * D * H, mask: featureMask, rng: &rng) }
        let C = config.categories
        logits.reserve(B * C)
        for b in 0..<B { (logits.pointer + b * C).update(from: p + layout.offset("classifier.bias"), count: C) }
        BLAS.gemm(transB: true, m: B, n: C, k: D * H, a: features.pointer, lda: D * H,
                  b: p + layout.offset("classifier.weight"), ldb: D * H, beta: 1, c: logits.pointer, ldc: C)
        return logits.pointer
    }

    /// Weighted mean cross-entropy of the last forward (PyTorch's CrossEntropyLoss(weight=w)), and its
    /// gradients in `gradients` (overwritten). `weights` nil means all 1.
    package func lossAndGradients(labels: [Int32], weights: [Float]?) -> Double {
        let B = shape.B, C = config.categories
        var total = 0.0, weightSum: Float = 0
        for b in 0..<B { weightSum += weights?[Int(labels[b])] ?? 1 }
        for b in 0..<B {
            let w = weights?[Int(labels[b])] ?? 1
            var y = labels[b]
            total += Double(w) * crn_softmax_xent(1, Int32(C), logits.pointer + b * C, &y, w / weightSum, 1)
        }
        backward()
        return total / Double(weightSum)
    }

    /// Backward from dL/dlogits held in `logits`.
    private func backward() {
        let (T, B) = shape
        let H = config.hidden, E = config.embed, D = config.directions, C = config.categories, rows = T * B
        let p = parameters.pointer, g = gradients.pointer
        gradients.zero()
        let wc = layout.offset("classifier.weight"), bc = layout.offset("classifier.bias")
        BLAS.gemm(transA: true, m: C, n: D * H, k: B, a: logits.pointer, lda: C, b: features.pointer, ldb: D * H,
                  beta: 1, c: g + wc, ldc: D * H)
        for b in 0..<B { crn_add(logits.pointer + b * C, g + bc, C) }
        dFeatures.reserve(B * D * H)
        BLAS.gemm(m: B, n: D * H, k: C, a: logits.pointer, lda: C, b: p + wc, ldb: D * H, c: dFeatures.pointer, ldc: D * H)
        if droppingWith > 0 { DropoutMask.apply(dFeatures.pointer, featureMask.pointer, into: dFeatures.pointer, count: B * D * H) }
        // Only the last step of the top layer receives a gradient from the head.
        for d in 0..<D {
            dOut[d].reserve(rows * H)
            dOut[d].zero()
            for b in 0..<B {
                (dOut[d].pointer + ((T - 1) * B + b) * H).update(from: dFeatures.pointer + b * D * H + d * H, count: H)
            }
        }
        for l in stride(from: config.layers - 1, through: 0, by: -1) {
            let I = config.inputSize(layer: l)
            let needInput = l > 0 || E > 0
            var dIns: [UnsafeMutablePointer<Float>?] = []
            for d in 0..<D {
                let input: LayerInput
                if l == 0 && E == 0 {
                    input = .oneHot(d == 0 ? forwardIds.pointer : reversedIds.pointer)
                } else {
                    input = .dense(inputs[l][d].pointer)
                }
                dIns.append(layers[l][d].backward(input, T: T, B: B, params: p, grads: g, dOutput: dOut[d].pointer,
                                                  needInputGradient: needInput))
            }
            guard needInput else { break }
            // Gradient of layer l's input in original time order: forward part plus un-reversed reverse part.
            dConcat.reserve(rows * I)
            let dx = dConcat.pointer
            dx.update(from: dIns[0]!, count: rows * I)
            if D == 2 {
                for t in 0..<T { crn_add(dIns[1]! + (T - 1 - t) * B * I, dx + t * B * I, B * I) }
            }
            if l > 0 {
                for d in 0..<D {
                    for r in 0..<rows {
                        let src = d == 0 ? r : ((T - 1 - r / B) * B + r % B)
                        (dOut[d].pointer + src * H).update(from: dx + r * I + d * H, count: H)
                    }
                }
            } else {
                let table = g + layout.offset("embedding.weight")
                if droppingWith > 0 { DropoutMask.apply(dx, embeddingMask.pointer, into: dx, count: rows * E) }
                for r in 0..<rows { crn_add(dx + r * E, table + Int(ids[r]) * E, E) }
            }
        }
    }

    /// Zeroes each value with probability p and scales the rest by 1/(1-p), keeping the mask for backward.
    /// The mask takes one seed from `rng` (DropoutMask), as DeviceClassifierModel's does: the same masks.
    private func applyDropout(_ x: UnsafeMutablePointer<Float>, count: Int, mask: FloatBuffer, rng: inout RandomGenerator) {
        mask.reserve(count)
        DropoutMask.draw(mask.pointer, count: count, p: droppingWith, seed: rng.next())
        DropoutMask.apply(x, mask.pointer, into: x, count: count)
    }

    /// Class probabilities [B][C] of the last forward.
    package func probabilities() -> [[Float]] {
        let C = config.categories
        return (0..<shape.B).map { b in
            var probs = [Float](repeating: 0, count: C)
            crn_softmax_temperature(Int32(C), logits.pointer + b * C, 1, &probs)
            return probs
        }
    }
}
