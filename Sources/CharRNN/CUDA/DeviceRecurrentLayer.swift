/// What a layer's input product reads: rows [T*B, I], or (layer 0, in inference) the characters' ids
/// [T*B] and the table of every character's input product [V, G*H] (DeviceModel.foldInputProjection),
/// whose rows are looked up instead of multiplied.
enum DeviceLayerInput {
    case rows(DevicePointer)
    case folded(ids: DevicePointer, table: DevicePointer)
}

/// A recurrent layer on a ComputeDevice, the twin of Layers/RecurrentLayer.swift: the fused weights
/// W_ih [G*H, I], W_hh [G*H, H], b_ih, b_hh [G*H] at the same offsets of the same flat layout; the input
/// projection of all T steps as one product, one product and one cell kernel per step, and the weight
/// gradients of all steps as one product each.
///
/// Kept for backward, per layer: hidden states (T+1)*B*H plus the cell's own (subclasses). The gradient
/// of the pre-activations, T*B*G*H, is `sharedPre`, one buffer for every layer of a model: backward
/// runs one layer at a time and is done with it when the layer's backward returns, so a model holds
/// one such workspace, not one per layer (a 3x2048 LSTM at batch 256 x 128: 1 GB instead of 3).
class DeviceRecurrentLayer {
    let device: ComputeDevice
    let inputSize: Int, hidden: Int, gates: Int
    let wIh: Int, wHh: Int, bIh: Int, bHh: Int
    /// h_{-1}, h_0 ... h_{T-1}: slot 0 is the initial state, slots 1...T are the outputs.
    let hiddens: DeviceBuffer
    /// dLoss/dInput [T*B, I].
    let dInput: DeviceBuffer
    let dhRecurrent: DeviceBuffer
    /// Ones for column sums (bias gradients) as a product.
    let ones: DeviceOnes
    /// The workspace every layer of the model shares for its backward pass (reserved by each layer).
    let sharedPre: DeviceBuffer

    init(_ device: ComputeDevice, inputSize: Int, hidden: Int, gates: Int, layout: ParameterLayout, layer l: Int,
         suffix: String, sharedPre: DeviceBuffer) throws {
        self.device = device
        self.sharedPre = sharedPre
        self.inputSize = inputSize
        self.hidden = hidden
        self.gates = gates
        (wIh, wHh, bIh, bHh) = layout.recurrentOffsets(layer: l, suffix: suffix)
        hiddens = try DeviceBuffer(device, count: 0)
        dInput = try DeviceBuffer(device, count: 0)
        dhRecurrent = try DeviceBuffer(device, count: 0)
        ones = try DeviceOnes(device)
    }

    /// `suffix` "_reverse" is the reverse direction of a bidirectional layer (PyTorch's names); every
    /// layer of one model gets the same `sharedPre`.
    static func make(_ device: ComputeDevice, _ cell: CellKind, inputSize: Int, hidden: Int, layout: ParameterLayout,
                     layer: Int, suffix: String = "", sharedPre: DeviceBuffer) throws -> DeviceRecurrentLayer {
        switch cell {
        case .lstm:
            return try DeviceLSTMLayer(device, inputSize: inputSize, hidden: hidden, layout: layout, layer: layer, suffix: suffix,
                                       sharedPre: sharedPre)
        case .gru:
            return try DeviceGRULayer(device, inputSize: inputSize, hidden: hidden, layout: layout, layer: layer, suffix: suffix,
                                      sharedPre: sharedPre)
        case .rnnTanh, .rnnRelu:
            return try DeviceRNNLayer(device, inputSize: inputSize, hidden: hidden, relu: cell == .rnnRelu, layout: layout,
                                      layer: layer, suffix: suffix, sharedPre: sharedPre)
        }
    }

    var stateCount: Int { 1 }

    func reserve(T: Int, B: Int) throws {
        let rows = T * B
        try hiddens.reserve((rows + B) * hidden)
        try dInput.reserve(rows * inputSize)
        try dhRecurrent.reserve(B * hidden)
        _ = try ones.pointer(count: rows)  // copied now, before the step's launches
        try reserveCell(rows: rows, B: B)
    }

    func reserveCell(rows: Int, B: Int) throws {}

    /// Runs T steps over input [T*B, I]. `state` holds stateCount blocks of [B, H] (h, then c for
    /// LSTM): read as the initial state, overwritten with the final one. Returns the outputs [T*B, H].
    /// Without keepForBackward, one step (T = 1, generation's case) works on `state` in place and
    /// returns its h: no copies in and out of the kept hiddens, which backward would need.
    func forward(_ input: DeviceLayerInput, T: Int, B: Int, params: DevicePointer, state: DevicePointer,
                 keepForBackward: Bool = true) throws -> DevicePointer {
        fatalError("subclass")
    }

    /// One step of inference for B streams in one launch (KernelSource.step): `state` as in forward, its
    /// c updated in place and the new h written to `out` [B, H] (not over h, which every warp reads);
    /// the launch also does `copy` (count floats), which the caller uses to put the layer below's new h
    /// into its state once nothing reads the old one.
    func step(_ input: DeviceLayerInput, B: Int, params: DevicePointer, state: DevicePointer, out: DevicePointer,
              copy: (from: DevicePointer, to: DevicePointer, count: Int)?) throws {
        fatalError("subclass")
    }

    /// What every step kernel (KernelSource.step) takes besides the cell's state and output: the B streams'
    /// input (rows, or ids into a folded table), the layer's weights and biases, and the copy.
    struct StepOperands {
        let threads: Int, B: Int, H: Int, I: Int
        let x: DevicePointer?, ids: DevicePointer?, table: DevicePointer?
        let wIh: DevicePointer, wHh: DevicePointer, biasIh: DevicePointer, biasHh: DevicePointer
        let copyFrom: DevicePointer?, copyTo: DevicePointer?, copyCount: Int
    }

    func stepOperands(_ input: DeviceLayerInput, B: Int, params: DevicePointer,
                      copy: (from: DevicePointer, to: DevicePointer, count: Int)?) -> StepOperands {
        var x: DevicePointer?, ids: DevicePointer?, table: DevicePointer?
        switch input {
        case .rows(let rows): x = rows
        case .folded(let i, let t): ids = i; table = t
        }
        let copyCount = copy?.count ?? 0
        return StepOperands(threads: max(B * hidden * 32, copyCount), B: B, H: hidden, I: inputSize, x: x, ids: ids, table: table,
                            wIh: params.advanced(byFloats: wIh), wHh: params.advanced(byFloats: wHh),
                            biasIh: params.advanced(byFloats: bIh), biasHh: params.advanced(byFloats: bHh),
                            copyFrom: copy?.from, copyTo: copy?.to, copyCount: copyCount)
    }

    /// Backward through the last forward from dOutput [T*B, H]; accumulates into grads and, when asked,
    /// returns dInput [T*B, I].
    func backward(_ input: DevicePointer, T: Int, B: Int, params: DevicePointer, grads: DevicePointer,
                  dOutput: DevicePointer, needInputGradient: Bool) throws -> DevicePointer? {
        fatalError("subclass")
    }

    // MARK: shared products, as in RecurrentLayer

    /// out[rows, G*H] = input W_ih^T: a product, or the folded table's rows of the ids.
    func projectInput(_ input: DeviceLayerInput, rows: Int, params: DevicePointer, out: DevicePointer) throws {
        let gh = gates * hidden
        switch input {
        case .rows(let x):
            try device.gemm(transA: false, transB: true, m: rows, n: gh, k: inputSize, alpha: 1, a: x, lda: inputSize,
                            b: params.advanced(byFloats: wIh), ldb: inputSize, beta: 0, c: out, ldc: gh)
        case .folded(let ids, let table):
            try device.embeddingForward(threads: rows * gh, rows: rows, E: gh, ids: ids, table: table, keep: nil, out: out,
                                        ldo: gh)
        }
    }

    /// out[B, G*H] += h W_hh^T (or =, not accumulating), one step's recurrent product.
    func recurrentProduct(_ h: DevicePointer, B: Int, params: DevicePointer, into out: DevicePointer,
                          accumulate: Bool = true) throws {
        let gh = gates * hidden
        try device.gemm(transA: false, transB: true, m: B, n: gh, k: hidden, alpha: 1, a: h, lda: hidden,
                        b: params.advanced(byFloats: wHh), ldb: hidden, beta: accumulate ? 1 : 0, c: out, ldc: gh)
    }

    /// out[B, H] (+)= dPre W_hh: the gradient reaching h_{t-1} through the recurrent weights.
    func recurrentGradient(_ dPre: DevicePointer, B: Int, params: DevicePointer, into out: DevicePointer,
                           accumulate: Bool) throws {
        let gh = gates * hidden
        try device.gemm(transA: false, transB: false, m: B, n: hidden, k: gh, alpha: 1, a: dPre, lda: gh,
                        b: params.advanced(byFloats: wHh), ldb: hidden, beta: accumulate ? 1 : 0, c: out, ldc: hidden)
    }

    /// grad W_ih += dPre^T input, grad b_ih += column sums of dPre.
    func accumulateInputWeightGradients(_ input: DevicePointer, rows: Int, dPre: DevicePointer, grads: DevicePointer) throws {
        let gh = gates * hidden
        try device.gemm(transA: true, transB: false, m: gh, n: inputSize, k: rows, alpha: 1, a: dPre, lda: gh,
                        b: input, ldb: inputSize, beta: 1, c: grads.advanced(byFloats: wIh), ldc: inputSize)
        try columnSums(dPre, rows: rows, cols: gh, into: grads.advanced(byFloats: bIh))
    }

    /// grad W_hh += dPre^T [h_{-1} ... h_{T-2}].
    func accumulateRecurrentWeightGradients(rows: Int, dPre: DevicePointer, grads: DevicePointer) throws {
        let gh = gates * hidden
        try device.gemm(transA: true, transB: false, m: gh, n: hidden, k: rows, alpha: 1, a: dPre, lda: gh,
                        b: hiddens.pointer, ldb: hidden, beta: 1, c: grads.advanced(byFloats: wHh), ldc: hidden)
    }

    /// The end of every cell's backward, after its recurrence: the weight and bias gradients of all
    /// steps and, when asked, dInput [rows, I], from the gradients of the input and the recurrent
    /// pre-activations (one buffer but for GRU's). With bf16 products each of those is converted once
    /// for its three products (ComputeDevice.withHalfCopy) instead of once a product.
    func finishBackward(_ input: DevicePointer, rows: Int, dInputPre: DevicePointer, dHiddenPre: DevicePointer, params: DevicePointer,
                        grads: DevicePointer, needInputGradient: Bool) throws -> DevicePointer? {
        let count = rows * gates * hidden
        var dIn: DevicePointer? = nil
        StepPhases.mark(.weightGradients)
        try device.withHalfCopy(of: dInputPre, count: count) {
            try device.withHalfCopy(of: dHiddenPre, count: dHiddenPre == dInputPre ? 0 : count) {
                try accumulateInputWeightGradients(input, rows: rows, dPre: dInputPre, grads: grads)
                try accumulateRecurrentWeightGradients(rows: rows, dPre: dHiddenPre, grads: grads)
                try columnSums(dHiddenPre, rows: rows, cols: gates * hidden, into: grads.advanced(byFloats: bHh))
                StepPhases.mark(.recurrentBackward)
                if needInputGradient { dIn = try inputGradient(rows: rows, dPre: dInputPre, params: params) }
            }
        }
        return dIn
    }

    /// dInput = dPre W_ih, [rows, I].
    func inputGradient(rows: Int, dPre: DevicePointer, params: DevicePointer) throws -> DevicePointer {
        let gh = gates * hidden
        try device.gemm(transA: false, transB: false, m: rows, n: inputSize, k: gh, alpha: 1, a: dPre, lda: gh,
                        b: params.advanced(byFloats: wIh), ldb: inputSize, beta: 0, c: dInput.pointer, ldc: inputSize)
        return dInput.pointer
    }

    /// out[cols] += sum over rows of m[rows, cols], as ones[1, rows] times m.
    func columnSums(_ m: DevicePointer, rows: Int, cols: Int, into out: DevicePointer) throws {
        try device.gemm(transA: false, transB: false, m: 1, n: cols, k: rows, alpha: 1, a: try ones.pointer(count: rows), lda: rows,
                        b: m, ldb: cols, beta: 1, c: out, ldc: cols)
    }

    /// Copies `count` floats.
    func copy(_ from: DevicePointer, to: DevicePointer, count: Int) throws {
        try device.copy(from: from, to: to, bytes: count * MemoryLayout<Float>.size)
    }

}

/// nn.LSTM's layer on a device (Layers/LSTMLayer.swift). Kept for backward: activated gates T*B*4H,
/// cells (T+1)*B*H, hiddens (T+1)*B*H; workspaces dGates T*B*4H (the shared one), dCell B*H.
final class DeviceLSTMLayer: DeviceRecurrentLayer {
    private let gateValues: DeviceBuffer, cells: DeviceBuffer, dCell: DeviceBuffer

    init(_ device: ComputeDevice, inputSize: Int, hidden: Int, layout: ParameterLayout, layer: Int, suffix: String,
         sharedPre: DeviceBuffer) throws {
        gateValues = try DeviceBuffer(device, count: 0)
        cells = try DeviceBuffer(device, count: 0)
        dCell = try DeviceBuffer(device, count: 0)
        try super.init(device, inputSize: inputSize, hidden: hidden, gates: 4, layout: layout, layer: layer, suffix: suffix,
                       sharedPre: sharedPre)
    }

    override var stateCount: Int { 2 }

    override func reserveCell(rows: Int, B: Int) throws {
        try gateValues.reserve(rows * 4 * hidden)
        try sharedPre.reserve(rows * 4 * hidden)
        try cells.reserve((rows + B) * hidden)
        try dCell.reserve(B * hidden)
    }

    override func forward(_ input: DeviceLayerInput, T: Int, B: Int, params: DevicePointer, state: DevicePointer,
                          keepForBackward: Bool = true) throws -> DevicePointer {
        try reserve(T: T, B: B)
        let H = hidden, G = 4 * H, bh = B * H
        let hs = hiddens.pointer, cs = cells.pointer, g = gateValues.pointer
        let bi = params.advanced(byFloats: bIh), bhh = params.advanced(byFloats: bHh)
        if T == 1 && !keepForBackward {
            // Each thread reads c_prev[k] before it writes c[k]; h_prev was read by the product before.
            let h = state, c = state.advanced(byFloats: bh)
            try projectInput(input, rows: B, params: params, out: g)
            try recurrentProduct(h, B: B, params: params, into: g)
            try device.lstmForward(threads: bh, B: B, H: H, gates: g, biasIh: bi, biasHh: bhh, cPrev: c, c: c, h: h)
            return h
        }
        try copy(state, to: hs, count: bh)
        try copy(state.advanced(byFloats: bh), to: cs, count: bh)
        try projectInput(input, rows: T * B, params: params, out: g)
        for t in 0..<T {
            let gt = g.advanced(byFloats: t * B * G)
            try recurrentProduct(hs.advanced(byFloats: t * bh), B: B, params: params, into: gt)
            try device.lstmForward(threads: bh, B: B, H: H, gates: gt, biasIh: bi, biasHh: bhh,
                                   cPrev: cs.advanced(byFloats: t * bh), c: cs.advanced(byFloats: (t + 1) * bh),
                                   h: hs.advanced(byFloats: (t + 1) * bh))
        }
        try copy(hs.advanced(byFloats: T * bh), to: state, count: bh)
        try copy(cs.advanced(byFloats: T * bh), to: state.advanced(byFloats: bh), count: bh)
        return hs.advanced(byFloats: bh)
    }

    override func step(_ input: DeviceLayerInput, B: Int, params: DevicePointer, state: DevicePointer, out: DevicePointer,
                       copy: (from: DevicePointer, to: DevicePointer, count: Int)?) throws {
        let s = stepOperands(input, B: B, params: params, copy: copy)
        try device.lstmStep(threads: s.threads, B: s.B, H: s.H, I: s.I, x: s.x, ids: s.ids, table: s.table, wIh: s.wIh,
                            wHh: s.wHh, 
                            biasIh: s.biasIh, biasHh: s.biasHh, hPrev: state, c: state.advanced(byFloats: B * hidden), hOut: out,
                            copyFrom: s.copyFrom, copyTo: s.copyTo, copyCount: s.copyCount)
    }

    override func backward(_ input: DevicePointer, T: Int, B: Int, params: DevicePointer, grads: DevicePointer,
                           dOutput: DevicePointer, needInputGradient: Bool) throws -> DevicePointer? {
        let H = hidden, G = 4 * H, bh = B * H, rows = T * B
        let cs = cells.pointer, g = gateValues.pointer, dg = sharedPre.pointer, dhRec = dhRecurrent.pointer
        try dCell.zero(bh)
        for t in stride(from: T - 1, through: 0, by: -1) {
            let dgt = dg.advanced(byFloats: t * B * G)
            try device.lstmBackward(threads: bh, B: B, H: H, gates: g.advanced(byFloats: t * B * G),
                                    cPrev: cs.advanced(byFloats: t * bh), c: cs.advanced(byFloats: (t + 1) * bh),
                                    dhOut: dOutput.advanced(byFloats: t * bh), dhRec: t == T - 1 ? nil : dhRec,
                                    dc: dCell.pointer, dgates: dgt)
            if t > 0 { try recurrentGradient(dgt, B: B, params: params, into: dhRec, accumulate: false) }
        }
        return try finishBackward(input, rows: rows, dInputPre: dg, dHiddenPre: dg, params: params, grads: grads,
                                  needInputGradient: needInputGradient)
    }
}

/// nn.GRU's layer on a device (Layers/GRULayer.swift). Kept for backward: r, z, n T*B*3H;
/// h W_hh^T T*B*3H (its n third with b_hh added, by gru_forward); hiddens (T+1)*B*H. Backward writes
/// the gradient of x W_ih^T over x W_ih^T itself (gru_backward reads the activations, not it) and
/// that of h W_hh^T into the shared workspace.
final class DeviceGRULayer: DeviceRecurrentLayer {
    private let inputPre: DeviceBuffer, hiddenPre: DeviceBuffer, activations: DeviceBuffer, dhDirect: DeviceBuffer

    init(_ device: ComputeDevice, inputSize: Int, hidden: Int, layout: ParameterLayout, layer: Int, suffix: String,
         sharedPre: DeviceBuffer) throws {
        inputPre = try DeviceBuffer(device, count: 0)
        hiddenPre = try DeviceBuffer(device, count: 0)
        activations = try DeviceBuffer(device, count: 0)
        dhDirect = try DeviceBuffer(device, count: 0)
        try super.init(device, inputSize: inputSize, hidden: hidden, gates: 3, layout: layout, layer: layer, suffix: suffix,
                       sharedPre: sharedPre)
    }

    override func reserveCell(rows: Int, B: Int) throws {
        for b in [inputPre, hiddenPre, activations, sharedPre] { try b.reserve(rows * 3 * hidden) }
        try dhDirect.reserve(B * hidden)
    }

    override func forward(_ input: DeviceLayerInput, T: Int, B: Int, params: DevicePointer, state: DevicePointer,
                          keepForBackward: Bool = true) throws -> DevicePointer {
        try reserve(T: T, B: B)
        let H = hidden, G = 3 * H, bh = B * H, rows = T * B
        let hs = hiddens.pointer, xp = inputPre.pointer, hp = hiddenPre.pointer, act = activations.pointer
        let bi = params.advanced(byFloats: bIh), bhh = params.advanced(byFloats: bHh)
        try projectInput(input, rows: rows, params: params, out: xp)
        if T == 1 && !keepForBackward {
            // Each thread reads h_prev[k] before it writes h[k]; the product read h_prev before.
            try recurrentProduct(state, B: B, params: params, into: hp, accumulate: false)
            try device.gruForward(threads: bh, B: B, H: H, xp: xp, bIh: bi, hp: hp, bHh: bhh, hPrev: state, act: act, h: state)
            return state
        }
        try copy(state, to: hs, count: bh)
        for t in 0..<T {
            let off = t * B * G
            try recurrentProduct(hs.advanced(byFloats: t * bh), B: B, params: params, into: hp.advanced(byFloats: off), accumulate: false)
            try device.gruForward(threads: bh, B: B, H: H, xp: xp.advanced(byFloats: off), bIh: bi,
                                  hp: hp.advanced(byFloats: off), bHh: bhh, hPrev: hs.advanced(byFloats: t * bh),
                                  act: act.advanced(byFloats: off), h: hs.advanced(byFloats: (t + 1) * bh))
        }
        try copy(hs.advanced(byFloats: T * bh), to: state, count: bh)
        return hs.advanced(byFloats: bh)
    }

    override func step(_ input: DeviceLayerInput, B: Int, params: DevicePointer, state: DevicePointer, out: DevicePointer,
                       copy: (from: DevicePointer, to: DevicePointer, count: Int)?) throws {
        let s = stepOperands(input, B: B, params: params, copy: copy)
        try device.gruStep(threads: s.threads, B: s.B, H: s.H, I: s.I, x: s.x, ids: s.ids, table: s.table, wIh: s.wIh, wHh: s.wHh,
                           biasIh: s.biasIh, biasHh: s.biasHh, hPrev: state, hOut: out,
                           copyFrom: s.copyFrom, copyTo: s.copyTo, copyCount: s.copyCount)
    }

    override func backward(_ input: DevicePointer, T: Int, B: Int, params: DevicePointer, grads: DevicePointer,
                           dOutput: DevicePointer, needInputGradient: Bool) throws -> DevicePointer? {
        let H = hidden, G = 3 * H, bh = B * H, rows = T * B
        let hs = hiddens.pointer, hp = hiddenPre.pointer, act = activations.pointer
        let dxp = inputPre.pointer, dhp = sharedPre.pointer, dhRec = dhRecurrent.pointer, direct = dhDirect.pointer
        for t in stride(from: T - 1, through: 0, by: -1) {
            let off = t * B * G
            try device.gruBackward(threads: bh, B: B, H: H, act: act.advanced(byFloats: off), hp: hp.advanced(byFloats: off),
                                   hPrev: hs.advanced(byFloats: t * bh), dhOut: dOutput.advanced(byFloats: t * bh),
                                   dhRec: t == T - 1 ? nil : dhRec, dxp: dxp.advanced(byFloats: off),
                                   dhp: dhp.advanced(byFloats: off), dhPrev: direct)
            if t > 0 {
                try copy(direct, to: dhRec, count: bh)
                try recurrentGradient(dhp.advanced(byFloats: off), B: B, params: params, into: dhRec, accumulate: true)
            }
        }
        return try finishBackward(input, rows: rows, dInputPre: dxp, dHiddenPre: dhp, params: params, grads: grads,
                                  needInputGradient: needInputGradient)
    }
}

/// nn.RNN's layer on a device (Layers/SimpleRNNLayer.swift). Kept for backward: hiddens (T+1)*B*H;
/// the pre-activations T*B*H (reused for their gradients).
final class DeviceRNNLayer: DeviceRecurrentLayer {
    private let relu: Bool
    private let pre: DeviceBuffer

    init(_ device: ComputeDevice, inputSize: Int, hidden: Int, relu: Bool, layout: ParameterLayout, layer: Int, suffix: String,
         sharedPre: DeviceBuffer) throws {
        self.relu = relu
        pre = try DeviceBuffer(device, count: 0)
        try super.init(device, inputSize: inputSize, hidden: hidden, gates: 1, layout: layout, layer: layer, suffix: suffix,
                       sharedPre: sharedPre)
    }

    override func reserveCell(rows: Int, B: Int) throws { try pre.reserve(rows * hidden) }

    override func forward(_ input: DeviceLayerInput, T: Int, B: Int, params: DevicePointer, state: DevicePointer,
                          keepForBackward: Bool = true) throws -> DevicePointer {
        try reserve(T: T, B: B)
        let H = hidden, bh = B * H
        let hs = hiddens.pointer, p = pre.pointer
        let bi = params.advanced(byFloats: bIh), bhh = params.advanced(byFloats: bHh)
        try projectInput(input, rows: T * B, params: params, out: p)
        if T == 1 && !keepForBackward {
            try recurrentProduct(state, B: B, params: params, into: p)
            try device.rnnForward(threads: bh, B: B, H: H, pre: p, biasIh: bi, biasHh: bhh, h: state, relu: relu ? 1 : 0)
            return state
        }
        try copy(state, to: hs, count: bh)
        for t in 0..<T {
            let pt = p.advanced(byFloats: t * bh)
            try recurrentProduct(hs.advanced(byFloats: t * bh), B: B, params: params, into: pt)
            try device.rnnForward(threads: bh, B: B, H: H, pre: pt, biasIh: bi, biasHh: bhh,
                                  h: hs.advanced(byFloats: (t + 1) * bh), relu: relu ? 1 : 0)
        }
        try copy(hs.advanced(byFloats: T * bh), to: state, count: bh)
        return hs.advanced(byFloats: bh)
    }

    override func step(_ input: DeviceLayerInput, B: Int, params: DevicePointer, state: DevicePointer, out: DevicePointer,
                       copy: (from: DevicePointer, to: DevicePointer, count: Int)?) throws {
        let s = stepOperands(input, B: B, params: params, copy: copy)
        try device.rnnStep(threads: s.threads, B: s.B, H: s.H, I: s.I, x: s.x, ids: s.ids, table: s.table, wIh: s.wIh, wHh: s.wHh,
                           biasIh: s.biasIh, biasHh: s.biasHh, relu: relu ? 1 : 0, hPrev: state, hOut: out,
                           copyFrom: s.copyFrom, copyTo: s.copyTo, copyCount: s.copyCount)
    }

    override func backward(_ input: DevicePointer, T: Int, B: Int, params: DevicePointer, grads: DevicePointer,
                           dOutput: DevicePointer, needInputGradient: Bool) throws -> DevicePointer? {
        let H = hidden, bh = B * H, rows = T * B
        let hs = hiddens.pointer, dp = pre.pointer, dhRec = dhRecurrent.pointer
        for t in stride(from: T - 1, through: 0, by: -1) {
            let dpt = dp.advanced(byFloats: t * bh)
            try device.rnnBackward(threads: bh, B: B, H: H, h: hs.advanced(byFloats: (t + 1) * bh),
                                   dhOut: dOutput.advanced(byFloats: t * bh), dhRec: t == T - 1 ? nil : dhRec, dpre: dpt,
                                   relu: relu ? 1 : 0)
            if t > 0 { try recurrentGradient(dpt, B: B, params: params, into: dhRec, accumulate: false) }
        }
        return try finishBackward(input, rows: rows, dInputPre: dp, dHiddenPre: dp, params: params, grads: grads,
                                  needInputGradient: needInputGradient)
    }
}
