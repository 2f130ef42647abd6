import CCharRNNKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Embedding(V, E) -> L recurrent layers -> dropout -> Linear(H, V), over a whole sequence at once.
/// One flat parameter buffer and one gradient buffer of the same layout (`layout`), so clipping,
/// optimizers and checkpoints each work over a single array.
///
/// Inputs are time-major: row t*B + b is stream b at step t.
/// Activation memory for T steps of B streams (floats): per layer (T+1)*B*H hidden states plus the
/// cell's own (LSTM: 4*T*B*H gates + (T+1)*B*H cells; GRU: 6*T*B*H; RNN: T*B*H), with dropout another
/// 2*T*B*H per layer, plus T*B*E for the embedding and T*B*V logits; backward reuses workspaces of
/// the same sizes.
package final class CharRNNModel {
    /// Training-only regularisers of AWD-LSTM (Merity et al. 2017, "Regularizing and optimizing LSTM
    /// language models"). They change how a training step sees the weights, never the weights a model
    /// keeps: inference and checkpoints are the same with or without them.
    package struct Regularization: Sendable, Equatable {
        /// DropConnect on each layer's W_hh: one mask per minibatch, shared by every time step.
        package var weightDrop = 0.0
        /// Drops whole characters: each embedding row is kept or zeroed for the minibatch.
        package var embedDropout = 0.0
        /// The dropout masks after each layer are drawn once per sequence and reused at every step.
        package var variational = false

        package init(weightDrop: Double = 0, embedDropout: Double = 0, variational: Bool = false) {
            self.weightDrop = weightDrop; self.embedDropout = embedDropout; self.variational = variational
        }
    }

    package let config: ModelConfig
    package var regularization = Regularization()
    package let layout: ParameterLayout
    package let parameters: FloatBuffer
    package let gradients: FloatBuffer
    let layers: [RecurrentLayer]

    private let embedded = FloatBuffer(count: 0)
    /// The embedding times layer 0's W_ih^T, [V, G*H], when a call folds them (see forward); while
    /// frozen, layer 0's input product of every character, made once by freezeForInference.
    private let projectedTable = FloatBuffer(count: 0)
    private var tableFrozen = false
    private let categoryIds = IdBuffer()
    private let masks: [FloatBuffer]
    private let dropped: [FloatBuffer]
    package let logits = FloatBuffer(count: 0)
    /// decoder.weight packed by freezeForInference.
    private let packedDecoder = PackedMatrix()
    private var decoderFrozen = false
    private let dTop = FloatBuffer(count: 0)
    private let ones = FloatBuffer(count: 0)
    /// The weight gradients' products (the decoder's and every layer's) and their one workspace.
    private let weightGradients = SharedPanelProduct()
    private var top: UnsafeMutablePointer<Float>?
    private var layerInputs: [LayerInput] = []
    private var lastShape = (T: 0, B: 0, training: false)
    /// Weight drop: the parameters with each W_hh masked, and the masks.
    private let dropConnected = FloatBuffer(count: 0)
    private let weightMasks: [FloatBuffer]
    /// Embedding dropout: one factor per character (0 or 1/(1-p)), for the last forward; nil when off.
    private let embedMask = FloatBuffer(count: 0)
    private var lastEmbedMask: UnsafeMutablePointer<Float>?
    /// The parameters the last forward used (dropConnected under weight drop).
    private var lastParameters: UnsafeMutablePointer<Float>?

    package init(config: ModelConfig) {
        self.config = config
        layout = ParameterLayout(config)
        parameters = FloatBuffer(count: layout.count)
        gradients = FloatBuffer(count: layout.count)
        var layers: [RecurrentLayer] = []
        for l in 0..<config.layers {
            layers.append(config.cell.makeLayer(inputSize: config.inputSize(layer: l), hidden: config.hidden,
                                              layout: layout, layer: l))
        }
        for layer in layers { layer.weightGradients = weightGradients }
        self.layers = layers
        masks = (0..<config.layers).map { _ in FloatBuffer(count: 0) }
        dropped = (0..<config.layers).map { _ in FloatBuffer(count: 0) }
        weightMasks = (0..<config.layers).map { _ in FloatBuffer(count: 0) }
    }

    package var parameterCount: Int { layout.count }

    /// PyTorch's initialisation: recurrent weights and biases U(-1/sqrt(H), 1/sqrt(H)); embedding N(0, 1);
    /// decoder U(-1/sqrt(H), 1/sqrt(H)). The LSTM forget-gate input bias starts at 1 (torch-rnn's choice).
    package func initializeParameters(rng: inout RandomGenerator) {
        let p = parameters.pointer
        for slot in layout.slots {
            let k: Float = 1 / Float(config.hidden).squareRoot()
            if slot.name == "embedding.weight" {
                for j in 0..<slot.count { p[slot.offset + j] = Float(Self.normal(&rng)) }
            } else {
                for j in 0..<slot.count { p[slot.offset + j] = (rng.nextFloat() * 2 - 1) * k }
            }
            if config.cell == .lstm && slot.name.hasPrefix("rnn.bias_ih_l") {
                for j in config.hidden..<(2 * config.hidden) { p[slot.offset + j] = 1 }
            }
        }
    }

    static func normal(_ rng: inout RandomGenerator) -> Double {
        let u1 = max(rng.nextDouble(), 1e-300), u2 = rng.nextDouble()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Characters read per forward pass when a prime is fed: a long prime then needs no more memory
    /// than a short one (the workspaces keep their largest size).
    package static let primeChunk = 256

    /// Feeds `ids` from `state` (inference, no dropout), primeChunk characters a pass.
    package func read(_ ids: [Int32], state: HiddenState, categories: [Int32]?) {
        var noDropout = RandomGenerator(seed: 0)
        ids.withUnsafeBufferPointer { p in
            for start in stride(from: 0, to: ids.count, by: Self.primeChunk) {
                _ = forward(p.baseAddress! + start, T: min(Self.primeChunk, ids.count - start), B: 1, state: state,
                            training: false, rng: &noDropout, categories: categories)
            }
        }
    }

    /// Packs the recurrent weights once for many inference calls (sampling, serving) instead of once per
    /// call. A training forward undoes it; after changing `parameters` any other way, call it again.
    package func freezeForInference() {
        for layer in layers { layer.freeze(parameters.pointer) }
        // An inference step then copies its characters' rows of the input product instead of
        // multiplying: the embedding times W_ih^T, or W_ih's columns (one-hot input). A conditional
        // model's input also carries the category, so it multiplies.
        if config.categories == 0 {
            if config.embed > 0 {
                projectEmbedding(parameters.pointer)
            } else {
                let V = config.vocabSize, gh = config.cell.gateCount * config.hidden
                let wIh = parameters.pointer + layout.offset("rnn.weight_ih_l0")
                projectedTable.reserve(V * gh)
                let table = projectedTable.pointer
                for j in 0..<gh { for v in 0..<V { table[v * gh + j] = wIh[j * V + v] } }
            }
            tableFrozen = true
        }
        packedDecoder.pack(parameters.pointer + layout.offset("decoder.weight"), k: config.hidden, n: config.vocabSize,
                           transposed: true)
        decoderFrozen = true
    }

    /// projectedTable [V, G*H] = the embedding times layer 0's W_ih^T, both read from the parameters `p`:
    /// every character's input product.
    private func projectEmbedding(_ p: UnsafePointer<Float>) {
        let V = config.vocabSize, E = config.embed, gh = config.cell.gateCount * config.hidden
        projectedTable.reserve(V * gh)
        BLAS.pgemm(transB: true, m: V, n: gh, k: E, a: p + layout.offset("embedding.weight"), lda: E,
                   b: p + layout.offset("rnn.weight_ih_l0"), ldb: E, c: projectedTable.pointer, ldc: gh)
    }

    /// Drops the frozen packing: each forward packs the current weights again.
    package func thaw() {
        for layer in layers { layer.frozen = false }
        tableFrozen = false
        decoderFrozen = false
    }

    package func hiddenState(batch: Int) -> HiddenState { HiddenState(config: config, batch: batch) }

    @inline(__always)
    static func scale(_ x: UnsafeMutablePointer<Float>, _ n: Int, by f: Float) {
        if f != 1 { for k in 0..<n { x[k] *= f } }
    }

    // MARK: forward

    /// Runs the model over T steps of B streams and leaves the logits [T*B, V] in `logits`.
    /// With training on, dropout masks are drawn from `rng`. The state advances to the last step.
    @discardableResult
    package func forward(_ inputs: UnsafePointer<Int32>, T: Int, B: Int, state: HiddenState, training: Bool,
                        rng: inout RandomGenerator, categories: [Int32]? = nil) -> UnsafeMutablePointer<Float> {
        precondition(state.batch == B, "hidden state batch does not match")
        StepPhases.mark(.input)
        if training { thaw() }
        let rows = T * B, H = config.hidden, V = config.vocabSize, E = config.embed
        // Every mask's seed is drawn here, before any mask, in the order the GPU's forward draws them.
        let seeds = training ? MaskSeeds(config: config, regularization: regularization, rng: &rng) : nil
        let graph = CPUGraphOperations(seeds: seeds)
        var p = parameters.pointer
        if training && regularization.weightDrop > 0 {
            dropConnected.reserve(layout.count)
            for (l, mask) in weightMasks.enumerated() { mask.reserve(layout["rnn.weight_hh_l\(l)"]!.count) }
            graph.dropConnect(parameters.pointer, into: dropConnected.pointer, masks: weightMasks.map(\.pointer), layout: layout,
                              p: regularization.weightDrop)
            p = dropConnected.pointer
        }
        lastParameters = p
        lastEmbedMask = nil
        if training && regularization.embedDropout > 0 && E > 0 {
            embedMask.reserve(V)
            graph.drawEmbeddingMask(embedMask.pointer, vocabulary: V, p: regularization.embedDropout, layers: config.layers)
            lastEmbedMask = embedMask.pointer
        }
        let em = lastEmbedMask
        logits.reserve(rows * V)
        let input: LayerInput
        let C = config.categories
        if C > 0 {
            // [character (embedded or one-hot) | category one-hot] per row; the category is stream b's.
            precondition(categories?.count == B, "a conditional model needs one category per stream")
            categoryIds.set(categories!)
            let I = config.inputSize(layer: 0), base = I - C, cats = categoryIds.pointer
            embedded.reserve(rows * I)
            let out = embedded.pointer, table = E > 0 ? p + layout.offset("embedding.weight") : p
            Parallel.forRows(rows, rowLength: I) { r in
                let row = out + r * I
                row.update(repeating: 0, count: I)
                if E > 0 { row.update(from: table + Int(inputs[r]) * E, count: E) } else { row[Int(inputs[r])] = 1 }
                if let em { Self.scale(row, E, by: em[Int(inputs[r])]) }
                row[base + Int(cats[r % B])] = 1
            }
            input = .dense(embedded.pointer)
        } else if tableFrozen {
            input = .projected(ids: inputs, table: UnsafePointer(projectedTable.pointer), vocabulary: V)
        } else if E > 0 && rows > V && !layers[0].frozen {
            // More rows than characters: multiply the V embedding rows by W_ih once and look rows up, instead
            // of multiplying every row (the same sums; layer 0's input product shrinks by rows / V).
            let gh = config.cell.gateCount * H
            projectEmbedding(p)
            if let em { for v in 0..<V { Self.scale(projectedTable.pointer + v * gh, gh, by: em[v]) } }
            input = .projected(ids: inputs, table: UnsafePointer(projectedTable.pointer), vocabulary: V)
        } else if E > 0 {
            embedded.reserve(rows * E)
            let table = p + layout.offset("embedding.weight")
            let out = embedded.pointer
            Parallel.forRows(rows, rowLength: E) { r in
                (out + r * E).update(from: table + Int(inputs[r]) * E, count: E)
                if let em { Self.scale(out + r * E, E, by: em[Int(inputs[r])]) }
            }
            input = .dense(embedded.pointer)
        } else {
            input = .oneHot(inputs)
        }
        let dropping = training && config.dropout > 0
        if dropping { for l in 0..<config.layers { masks[l].reserve(rows * H); dropped[l].reserve(rows * H) } }
        let dropout = dropping ? LayerDropout(p: config.dropout, variational: regularization.variational, masks: masks.map(\.pointer),
                                              dropped: dropped.map(\.pointer)) : nil
        let out: UnsafeMutablePointer<Float>
        (out, layerInputs) = graph.layers(layers, first: input, T: T, B: B, hidden: H, params: p, states: state.blocks.map(\.pointer),
                                          training: training, dropout: dropout)
        top = out
        StepPhases.mark(.decoder)
        let lg = logits.pointer
        if decoderFrozen && rows <= RecurrentLayer.panelSplitRows {
            // The same kernel for every small inference step, so a row's logits do not depend on the batch.
            graph.fillRows(lg, rows: rows, count: V, with: p + layout.offset("decoder.bias"))
            packedDecoder.multiplyByPanels(rows: rows, out, into: lg, accumulate: true)
        } else {
            graph.decode(out, rows: rows, parameters: p, layout: layout, hidden: H, vocabulary: V, into: lg)
        }
        lastShape = (T, B, dropping)
        return logits.pointer
    }

    /// Summed cross-entropy (nats) of the targets under the logits of the last forward; no gradient.
    package func lossOfLastForward(targets: UnsafePointer<Int32>) -> Double {
        softmaxCrossEntropy(rows: lastShape.T * lastShape.B, targets: targets, scale: 0, gradient: false)
    }

    /// Summed cross-entropy of `rows` rows of logits, split by rows; partial sums are added in part
    /// order, so the total does not depend on timing. With gradient, logits become scale * dL/dlogits.
    func softmaxCrossEntropy(rows: Int, targets: UnsafePointer<Int32>, scale: Float, gradient: Bool) -> Double {
        let V = config.vocabSize, lg = logits.pointer
        let parts = rows * V < 1 << 14 ? 1 : Parallel.threads
        var partial = [Double](repeating: 0, count: parts)
        partial.withUnsafeMutableBufferPointer { sums in
            let sp = sums.baseAddress!
            Parallel.run(parts) { p in
                let r = Parallel.range(part: p, of: parts, total: rows)
                sp[p] = crn_softmax_xent(Int32(r.count), Int32(V), lg + r.lowerBound * V, targets + r.lowerBound,
                                         scale, gradient ? 1 : 0)
            }
        }
        return partial.reduce(0, +)
    }

    // MARK: training step

    /// Forward, mean cross-entropy and backward: gradients of the mean loss over T*B characters land in
    /// `gradients` (overwritten). Returns the mean loss in nats.
    package func lossAndGradients(_ inputs: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, T: Int, B: Int,
                                 state: HiddenState, rng: inout RandomGenerator, training: Bool = true,
                                 categories: [Int32]? = nil) -> Double {
        forward(inputs, T: T, B: B, state: state, training: training, rng: &rng, categories: categories)
        let rows = T * B
        StepPhases.mark(.loss)
        let total = softmaxCrossEntropy(rows: rows, targets: targets, scale: 1 / Float(rows), gradient: true)
        backwardFromLogitGradients(inputs, T: T, B: B)
        return total / Double(rows)
    }

    /// Backward from dL/dlogits held in `logits` (as left by the loss kernel); overwrites `gradients`.
    package func backwardFromLogitGradients(_ inputs: UnsafePointer<Int32>, T: Int, B: Int) {
        let rows = T * B, V = config.vocabSize, H = config.hidden, E = config.embed
        let p = lastParameters ?? parameters.pointer, g = gradients.pointer
        StepPhases.mark(.decoder)
        Parallel.zero(gradients)
        if ones.count < rows {
            ones.reserve(rows)
            ones.pointer.update(repeating: 1, count: rows)
        }
        dTop.reserve(rows * H)
        let graph = CPUGraphOperations(seeds: nil, weightGradients: weightGradients, ones: ones.pointer)
        graph.decoderBackward(logits.pointer, top: top!, rows: rows, parameters: p, gradients: g, layout: layout, hidden: H,
                              vocabulary: V, into: dTop.pointer)
        var folded = false
        if case .projected = layerInputs[0] { folded = true }
        let dFirst = graph.layersBackward(layers, inputs: layerInputs, dTop: dTop.pointer, T: T, B: B, hidden: H, params: p, gradients: g,
                                          dropoutMasks: lastShape.training ? masks.map(\.pointer) : nil, firstInputGradient: E > 0 && !folded)
        StepPhases.mark(.weightGradients)
        if p != parameters.pointer { graph.maskWeightDropGradients(g, masks: weightMasks.map(\.pointer), layout: layout) }
        StepPhases.mark(.input)
        let em = lastEmbedMask
        if folded {
            // table = embedding W_ih^T, so dW_ih += dTable^T embedding and d embedding += dTable W_ih.
            let gh = config.cell.gateCount * H, dTable = layers[0].dTable.pointer
            let emb = layout.offset("embedding.weight"), wih = layout.offset("rnn.weight_ih_l0")
            if let em { for v in 0..<V { Self.scale(dTable + v * gh, gh, by: em[v]) } }
            weightGradients.accumulate(m: gh, n: E, k: V, a: dTable, lda: gh, b: p + emb, ldb: E, into: g + wih, ldc: E)
            BLAS.pgemm(m: V, n: E, k: gh, a: dTable, lda: gh, b: p + wih, ldb: E, beta: 1, c: g + emb, ldc: E)
        } else if E > 0 {
            // Rows with the same id add into the same table row: parts own disjoint columns instead.
            let table = g + layout.offset("embedding.weight"), d = dFirst!, I = config.inputSize(layer: 0)
            let parts = Parallel.parts(floats: rows * E)
            Parallel.run(parts) { p in
                let cols = Parallel.range(part: p, of: parts, total: E)
                for r in 0..<rows {
                    let id = Int(inputs[r]), from = d + r * I + cols.lowerBound, to = table + id * E + cols.lowerBound
                    if let em {
                        let f = em[id]
                        if f != 0 { for k in 0..<cols.count { to[k] += f * from[k] } }
                    } else {
                        crn_add(from, to, cols.count)
                    }
                }
            }
        }
    }
}
