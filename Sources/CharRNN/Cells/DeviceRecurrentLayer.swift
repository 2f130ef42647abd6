/// What a layer's input product reads: rows [T*B, I], or (layer 0, in inference) the characters' ids
/// [T*B] and the table of every character's input product [V, G*H] (DeviceModel.foldInputProjection),
/// whose rows are looked up instead of multiplied.
enum DeviceLayerInput {
    case rows(DevicePointer)
    case folded(ids: DevicePointer, table: DevicePointer)
}

/// A recurrent layer on a ComputeDevice, the twin of RecurrentLayer.swift: the fused weights
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
