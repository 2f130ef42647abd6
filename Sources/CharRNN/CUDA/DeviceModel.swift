import Foundation

/// CharRNNModel on a ComputeDevice: Embedding(V, E) (or one-hot) -> L recurrent layers -> dropout ->
/// Linear(H, V), forward and backward over a whole sequence, with the parameters and gradients in one
/// flat buffer each on the device, in ParameterLayout's order: a checkpoint is the same file whichever
/// device trained it. Read it beside Model/CharRNNModel.swift; each step has the same name there.
///
/// The batch's ids travel to the device (T*B ints and, for the embedding gradient, their CSR index);
/// nothing comes back within a step. The loss stays on the device until `lastLoss()` reads it.
/// Dropout masks come from the counter-based generator of KernelSource.dropout, seeded from `rng`, so a
/// step is the same on every run; they are not the CPU's masks (which come from the CPU's generator).
/// Each entry point is a host part (`prepare...`: draws and copies to the device) and a device part
/// (`queue...`: launches and products only), so that the device part of a training step can be
/// captured once and replayed (DeviceTrainingStep).
/// Device memory for T steps of B streams: the CPU model's activation formula, plus the parameters,
/// gradients and (in the trainer) the optimizer's moments.
package final class DeviceModel {
    package let config: ModelConfig
    package var regularization = CharRNNModel.Regularization()
    package let layout: ParameterLayout
    package let device: ComputeDevice
    package let parameters: DeviceBuffer
    package let gradients: DeviceBuffer
    /// [T*B, V] after a forward; dLoss/dlogits after lossAndGradients.
    package let logits: DeviceBuffer
    let layers: [DeviceRecurrentLayer]

    private let ids: DeviceBuffer, targets: DeviceBuffer, index: DeviceCSRIndex
    /// A conditional model's category of each stream (setCategories), and how many streams it covers.
    private let categoryIds: DeviceBuffer
    private var categoryStreams = 0
    private let embedded: DeviceBuffer, dTop: DeviceBuffer, ones: DeviceOnes
    /// One-hot input: the identity [V, V], looked up as an embedding.
    private let identity: DeviceBuffer?
    private let masks: [DeviceBuffer], dropped: [DeviceBuffer]
    /// Each layer's new h in a fused step (queueFusedStep), [B, H].
    private let stepHiddens: [DeviceBuffer]
    private let dropConnected: DeviceBuffer, weightMasks: [DeviceBuffer], embedMask: DeviceBuffer
    private let lossRows: DeviceBuffer, lossPartial: DeviceBuffer, lossTotal: DeviceBuffer
    private let softmaxLoss: DeviceSoftmaxLoss
    /// The dropout seeds of one training forward (2L + 1 words, read by dropout_mask): the weight
    /// drop of each layer, the embedding dropout, the dropout after each layer.
    private let seeds: DeviceBuffer
    private var last = (T: 0, B: 0, dropping: false, weightDrop: false, embedDrop: false)
    private var top: DevicePointer?
    /// Each layer's input in the last forward, for its backward.
    private var layerInputs: [DeviceLayerInput] = []
    private var lastIds: [Int32] = []

    package init(config: ModelConfig, device: ComputeDevice) throws {
        self.config = config
        self.device = device
        let layout = ParameterLayout(config)
        self.layout = layout
        parameters = try DeviceBuffer(device, count: layout.count)
        gradients = try DeviceBuffer(device, count: layout.count)
        logits = try DeviceBuffer(device, count: 0)
        let sharedPre = try DeviceBuffer(device, count: 0)
        layers = try (0..<config.layers).map {
            try config.cell.makeDeviceLayer(device, inputSize: config.inputSize(layer: $0), hidden: config.hidden,
                                          layout: layout, layer: $0, sharedPre: sharedPre)
        }
        ids = try DeviceBuffer(device, count: 0, elementSize: 4)
        categoryIds = try DeviceBuffer(device, count: 0, elementSize: 4)
        targets = try DeviceBuffer(device, count: 0, elementSize: 4)
        index = try DeviceCSRIndex(device, vocabulary: config.vocabSize)
        embedded = try DeviceBuffer(device, count: 0)
        dTop = try DeviceBuffer(device, count: 0)
        ones = try DeviceOnes(device)
        identity = config.embed == 0 ? try DeviceBuffer.identity(device, size: config.vocabSize) : nil
        masks = try (0..<config.layers).map { _ in try DeviceBuffer(device, count: 0) }
        dropped = try (0..<config.layers).map { _ in try DeviceBuffer(device, count: 0) }
        dropConnected = try DeviceBuffer(device, count: 0)
        weightMasks = try (0..<config.layers).map { _ in try DeviceBuffer(device, count: 0) }
        embedMask = try DeviceBuffer(device, count: config.vocabSize)
        lossRows = try DeviceBuffer(device, count: 0)
        softmaxLoss = try DeviceSoftmaxLoss(device)
        lossPartial = try DeviceBuffer(device, count: Self.sumParts, elementSize: 8)
        lossTotal = try DeviceBuffer(device, count: 1, elementSize: 8)
        seeds = try DeviceBuffer(device, count: 2 * config.layers + 1, elementSize: 8)
        stepHiddens = try (0..<config.layers).map { _ in try DeviceBuffer(device, count: 0) }
    }

    /// The graph's steps shared with the CPU (ModelGraph), queued on this device.
    private var graph: DeviceGraphOperations { DeviceGraphOperations(device: device, seeds: seeds, ones: ones) }

    /// Threads of the first pass of a sum (KernelSource.reduction).
    static let sumParts = 1024

    package var parameterCount: Int { layout.count }

    package func setParameters(_ values: FloatBuffer) throws {
        try device.copy(to: parameters.pointer, from: values.pointer, bytes: layout.count * 4)
    }

    package func parameterValues() throws -> [Float] { try device.downloadFloats(parameters.pointer, count: layout.count) }
    package func gradientValues() throws -> [Float] { try device.downloadFloats(gradients.pointer, count: layout.count) }

    package func hiddenState(batch: Int) throws -> DeviceHiddenState {
        try DeviceHiddenState(config: config, batch: batch, device: device)
    }

    // MARK: forward

    /// A conditional model's category of each of B streams (ids below config.categories), read by every
    /// forward of B streams until set again.
    package func setCategories(_ categories: [Int32]) throws {
        precondition(config.categories > 0, "only a conditional model has categories")
        precondition(categories.allSatisfy { (0..<Int32(config.categories)).contains($0) }, "category out of range")
        try categoryIds.reserve(categories.count)
        try device.upload(categories, to: categoryIds.pointer)
        categoryStreams = categories.count
    }

    /// Runs the model over T steps of B streams (ids time-major, T*B) and leaves the logits [T*B, V] in
    /// `logits`. With training on, dropout masks are drawn with seeds from `rng`. The state advances.
    /// A conditional model takes each stream's category (or those of the last setCategories).
    /// In inference, `folded` (foldInputProjection's table for the current parameters) replaces layer 0's
    /// input product with a lookup.
    package func forward(_ inputIds: [Int32], T: Int, B: Int, state: DeviceHiddenState, training: Bool,
                        rng: inout RandomGenerator, categories: [Int32]? = nil, folded: DeviceBuffer? = nil) throws {
        precondition(inputIds.count == T * B, "batch shape does not match")
        try ids.reserve(T * B)
        try device.upload(inputIds, to: ids.pointer)
        if let categories { try setCategories(categories) }
        lastIds = inputIds
        try forward(ids: ids.pointer, T: T, B: B, state: state, training: training, rng: &rng, folded: folded)
    }

    /// The same, reading the ids [T*B] from device memory (generation feeds each step's draws back
    /// without a copy to the host). A training step's backward needs the host ids: use the other form.
    package func forward(ids idPointer: DevicePointer, T: Int, B: Int, state: DeviceHiddenState, training: Bool,
                        rng: inout RandomGenerator, folded: DeviceBuffer? = nil) throws {
        try prepareMasks(training: training, rng: &rng)
        try queueForward(ids: idPointer, T: T, B: B, state: state, training: training, folded: folded?.pointer)
    }

    /// Whether foldInputProjection applies: not to a conditional model, whose layer-0 input also
    /// carries the stream's category.
    package var foldsInputProjection: Bool { config.categories == 0 }

    /// Fills `table` [V, G*H] with layer 0's input product of every character: the embedding (or, with
    /// one-hot input, the identity) times W_ih^T. Inference then looks each step's rows up instead of
    /// multiplying: one product less per step, which at one step per character is one of the five
    /// products of a 2-layer generation step. The table holds for the parameters it was made from.
    package func foldInputProjection(into table: DeviceBuffer) throws {
        precondition(foldsInputProjection, "a conditional model's input product depends on the category")
        let V = config.vocabSize, I = config.inputSize(layer: 0), gh = config.cell.gateCount * config.hidden
        try table.reserve(V * gh)
        let input = identity?.pointer ?? parameters.pointer.advanced(byFloats: layout.offset("embedding.weight"))
        try device.gemm(transA: false, transB: true, m: V, n: gh, k: I, alpha: 1, a: input, lda: I,
                        b: parameters.pointer.advanced(byFloats: layout.offset("rnn.weight_ih_l0")), ldb: I,
                        beta: 0, c: table.pointer, ldc: gh)
    }

    /// A new table of foldInputProjection for the current parameters; nil for a conditional model.
    package func foldedInputProjection() throws -> DeviceBuffer? {
        guard foldsInputProjection else { return nil }
        let table = try DeviceBuffer(device, count: 0)
        try foldInputProjection(into: table)
        return table
    }

    /// Draws the seeds of a forward's dropout masks from `rng` as CharRNNModel does (MaskSeeds), so the
    /// masks are the CPU's, and copies them to the device. Nothing is drawn without training or without dropout.
    func prepareMasks(training: Bool, rng: inout RandomGenerator) throws {
        guard training, let drawn = MaskSeeds(config: config, regularization: regularization, rng: &rng) else { return }
        try device.upload(drawn.words, to: seeds.pointer)
    }

    /// The forward's device part: the masks from the seeds prepareMasks copied, then the model.
    func queueForward(ids idPointer: DevicePointer, T: Int, B: Int, state: DeviceHiddenState, training: Bool,
                      folded: DevicePointer? = nil) throws {
        precondition(state.batch == B, "batch shape does not match")
        precondition(folded == nil || (!training && foldsInputProjection), "the folded input is for inference without categories")
        precondition(config.categories == 0 || categoryStreams == B, "a conditional model needs one category per stream")
        StepPhases.mark(.input)
        let rows = T * B, V = config.vocabSize

        // Weight drop: a copy of the parameters with each W_hh masked for this minibatch.
        let weightDrop = training && regularization.weightDrop > 0
        var p = parameters.pointer
        if weightDrop {
            try dropConnected.reserve(layout.count)
            for (l, mask) in weightMasks.enumerated() { try mask.reserve(layout["rnn.weight_hh_l\(l)"]!.count) }
            try graph.dropConnect(parameters.pointer, into: dropConnected.pointer, masks: weightMasks.map(\.pointer), layout: layout,
                                  p: regularization.weightDrop)
            p = dropConnected.pointer
        }
        let embedDrop = training && regularization.embedDropout > 0 && config.embed > 0
        if embedDrop {
            try graph.drawEmbeddingMask(embedMask.pointer, vocabulary: V, p: regularization.embedDropout, layers: config.layers)
        }

        // The input rows [T*B, I]: embedding rows, or one-hot rows from the identity, then (a conditional
        // model) the stream's category one-hot. Folded: layer 0 looks up its input product instead.
        let first: DeviceLayerInput
        if let folded {
            first = .folded(ids: idPointer, table: folded)
        } else {
            let I = config.inputSize(layer: 0), C = config.categories, width = I - C
            try embedded.reserve(rows * I)
            let table = identity?.pointer ?? p.advanced(byFloats: layout.offset("embedding.weight"))
            try device.embeddingForward(threads: rows * width, rows: rows, E: width, ids: idPointer, table: table,
                                        keep: embedDrop ? embedMask.pointer : nil, out: embedded.pointer, ldo: I)
            if C > 0 {
                try device.categoryOnehot(threads: rows * C, rows: rows, B: B, C: C, categories: categoryIds.pointer,
                                          out: embedded.pointer, ldo: I, base: width)
            }
            first = .rows(embedded.pointer)
        }

        if !training && T == 1 && B <= Self.fusedStepStreams && fusesSmallSteps {
            try queueFusedStep(first, B: B, params: p, state: state)
            return
        }
        // bf16 products read the parameters from one bfloat16 copy made here (ComputeDevice.withHalfCopy).
        try device.withHalfCopy(of: p, count: layout.count) {
            try queueLayersAndDecoder(first, T: T, B: B, params: p, state: state, training: training)
        }
        last = (T, B, training && config.dropout > 0, weightDrop, embedDrop)
    }

    /// queueForward's recurrent layers, with dropout after each in training (ModelGraph), and the decoder.
    private func queueLayersAndDecoder(_ first: DeviceLayerInput, T: Int, B: Int, params p: DevicePointer, state: DeviceHiddenState,
                                       training: Bool) throws {
        let rows = T * B, H = config.hidden, V = config.vocabSize
        let dropping = training && config.dropout > 0
        if dropping { for l in 0..<config.layers { try masks[l].reserve(rows * H); try dropped[l].reserve(rows * H) } }
        let dropout = dropping ? LayerDropout(p: config.dropout, variational: regularization.variational, masks: masks.map(\.pointer),
                                              dropped: dropped.map(\.pointer)) : nil
        let out: DevicePointer
        (out, layerInputs) = try graph.layers(layers, first: first, T: T, B: B, hidden: H, params: p, states: state.blocks.map(\.pointer),
                                              training: training, dropout: dropout)
        top = out
        StepPhases.mark(.decoder)
        try logits.reserve(rows * V)
        try graph.decode(out, rows: rows, parameters: p, layout: layout, hidden: H, vocabulary: V, into: logits.pointer)
    }

    /// Streams up to which a step of inference is one launch per layer and one for the decoder
    /// (KernelSource.step) instead of products: each warp reads its rows of the weights once per stream,
    /// so more streams share them better in a product.
    static let fusedStepStreams = 4

    /// Whether such steps are fused (CHARRNN_FUSED_STEP=0: the products, to compare the two).
    package var fusesSmallSteps = ProcessInfo.processInfo.environment["CHARRNN_FUSED_STEP"] != "0"

    /// One step of B streams: each layer's launch writes its new h to stepHiddens[l] and moves the layer
    /// below's into its state; the decoder's launch moves the top one's. Logits [B, V] as queueForward's.
    private func queueFusedStep(_ first: DeviceLayerInput, B: Int, params p: DevicePointer, state: DeviceHiddenState) throws {
        let H = config.hidden, V = config.vocabSize, bh = B * H
        var input = first
        var below: (from: DevicePointer, to: DevicePointer, count: Int)?
        for (l, layer) in layers.enumerated() {
            try stepHiddens[l].reserve(bh)
            let out = stepHiddens[l].pointer, h = state.blocks[l].pointer  // h is the first block of a layer's state
            try layer.step(input, B: B, params: p, state: h, out: out, copy: below)
            below = (out, h, bh)
            input = .rows(out)
        }
        let newTop = below!
        try logits.reserve(B * V)
        try device.decoderStep(threads: max(B * V * 32, bh), B: B, V: V, H: H, h: newTop.from,
                               weight: p.advanced(byFloats: layout.offset("decoder.weight")),
                               bias: p.advanced(byFloats: layout.offset("decoder.bias")), logits: logits.pointer,
                               copyFrom: newTop.from, copyTo: newTop.to, copyCount: bh)
        top = newTop.to
        last = (1, B, false, false, false)
    }

    // MARK: loss

    /// Cross-entropy of each row under the logits; with gradient, the logits become scale * dL/dlogits.
    /// The sum stays on the device (lastLoss reads it).
    /// `targetIds` nil: the targets are on the device already (uploaded with the batch).
    private func softmaxCrossEntropy(_ targetIds: [Int32]?, scale: Float, gradient: Bool) throws {
        let rows = last.T * last.B, V = config.vocabSize
        if let targetIds {
            precondition(targetIds.count == rows, "one target per row")
            try targets.reserve(rows)
            try device.upload(targetIds, to: targets.pointer)
        }
        try lossRows.reserve(rows)
        try softmaxLoss.queue(rows: rows, vocabulary: V, logits: logits.pointer, targets: targets.pointer, loss: lossRows.pointer,
                              gradient: gradient, scale: scale)
        let parts = min(Self.sumParts, rows)
        try device.sumFloats(threads: parts, n: rows, x: lossRows.pointer, square: 0, parts: parts, out: lossPartial.pointer)
        try device.sumDoubles(threads: 1, n: parts, x: lossPartial.pointer, parts: 1, out: lossTotal.pointer)
    }

    /// The summed cross-entropy (nats) of the last loss computed: a copy from the device, so it waits.
    package func lastLossSum() throws -> Double { try device.downloadDoubles(lossTotal.pointer, count: 1)[0] }

    /// Where that sum is in device memory (one double), for a copy that does not wait.
    var lastLossSumPointer: DevicePointer { lossTotal.pointer }

    /// Summed cross-entropy of the targets under the last forward's logits; no gradient.
    package func lossOfLastForward(targets targetIds: [Int32]) throws -> Double {
        try softmaxCrossEntropy(targetIds, scale: 0, gradient: false)
        return try lastLossSum()
    }

    // MARK: training step

    /// Forward, mean cross-entropy and backward: gradients of the mean loss over T*B characters land in
    /// `gradients` (overwritten). The loss stays on the device: lastLossSum() / (T*B) is the mean.
    /// Everything the step needs from the host (ids, targets, the embedding gradient's index and the
    /// dropout seeds) is copied before the first launch (prepareStep), so the launches that follow
    /// (queueLossAndGradients) can be captured and replayed.
    package func lossAndGradients(_ inputIds: [Int32], targets targetIds: [Int32], T: Int, B: Int, state: DeviceHiddenState,
                                 rng: inout RandomGenerator, categories: [Int32]? = nil) throws {
        try prepareStep(inputIds, targets: targetIds, rng: &rng, categories: categories)
        try queueLossAndGradients(T: T, B: B, state: state)
    }

    /// A training step's host part: the ids, targets, categories, the embedding gradient's index and
    /// the dropout seeds copied to the device.
    func prepareStep(_ inputIds: [Int32], targets targetIds: [Int32], rng: inout RandomGenerator, categories: [Int32]?) throws {
        let rows = inputIds.count
        precondition(targetIds.count == rows, "one input and one target per row")
        try ids.reserve(rows)
        try targets.reserve(rows)
        try device.upload(inputIds, to: ids.pointer)
        try device.upload(targetIds, to: targets.pointer)
        if let categories { try setCategories(categories) }
        lastIds = inputIds
        if config.embed > 0 { try index.upload(ids: inputIds) }
        try prepareMasks(training: true, rng: &rng)
    }

    /// Its device part, after prepareStep with T*B rows: forward, loss and backward.
    func queueLossAndGradients(T: Int, B: Int, state: DeviceHiddenState) throws {
        precondition(lastIds.count == T * B, "prepareStep was given another batch shape")
        try queueForward(ids: ids.pointer, T: T, B: B, state: state, training: true)
        StepPhases.mark(.loss)
        try softmaxCrossEntropy(nil, scale: 1 / Float(T * B), gradient: true)
        try backwardFromLogitGradients(indexUploaded: true)
    }

    /// Backward from dL/dlogits held in `logits`; overwrites `gradients`. The embedding gradient's index
    /// is built from the last forward's host ids unless it was uploaded with the batch.
    package func backwardFromLogitGradients(indexUploaded: Bool = false) throws {
        let p = last.weightDrop ? dropConnected.pointer : parameters.pointer
        try device.withHalfCopy(of: p, count: layout.count) { try queueBackward(params: p, indexUploaded: indexUploaded) }
    }

    /// backwardFromLogitGradients with the parameters the forward used.
    private func queueBackward(params p: DevicePointer, indexUploaded: Bool) throws {
        let (T, B) = (last.T, last.B), rows = T * B, V = config.vocabSize, H = config.hidden, E = config.embed
        let g = gradients.pointer
        StepPhases.mark(.decoder)
        try gradients.zero(layout.count)
        try dTop.reserve(rows * H)
        try graph.decoderBackward(logits.pointer, top: top!, rows: rows, parameters: p, gradients: g, layout: layout, hidden: H,
                                  vocabulary: V, into: dTop.pointer)
        let dFirst = try graph.layersBackward(layers, inputs: layerInputs, dTop: dTop.pointer, T: T, B: B, hidden: H, params: p,
                                              gradients: g, dropoutMasks: last.dropping ? masks.map(\.pointer) : nil,
                                              firstInputGradient: E > 0)
        StepPhases.mark(.weightGradients)
        if last.weightDrop { try graph.maskWeightDropGradients(g, masks: weightMasks.map(\.pointer), layout: layout) }
        StepPhases.mark(.input)
        if E > 0 {
            if !indexUploaded { try index.upload(ids: lastIds) }
            try index.embeddingBackward(E: E, d: dFirst!, ldd: config.inputSize(layer: 0), keep: last.embedDrop ? embedMask.pointer : nil,
                                        into: g.advanced(byFloats: layout.offset("embedding.weight")))
        }
    }
}

/// The recurrent state of every layer for B streams on a device, laid out as HiddenState's.
package final class DeviceHiddenState {
    package let batch: Int
    package let blocks: [DeviceBuffer]
    private let device: ComputeDevice

    package init(config: ModelConfig, batch: Int, device: ComputeDevice) throws {
        self.batch = batch
        self.device = device
        blocks = try (0..<config.layers).map { _ in
            let b = try DeviceBuffer(device, count: config.cell.stateCount * batch * config.hidden)
            try b.zero()
            return b
        }
    }

    package func reset() throws { for b in blocks { try b.zero() } }

    package var valueCount: Int { blocks.reduce(0) { $0 + $1.count } }

    /// All values, layer by layer, as HiddenState.flattened.
    package func flattened() throws -> [Float] {
        try blocks.flatMap { try device.downloadFloats($0.pointer, count: $0.count) }
    }

    package func load(_ values: [Float]) throws {
        var i = 0
        for b in blocks {
            try device.upload(Array(values[i..<(i + b.count)]), to: b.pointer)
            i += b.count
        }
    }
}
