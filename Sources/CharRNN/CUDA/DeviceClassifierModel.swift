/// ClassifierModel on a ComputeDevice: Embedding (or one-hot) -> L recurrent layers, optionally
/// bidirectional -> each direction's state after the last step, concatenated -> Linear(D*H, C), forward
/// and backward, with the parameters and gradients in one flat buffer each in ClassifierConfig's
/// layout (the same checkpoint file whichever device trained it). Read it beside
/// Classification/ClassifierModel.swift; each step has the same name there.
///
/// The reverse direction reads its input time-reversed (KernelSource.sequence); layer l > 0 reads both
/// directions of layer l-1 in original time order, [forward | reverse]. Dropout (training) on the
/// embedded characters and on the features uses the counter-based masks of KernelSource.dropout.
/// Device memory for B items of T characters: per layer and direction the recurrent layer's own
/// activations, plus inputs and their reversed copies [T*B, I], and [B, D*H] features.
package final class DeviceClassifierModel {
    package let config: ClassifierConfig
    package let layout: ParameterLayout
    package let device: ComputeDevice
    package let parameters: DeviceBuffer
    package let gradients: DeviceBuffer
    /// [B, C] after a forward; dLoss/dlogits after lossAndGradients.
    package let logits: DeviceBuffer
    /// layers[l][d]: layer l, direction d (0 forward, 1 reverse).
    private let layers: [[DeviceRecurrentLayer]]
    /// inputs[l][d]: what layer l direction d read (time-reversed for d = 1).
    private let inputs: [[DeviceBuffer]]
    private var outputs: [[DevicePointer]] = []
    /// One-hot input: the identity [V, V], looked up as an embedding.
    private let identity: DeviceBuffer?
    private let ids: DeviceBuffer, index: DeviceCSRIndex, labels: DeviceBuffer
    private let zeroState: DeviceBuffer, features: DeviceBuffer, dFeatures: DeviceBuffer, dOut: [DeviceBuffer]
    private let dConcat: DeviceBuffer, reversedRows: DeviceBuffer, ones: DeviceOnes
    private let embeddingMask: DeviceBuffer, featureMask: DeviceBuffer
    /// Each mask's seed (embedding, features), written before its mask is drawn.
    private let maskSeeds: DeviceBuffer
    private let lossRows: DeviceBuffer, rowScales: DeviceBuffer
    private let softmaxLoss: DeviceSoftmaxLoss
    private var shape = (T: 0, B: 0)
    private var droppingWith = 0.0

    package init(config: ClassifierConfig, device: ComputeDevice) throws {
        self.config = config
        self.device = device
        let layout = config.layout
        self.layout = layout
        parameters = try DeviceBuffer(device, count: layout.count)
        gradients = try DeviceBuffer(device, count: layout.count)
        logits = try DeviceBuffer(device, count: 0)
        let sharedPre = try DeviceBuffer(device, count: 0)
        layers = try (0..<config.layers).map { l in
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
        reversedRows = try DeviceBuffer(device, count: 0)
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

    /// mask = 0 with probability p, else 1/(1-p); x *= mask. One seed from `rng` per mask, as
    /// ClassifierModel takes it: the same masks as on the CPU.
    private func dropout(_ x: DevicePointer, count: Int, mask: DeviceBuffer, seedSlot: Int, rng: inout RandomGenerator) throws {
        try mask.reserve(count)
        let seed = maskSeeds[offset: seedSlot]
        try device.upload([rng.next()], to: seed)
        try device.drawDropoutMask(mask.pointer, count: count, p: droppingWith, period: count, seed: seed)
        try device.mul(threads: count, n: count, x: x, m: mask.pointer, y: x)
    }

    // MARK: forward

    /// Logits [B, C] for B sequences of equal length T (ids time-major, row t*B + b) into `logits`. With
    /// `dropout` above 0 (training), the embedded characters and the features are dropped with that
    /// probability, masks seeded from `rng`.
    package func forward(_ inputIds: [Int32], T: Int, B: Int, dropout p: Double = 0, rng: inout RandomGenerator) throws {
        precondition(inputIds.count == T * B && T >= 1 && B >= 1, "batch shape does not match")
        droppingWith = p
        shape = (T, B)
        let H = config.hidden, E = config.embed, D = config.directions, rows = T * B, prm = parameters.pointer
        // Everything from the host first, then only launches and products.
        try ids.reserve(rows)
        try device.upload(inputIds, to: ids.pointer)
        if E > 0 { try index.upload(ids: inputIds) }
        try zeroState.reserve(config.cell.stateCount * B * H)
        try reversedRows.reserve(rows * H)
        outputs = []
        for l in 0..<config.layers {
            let I = config.inputSize(layer: l), x = inputs[l][0]
            try x.reserve(rows * I)
            if l == 0 {
                let table = identity?.pointer ?? prm.advanced(byFloats: layout.offset("embedding.weight"))
                try device.embeddingForward(threads: rows * I, rows: rows, E: I, ids: ids.pointer, table: table, keep: nil,
                                            out: x.pointer, ldo: I)
                if p > 0 && E > 0 { try dropout(x.pointer, count: rows * E, mask: embeddingMask, seedSlot: 0, rng: &rng) }
            } else {
                // Layer l reads both directions of layer l-1, each in original time order.
                try device.copyColumns(threads: rows * H, rows: rows, W: H, src: outputs[l - 1][0], lds: H, dst: x.pointer,
                                       ldd: I)
                if D == 2 {
                    try device.reverseTime(threads: rows * H, T: T, B: B, W: H, src: outputs[l - 1][1], dst: reversedRows.pointer)
                    try device.copyColumns(threads: rows * H, rows: rows, W: H, src: reversedRows.pointer, lds: H,
                                           dst: x.pointer.advanced(byFloats: H), ldd: I)
                }
            }
            var outs: [DevicePointer] = []
            for d in 0..<D {
                if d == 1 {
                    try inputs[l][1].reserve(rows * I)
                    try device.reverseTime(threads: rows * I, T: T, B: B, W: I, src: x.pointer, dst: inputs[l][1].pointer)
                }
                try zeroState.zero()
                outs.append(try layers[l][d].forward(.rows(inputs[l][d].pointer), T: T, B: B, params: prm, state: zeroState.pointer))
            }
            outputs.append(outs)
        }
        // Features: each direction's output after its last step.
        try features.reserve(B * D * H)
        for d in 0..<D {
            try device.copyColumns(threads: B * H, rows: B, W: H,
                                   src: outputs[config.layers - 1][d].advanced(byFloats: (T - 1) * B * H), lds: H,
                                   dst: features.pointer.advanced(byFloats: d * H), ldd: D * H)
        }
        if p > 0 { try dropout(features.pointer, count: B * D * H, mask: featureMask, seedSlot: 1, rng: &rng) }
        let C = config.categories
        try logits.reserve(B * C)
        try device.fillRows(threads: B * C, rows: B, cols: C, out: logits.pointer,
                            v: prm.advanced(byFloats: layout.offset("classifier.bias")))
        try device.gemm(transA: false, transB: true, m: B, n: C, k: D * H, alpha: 1, a: features.pointer, lda: D * H,
                        b: prm.advanced(byFloats: layout.offset("classifier.weight")), ldb: D * H, beta: 1, c: logits.pointer, ldc: C)
    }

    // MARK: loss and backward

    /// The weighted mean cross-entropy of the last forward (PyTorch's CrossEntropyLoss(weight=w); nil
    /// weights are all 1) into `lossOut` (one double in device memory, nothing read back), and its
    /// gradients in `gradients` (overwritten).
    package func lossAndGradients(labels itemLabels: [Int32], weights: [Float]?, lossOut: DevicePointer) throws {
        let B = shape.B, C = config.categories
        precondition(itemLabels.count == B, "one label per item")
        let w = itemLabels.map { weights?[Int($0)] ?? 1 }
        let weightSum = w.reduce(0, +)
        try labels.reserve(B)
        try rowScales.reserve(B)
        try lossRows.reserve(B)
        try device.upload(itemLabels, to: labels.pointer)
        try device.upload(w.map { $0 / weightSum }, to: rowScales.pointer)
        let ones = try self.ones.pointer(count: B)  // copied before the launches
        try softmaxLoss.queue(rows: B, vocabulary: C, logits: logits.pointer, targets: labels.pointer, loss: lossRows.pointer,
                              gradient: true, scale: 0, rowScale: rowScales.pointer)
        // sum over items of w_b / sum(w) * loss_b, in double.
        try device.mul(threads: B, n: B, x: lossRows.pointer, m: rowScales.pointer, y: lossRows.pointer)
        try device.sumFloats(threads: 1, n: B, x: lossRows.pointer, square: 0, parts: 1, out: lossOut)
        try backward(ones: ones)
    }

    /// Backward from dL/dlogits held in `logits`; `ones` holds at least B ones.
    private func backward(ones: DevicePointer) throws {
        let (T, B) = shape
        let H = config.hidden, E = config.embed, D = config.directions, C = config.categories, rows = T * B
        let p = parameters.pointer, g = gradients.pointer
        try gradients.zero(layout.count)
        let wc = layout.offset("classifier.weight"), bc = layout.offset("classifier.bias")
        try device.gemm(transA: true, transB: false, m: C, n: D * H, k: B, alpha: 1, a: logits.pointer, lda: C, b: features.pointer,
                        ldb: D * H, beta: 1, c: g.advanced(byFloats: wc), ldc: D * H)
        try device.gemm(transA: false, transB: false, m: 1, n: C, k: B, alpha: 1, a: ones, lda: B, b: logits.pointer, ldb: C,
                        beta: 1, c: g.advanced(byFloats: bc), ldc: C)
        try dFeatures.reserve(B * D * H)
        try device.gemm(transA: false, transB: false, m: B, n: D * H, k: C, alpha: 1, a: logits.pointer, lda: C,
                        b: p.advanced(byFloats: wc), ldb: D * H, beta: 0, c: dFeatures.pointer, ldc: D * H)
        if droppingWith > 0 {
            try device.mul(threads: B * D * H, n: B * D * H, x: dFeatures.pointer, m: featureMask.pointer, y: dFeatures.pointer)
        }
        // Only the last step of the top layer receives a gradient from the head.
        for d in 0..<D {
            try dOut[d].reserve(rows * H)
            try dOut[d].zero(rows * H)
            try device.copyColumns(threads: B * H, rows: B, W: H, src: dFeatures.pointer.advanced(byFloats: d * H), lds: D * H,
                                   dst: dOut[d].pointer.advanced(byFloats: (T - 1) * B * H), ldd: H)
        }
        for l in stride(from: config.layers - 1, through: 0, by: -1) {
            let I = config.inputSize(layer: l)
            let needInput = l > 0 || E > 0
            var dIns: [DevicePointer?] = []
            for d in 0..<D {
                dIns.append(try layers[l][d].backward(inputs[l][d].pointer, T: T, B: B, params: p, grads: g, dOutput: dOut[d].pointer,
                                                      needInputGradient: needInput))
            }
            guard needInput, let dForward = dIns[0] else { break }
            // Gradient of layer l's input in original time order: forward part plus un-reversed reverse part.
            try dConcat.reserve(2 * rows * I)
            let dx = dConcat.pointer, scratch = dConcat.pointer.advanced(byFloats: rows * I)
            try device.copy(from: dForward, to: dx, bytes: rows * I * 4)
            if D == 2, let dReverse = dIns[1] {
                try device.reverseTime(threads: rows * I, T: T, B: B, W: I, src: dReverse, dst: scratch)
                try device.add(threads: rows * I, n: rows * I, a: dx, b: scratch, y: dx)
            }
            if l > 0 {
                try device.copyColumns(threads: rows * H, rows: rows, W: H, src: dx, lds: I, dst: dOut[0].pointer, ldd: H)
                if D == 2 {
                    try device.copyColumns(threads: rows * H, rows: rows, W: H, src: dx.advanced(byFloats: H), lds: I,
                                           dst: reversedRows.pointer, ldd: H)
                    try device.reverseTime(threads: rows * H, T: T, B: B, W: H, src: reversedRows.pointer, dst: dOut[1].pointer)
                }
            } else {
                if droppingWith > 0 {
                    try device.mul(threads: rows * E, n: rows * E, x: dx, m: embeddingMask.pointer, y: dx)
                }
                try index.embeddingBackward(E: E, d: dx, ldd: E, keep: nil, into: g.advanced(byFloats: layout.offset("embedding.weight")))
            }
        }
    }
}
