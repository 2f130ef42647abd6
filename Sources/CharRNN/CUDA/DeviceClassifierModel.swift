/// The classifier on a ComputeDevice: ClassifierGraph over DeviceGraphOperations and the device's
/// layers, with the parameters and gradients in one flat buffer each in ClassifierConfig's layout (the
/// same checkpoint file whichever device trained it). One-hot input is the identity's rows, gathered
/// as an embedding's; the embedding's gradient reads the batch's index (DeviceCSRIndex).
/// Device memory for B items of T characters: per layer and direction the recurrent layer's own
/// activations, plus inputs and their reversed copies [T*B, I], and [B, D*H] features.
package final class DeviceClassifierModel: ClassifierGraph, ClassifierLogits {
    typealias Operations = DeviceGraphOperations
    typealias Layer = DeviceRecurrentLayer
    package let config: ClassifierConfig
    package let layout: ParameterLayout
    package let device: ComputeDevice
    package let parameters: DeviceBuffer
    package let gradients: DeviceBuffer
    /// [B, C] after a forward; dLoss/dlogits after lossAndGradients.
    package let logits: DeviceBuffer
    let classifierLayers: [[DeviceRecurrentLayer]]
    /// inputs[l][d]: what layer l direction d read (time-reversed for d = 1).
    private let inputs: [[DeviceBuffer]]
    /// One-hot input: the identity [V, V], looked up as an embedding.
    private let identity: DeviceBuffer?
    private let ids: DeviceBuffer, index: DeviceCSRIndex, labels: DeviceBuffer
    private let zeroState: DeviceBuffer, features: DeviceBuffer, dFeatures: DeviceBuffer, dOut: [DeviceBuffer]
    private let dConcat: DeviceBuffer, scratch: DeviceBuffer, ones: DeviceOnes
    private let embeddingMask: DeviceBuffer, featureMask: DeviceBuffer
    /// The mask seeds of the last forward (ClassifierMaskSeeds), read by the dropout kernels.
    private let maskSeeds: DeviceBuffer
    private let lossRows: DeviceBuffer, rowScales: DeviceBuffer
    private let softmaxLoss: DeviceSoftmaxLoss
    private var lastPass: ClassifierPass<DevicePointer, DeviceLayerInput>?

    package init(config: ClassifierConfig, device: ComputeDevice) throws {
        self.config = config
        self.device = device
        let layout = config.layout
        self.layout = layout
        parameters = try DeviceBuffer(device, count: layout.count)
        gradients = try DeviceBuffer(device, count: layout.count)
        logits = try DeviceBuffer(device, count: 0)
        let sharedPre = try DeviceBuffer(device, count: 0)
        classifierLayers = try (0..<config.layers).map { l in
            try (0..<config.directions).map { d in
                try config.cell.makeDeviceLayer(device, inputSize: config.inputSize(layer: l), hidden: config.hidden,
                                              layout: layout, layer: l, suffix: d == 0 ? "" : "_reverse", sharedPre: sharedPre)
            }
        }
        inputs = try (0..<config.layers).map { _ in try (0..<config.directions).map { _ in try DeviceBuffer(device, count: 0) } }
        identity = config.embed == 0 ? try DeviceBuffer.identity(device, size: config.vocabSize) : nil
        ids = try DeviceBuffer(device, count: 0, elementSize: 4)
        index = try DeviceCSRIndex(device, vocabulary: config.vocabSize)
        labels = try DeviceBuffer(device, count: 0, elementSize: 4)
        zeroState = try DeviceBuffer(device, count: 0)
        features = try DeviceBuffer(device, count: 0)
        dFeatures = try DeviceBuffer(device, count: 0)
        dOut = try (0..<config.directions).map { _ in try DeviceBuffer(device, count: 0) }
        dConcat = try DeviceBuffer(device, count: 0)
        scratch = try DeviceBuffer(device, count: 0)
        ones = try DeviceOnes(device)
        embeddingMask = try DeviceBuffer(device, count: 0)
        featureMask = try DeviceBuffer(device, count: 0)
        maskSeeds = try DeviceBuffer(device, count: 2, elementSize: 8)
        lossRows = try DeviceBuffer(device, count: 0)
        softmaxLoss = try DeviceSoftmaxLoss(device)
        rowScales = try DeviceBuffer(device, count: 0)
    }

    package var parameterCount: Int { layout.count }

    package func setParameters(_ values: FloatBuffer) throws {
        try device.copy(to: parameters.pointer, from: values.pointer, bytes: layout.count * 4)
    }

    /// The device's parameters into `values` (the host model, to validate or save it).
    package func copyParameters(into values: FloatBuffer) throws {
        try device.copy(from: parameters.pointer, to: values.pointer, bytes: layout.count * 4)
    }

    package func gradientValues() throws -> [Float] { try device.downloadFloats(gradients.pointer, count: layout.count) }

    /// The graph's operations here; `scratch` holds a reversed copy of any layer's rows.
    private var graph: DeviceGraphOperations {
        var graph = DeviceGraphOperations(device: device, seeds: maskSeeds, ones: ones)
        graph.scratch = scratch.pointer
        return graph
    }

    // MARK: forward

    /// Logits [B, C] for B sequences of equal length T (ids time-major, row t*B + b) into `logits`. With
    /// `dropout` above 0 (training), the embedded characters and the features are dropped with that
    /// probability, masks seeded from `rng` as on the CPU (ClassifierMaskSeeds): the same masks.
    package func forward(_ inputIds: [Int32], T: Int, B: Int, dropout p: Double = 0, rng: inout RandomGenerator) throws {
        precondition(inputIds.count == T * B && T >= 1 && B >= 1, "batch shape does not match")
        let H = config.hidden, E = config.embed, D = config.directions, rows = T * B
        // Everything from the host first, then only launches and products.
        try ids.reserve(rows)
        try device.upload(inputIds, to: ids.pointer)
        if E > 0 { try index.upload(ids: inputIds) }
        if let seeds = ClassifierMaskSeeds.draw(dropout: p, embed: E, rng: &rng) { try device.upload(seeds.words, to: maskSeeds.pointer) }
        for l in 0..<config.layers { for d in 0..<D { try inputs[l][d].reserve(rows * config.inputSize(layer: l)) } }
        try zeroState.reserve(config.cell.stateCount * B * H)
        try scratch.reserve(rows * config.widestInput)
        try features.reserve(B * D * H)
        try logits.reserve(B * config.categories)
        if p > 0 {
            try embeddingMask.reserve(rows * E)
            try featureMask.reserve(B * D * H)
        }
        let buffers = ClassifierBuffers(inputs: inputs.map { $0.map(\.pointer) }, zeroState: zeroState.pointer, features: features.pointer,
                                        logits: logits.pointer, embeddingMask: embeddingMask.pointer, featureMask: featureMask.pointer)
        lastPass = try forward(graph, T: T, B: B, dropout: p, parameters: parameters.pointer, buffers: buffers)
    }

    func logits(_ ids: [Int32], T: Int, B: Int) throws -> [Float] {
        var noDropout = RandomGenerator(seed: 0)
        try forward(ids, T: T, B: B, rng: &noDropout)
        return try device.downloadFloats(logits.pointer, count: B * config.categories)
    }

    func idInput(direction d: Int) -> DeviceLayerInput? { nil }

    func embed(into x: DevicePointer, rows: Int, parameters p: DevicePointer) throws {
        let I = config.inputSize(layer: 0)
        let table = identity?.pointer ?? p.advanced(byFloats: layout.offset("embedding.weight"))
        try device.embeddingForward(threads: rows * I, rows: rows, E: I, ids: ids.pointer, table: table, keep: nil, out: x, ldo: I)
    }

    func addEmbeddingGradient(_ d: DevicePointer, rows: Int, into table: DevicePointer) throws {
        try index.embeddingBackward(E: config.embed, d: d, ldd: config.embed, keep: nil, into: table)
    }

    // MARK: loss and backward

    /// The weighted mean cross-entropy of the last forward (PyTorch's CrossEntropyLoss(weight=w); nil
    /// weights are all 1) into `lossOut` (one double in device memory, nothing read back), and its
    /// gradients in `gradients` (overwritten).
    package func lossAndGradients(labels itemLabels: [Int32], weights: [Float]?, lossOut: DevicePointer) throws {
        let pass = lastPass!, B = pass.B, C = config.categories
        precondition(itemLabels.count == B, "one label per item")
        let w = itemLabels.map { weights?[Int($0)] ?? 1 }
        let weightSum = w.reduce(0, +)
        try labels.reserve(B)
        try rowScales.reserve(B)
        try lossRows.reserve(B)
        try device.upload(itemLabels, to: labels.pointer)
        try device.upload(w.map { $0 / weightSum }, to: rowScales.pointer)
        let rows = pass.T * B, H = config.hidden, D = config.directions
        _ = try ones.pointer(count: B)  // copied before the launches (the head's bias gradient reads them)
        try dFeatures.reserve(B * D * H)
        for d in 0..<D { try dOut[d].reserve(rows * H) }
        try dConcat.reserve(rows * config.widestInput)
        try softmaxLoss.queue(rows: B, vocabulary: C, logits: logits.pointer, targets: labels.pointer, loss: lossRows.pointer,
                              gradient: true, scale: 0, rowScale: rowScales.pointer)
        // sum over items of w_b / sum(w) * loss_b, in double.
        try device.mul(threads: B, n: B, x: lossRows.pointer, m: rowScales.pointer, y: lossRows.pointer)
        try device.sumFloats(threads: 1, n: B, x: lossRows.pointer, square: 0, parts: 1, out: lossOut)
        try gradients.zero(layout.count)
        try backward(graph, pass, parameters: parameters.pointer, gradients: gradients.pointer,
                     buffers: ClassifierGradientBuffers(dFeatures: dFeatures.pointer, dOutputs: dOut.map(\.pointer), dInput: dConcat.pointer))
    }
}
