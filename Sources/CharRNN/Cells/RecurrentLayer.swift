import CCharRNNKernels

/// What a recurrent layer reads: dense rows [T*B, I], or token ids [T*B] standing for one-hot rows
/// (layer 0 when the model has no embedding, as in min-char-rnn and d2l).
package enum LayerInput {
    case dense(UnsafePointer<Float>)
    case oneHot(UnsafePointer<Int32>)
    /// Layer 0 over an embedding, folded: row r of the input product is row ids[r] of `table`, the
    /// embedding already multiplied by W_ih^T ([V, G*H], computed once per call instead of once per row).
    case projected(ids: UnsafePointer<Int32>, table: UnsafePointer<Float>, vocabulary: Int)
}

/// The parts every cell shares: the fused weights W_ih [G*H, I], W_hh [G*H, H] and biases b_ih, b_hh [G*H]
/// at fixed offsets in the flat buffers; the input projection for all T steps as one product; the weight
/// gradients for all T steps as one product each.
///
/// Activations kept for backward, per layer: hidden states (T+1)*B*H plus the cell's own (see subclasses).
package class RecurrentLayer {
    package let inputSize: Int
    package let hidden: Int
    package let gates: Int
    let wIh: Int, wHh: Int, bIh: Int, bHh: Int
    /// Row capacity (T*B) the workspaces are sized for.
    private(set) var capacity = 0
    /// h_{-1}, h_0 ... h_{T-1}: slot 0 is the initial state, slots 1...T are the layer's outputs.
    let hiddens = FloatBuffer(count: 0)
    /// Gradient with respect to this layer's input, [T*B, I].
    let dInput = FloatBuffer(count: 0)
    let ones = FloatBuffer(count: 0)
    let dhRecurrent = FloatBuffer(count: 0)
    /// dLoss/d(folded table) [V, G*H] after a backward over `.projected` input.
    let dTable = FloatBuffer(count: 0)
    /// W_hh packed for the per-step products (crn_gemm_packed): forward multiplies by W_hh^T [H, G*H],
    /// backward by W_hh [G*H, H]. Packing once per call instead of once per step is the point.
    private let packedForward = PackedMatrix(), packedBackward = PackedMatrix()
    /// W_ih^T packed: while frozen, for the input product of small inference steps; in training and
    /// evaluation, for the input product step by step (beginInput).
    private let packedInput = PackedMatrix()
    /// W_ih packed for dInput in the backward steps (beginInputGradient).
    private let packedInputGradient = PackedMatrix()
    /// The forward packing is current and is kept across calls (inference); see CharRNNModel.freezeForInference.
    var frozen = false
    /// The weight gradients' products and their workspace, which a model's layers share (one runs at a time).
    var weightGradients = SharedPanelProduct()

    /// `suffix` is PyTorch's "_reverse" for the backward direction of a bidirectional stack.
    init(inputSize: Int, hidden: Int, gates: Int, layout: ParameterLayout, layer l: Int, suffix: String) {
        self.inputSize = inputSize
        self.hidden = hidden
        self.gates = gates
        (wIh, wHh, bIh, bHh) = layout.recurrentOffsets(layer: l, suffix: suffix)
    }

    var stateCount: Int { 1 }

    /// Sizes the workspaces for T steps of B rows.
    func reserve(T: Int, B: Int) {
        capacity = max(capacity, T * B)
        hiddens.reserve((capacity + B) * hidden)
        dInput.reserve(capacity * inputSize)
        if ones.count < capacity {
            ones.reserve(capacity)
            ones.pointer.update(repeating: 1, count: capacity)
        }
        dhRecurrent.reserve(B * hidden)
        reserveCell(rows: capacity, B: B)
    }

    func reserveCell(rows: Int, B: Int) {}

    /// Runs T steps. `state` holds stateCount blocks of [B, H] (h, then c for LSTM): read as the initial
    /// state, overwritten with the final one. Returns the outputs h_0...h_{T-1}, [T*B, H].
    func forward(_ input: LayerInput, T: Int, B: Int, params: UnsafePointer<Float>,
                 state: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        fatalError("subclass")
    }

    /// Backward through the T steps of the last forward. dOutput [T*B, H] is the loss gradient with
    /// respect to the outputs; it accumulates into grads and, when asked, returns dInput [T*B, I].
    func backward(_ input: LayerInput, T: Int, B: Int, params: UnsafePointer<Float>,
                  grads: UnsafeMutablePointer<Float>, dOutput: UnsafePointer<Float>,
                  needInputGradient: Bool) -> UnsafeMutablePointer<Float>? {
        fatalError("subclass")
    }

    // MARK: shared products

    /// Makes this call's input product in one piece beforehand (into `out`, [T*B, G*H]), or prepares to
    /// make it step by step inside the recurrence and returns true. Step by step, each thread multiplies
    /// (or, for the folded embedding, looks up) the rows or the tile of step t that it then reads itself,
    /// with W_ih packed once per call for the per-step kernel, whose sums are the same in every split
    /// (so rows and tiles still give the same bits). One BLAS product beforehand cut the rows of all
    /// T*B by time, so half of each thread's rows came from the other core, and the per-step kernel runs
    /// at AVX-512 width where OpenBLAS may not (OPENBLAS_CORETYPE=Haswell on an AVX-512 CPU): there,
    /// LSTM and GRU training ran 4-8% faster this way; with OpenBLAS's own kernels, and with AVX2 alone,
    /// 0-3%. Step by step: dense inputs (an embedding's output, a lower layer's), and the folded
    /// embedding when the batch is split by rows; one-hot inputs and a step of inference, in one piece.
    func beginInput(_ input: LayerInput, T: Int, B: Int, params: UnsafePointer<Float>,
                    out: UnsafeMutablePointer<Float>) -> Bool {
        var bySteps = false
        if !stepsByPanels(T: T, B: B) {
            switch input {
            case .dense: bySteps = true
            case .projected: bySteps = !stepsTiled(T: T, B: B)
            case .oneHot: bySteps = false
            }
        }
        if !bySteps {
            projectInput(input, rows: T * B, params: params, out: out)
        } else if case .dense = input, !frozen {
            packedInput.pack(params + wIh, k: inputSize, n: gates * hidden, transposed: true)
        }
        return bySteps
    }

    /// Rows b0..<b0+nb of step t of the input product, into `out` (step t's first of those rows), on the
    /// calling thread (after beginInput returned true).
    func inputRows(_ input: LayerInput, t: Int, B: Int, b0: Int, nb: Int, into out: UnsafeMutablePointer<Float>) {
        let gh = gates * hidden, r0 = t * B + b0
        switch input {
        case .dense(let x): packedInput.multiply(rows: nb, x + r0 * inputSize, into: out, accumulate: false)
        case .projected(let ids, let table, _):
            for r in 0..<nb { (out + r * gh).update(from: table + Int(ids[r0 + r]) * gh, count: gh) }
        case .oneHot: preconditionFailure("one-hot inputs are multiplied beforehand")
        }
    }

    /// The tile of step t's input product, into step t's rows at `stepOut`, on the calling thread (after
    /// beginInput returned true for a tiled call; the input is dense).
    private func inputTile(_ input: LayerInput, t: Int, B: Int, tile: Parallel.Tile, into stepOut: UnsafeMutablePointer<Float>) {
        guard case .dense(let x) = input else { preconditionFailure("a tiled call multiplies dense inputs by steps") }
        packedInput.multiply(tile, x + t * B * inputSize, into: stepOut, accumulate: false)
    }

    /// out[rows, G*H] = input W_ih^T (beta 0).
    func projectInput(_ input: LayerInput, rows: Int, params: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) {
        let gh = gates * hidden
        switch input {
        case .dense(let x):
            if frozen && rows <= Self.panelSplitRows {
                packedInput.multiplyByPanels(rows: rows, x, into: out, accumulate: false)
            } else {
                BLAS.pgemm(transB: true, m: rows, n: gh, k: inputSize, a: x, lda: inputSize,
                           b: params + wIh, ldb: inputSize, c: out, ldc: gh)
            }
        case .projected(let ids, let table, _):
            Parallel.forRows(rows, rowLength: gh) { r in (out + r * gh).update(from: table + Int(ids[r]) * gh, count: gh) }
        case .oneHot(let ids):
            // A one-hot row picks column id of W_ih [G*H, V].
            let w = params + wIh, v = inputSize
            let parts = Parallel.parts(floats: rows * gh)
            Parallel.run(parts) { p in
                for r in Parallel.range(part: p, of: parts, total: rows) {
                    let id = Int(ids[r])
                    let o = out + r * gh
                    for j in 0..<gh { o[j] = w[j * v + id] }
                }
            }
        }
    }

    /// The weight gradients of all the backward's steps at once: W_ih and b_ih from the gradient of the
    /// input product (`dPreInput`), W_hh and b_hh from that of the recurrent one (`dPreRecurrent`; the
    /// same buffer where both biases are added before the nonlinearity), each [rows, G*H].
    func accumulateWeightGradients(_ input: LayerInput, rows: Int, dPreInput: UnsafePointer<Float>,
                                   dPreRecurrent: UnsafePointer<Float>, grads: UnsafeMutablePointer<Float>) {
        StepPhases.mark(.weightGradients)
        accumulateInputWeightGradients(input, rows: rows, dPre: dPreInput, grads: grads)
        // grad W_hh += dPre^T [h_{-1} ... h_{T-2}]
        accumulateProduct(dPreRecurrent, hiddens.pointer, n: hidden, rows: rows, into: grads + wHh)
        columnSums(dPreRecurrent, rows: rows, cols: gates * hidden, into: grads + bHh)
    }

    /// grad W_ih += dPre^T input, grad b_ih += column sums of dPre; dPre is [rows, G*H].
    private func accumulateInputWeightGradients(_ input: LayerInput, rows: Int, dPre: UnsafePointer<Float>,
                                        grads: UnsafeMutablePointer<Float>) {
        let gh = gates * hidden
        switch input {
        case .dense(let x):
            accumulateProduct(dPre, x, n: inputSize, rows: rows, into: grads + wIh)
        case .projected(let ids, _, let V):
            // The gradient of the folded table: rows with the same id add into one table row, so parts
            // own disjoint columns. The model turns it into the W_ih and embedding gradients.
            dTable.reserve(V * gh)
            let d = dTable.pointer, parts = Parallel.parts(floats: rows * gh)
            d.update(repeating: 0, count: V * gh)
            Parallel.run(parts) { p in
                let cols = Parallel.range(part: p, of: parts, total: gh)
                guard !cols.isEmpty else { return }
                for r in 0..<rows {
                    crn_add(dPre + r * gh + cols.lowerBound, d + Int(ids[r]) * gh + cols.lowerBound, cols.count)
                }
            }
        case .oneHot(let ids):
            // Parts own disjoint rows of W_ih's gradient, so no two write the same element.
            let g = grads + wIh, v = inputSize
            let parts = Parallel.parts(floats: rows * gh)
            Parallel.run(parts) { p in
                let js = Parallel.range(part: p, of: parts, total: gh)
                for r in 0..<rows {
                    let id = Int(ids[r])
                    let d = dPre + r * gh
                    for j in js { g[j * v + id] += d[j] }
                }
            }
        }
        columnSums(dPre, rows: rows, cols: gh, into: grads + bIh)
    }

    /// grad[G*H, n] += dPre^T x, dPre [rows, G*H] and x [rows, n].
    private func accumulateProduct(_ dPre: UnsafePointer<Float>, _ x: UnsafePointer<Float>, n: Int, rows: Int,
                                   into grad: UnsafeMutablePointer<Float>) {
        let gh = gates * hidden
        weightGradients.accumulate(m: gh, n: n, k: rows, a: dPre, lda: gh, b: x, ldb: n, into: grad, ldc: n)
    }

    /// Packs W_ih [G*H, I] for dInput = dPre W_ih ([T*B, I]), which the backward steps then make step by
    /// step (inputGradientRows, backwardTiled) as the forward makes the input product, in the same
    /// kernel whichever way the batch is split. Returns whether dInput is wanted.
    func beginInputGradient(_ needed: Bool, params: UnsafePointer<Float>) -> Bool {
        if needed { packedInputGradient.pack(params + wIh, k: gates * hidden, n: inputSize, transposed: false) }
        return needed
    }

    /// Rows b0..<b0+nb of step t of dInput, from those rows of dPre (at `dPreRows`), on the calling thread.
    func inputGradientRows(t: Int, B: Int, b0: Int, nb: Int, dPre dPreRows: UnsafePointer<Float>) {
        packedInputGradient.multiply(rows: nb, dPreRows, into: dInput.pointer + (t * B + b0) * inputSize, accumulate: false)
    }


    /// out[cols] += sum over rows of m[rows, cols].
    func columnSums(_ m: UnsafePointer<Float>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Float>) {
        BLAS.columnSums(m, rows: rows, cols: cols, ones: ones.pointer, into: out)
    }

    // MARK: the per-step recurrent product

    /// Packs the forward weights once so that many inference calls share them, until `frozen` is cleared.
    func freeze(_ params: UnsafePointer<Float>) {
        packedForward.pack(params + wHh, k: hidden, n: gates * hidden, transposed: true)
        packedInput.pack(params + wIh, k: inputSize, n: gates * hidden, transposed: true)
        frozen = true
    }

    /// Inference steps of up to this many rows split the products by weight panels, so each thread
    /// streams only its share of the weights (a small batch is bound by reading them, not by arithmetic).
    /// Every frozen step of up to this many rows goes through the same kernel, whose result for a row
    /// does not depend on the other rows: a generation gives the same text alone or batched.
    package static let panelSplitRows = 256

    /// Whether this forward is an inference step that takes the panel-split path.
    func stepsByPanels(T: Int, B: Int) -> Bool { frozen && T == 1 && B <= Self.panelSplitRows }

    /// W_hh^T packed for this call's forward steps (or the frozen packing).
    func recurrentWeightsForward(_ params: UnsafePointer<Float>) -> PackedMatrix {
        if !frozen { packedForward.pack(params + wHh, k: hidden, n: gates * hidden, transposed: true) }
        return packedForward
    }

    /// W_hh packed for this call's backward steps.
    func recurrentWeightsBackward(_ params: UnsafePointer<Float>) -> PackedMatrix {
        packedBackward.pack(params + wHh, k: gates * hidden, n: hidden, transposed: false)
        return packedBackward
    }

    /// How the steps of a training or evaluation call are split over threads. `rows` gives each thread
    /// its own batch rows for all T steps: no synchronisation, but every thread reads all of W_hh at
    /// every step. `tiles` splits each step's recurrent product in two dimensions (rows times weight
    /// panels, each thread keeping the same panels, which stay in its cache) and the cell update by rows,
    /// with the threads meeting twice a step. Both give the same bits. `automatic` picks by shape.
    /// (A third split, each thread the same 16-unit chunks of every gate block for both the product and
    /// the cell, meets once a step and moves no pre-activations between cores; on 2 cores it ran 2-8%
    /// slower than tiles, the backward cell reading its rows' gates in pieces of 64-256 floats, and was
    /// not kept.)
    package enum RecurrenceSplit: String, Sendable, CaseIterable {
        case automatic = "auto", rows, tiles
    }

    /// The split every layer uses (bench --split measures each; the tests force both).
    nonisolated(unsafe) public static var recurrenceSplit = RecurrenceSplit.automatic
    /// How many forward or backward passes have run tiled on more than one thread (tests use it to know
    /// which split ran).
    nonisolated(unsafe) package private(set) static var tiledRuns = 0

    /// Whether a call of T steps of B rows runs tiled. One-step calls keep their own paths (sampling).
    func stepsTiled(T: Int, B: Int) -> Bool {
        let threads = Parallel.threads
        guard threads > 1, T > 1 else { return false }
        switch Self.recurrenceSplit {
        case .rows: return false
        case .tiles: return true
        case .automatic: return Self.tilesPay(rows: B, threads: threads, weights: gates * hidden * hidden)
        }
    }

    /// The automatic rule. Few rows per thread make each thread's product a thin one that reads all of
    /// W_hh for little arithmetic, and weights too large for a core's cache are read from further away
    /// at every step unless each thread keeps its own panels; but a step too small to share (a batch-1
    /// RNN) is faster on one thread than with two meetings per step. On 2 cores, 3 rows per thread ran
    /// 20-35% faster tiled and 8 to 25 rows per thread the same either way (bench --split --batch).
    static func tilesPay(rows: Int, threads: Int, weights: Int) -> Bool {
        guard rows * weights >= 1 << 17 else { return false }
        return rows / threads < 12 || 4 * weights > 1 << 20
    }

    /// The forward steps tiled: at step t every thread makes its tile of the input product of `input`'s
    /// step t into its rows at `input.out` + t*B*G*H (when given, after beginInput returned true), adds its
    /// tile of h_{t-1} W_hh^T into pre's rows of step t ([B, G*H] at pre + t*B*G*H), then, once every
    /// tile is in, runs `cell(t, first row, rows)` on its own batch rows, which writes h_t.
    func forwardTiled(T: Int, B: Int, packed: PackedMatrix, pre: UnsafeMutablePointer<Float>,
                      input: (x: LayerInput, out: UnsafeMutablePointer<Float>)? = nil, cell: (Int, Int, Int) -> Void) {
        let threads = Parallel.threads, hs = hiddens.pointer, bh = B * hidden, stride = B * gates * hidden
        if threads > 1 { Self.tiledRuns += 1 }
        Parallel.together { p in
            let tile = packed.tile(part: p, of: threads, rows: B)
            let mine = Parallel.range(part: p, of: threads, total: B)
            for t in 0..<T {
                if let input { inputTile(input.x, t: t, B: B, tile: tile, into: input.out + t * stride) }
                packed.multiply(tile, hs + t * bh, into: pre + t * stride, accumulate: true)
                Parallel.barrier()
                if !mine.isEmpty { cell(t, mine.lowerBound, mine.count) }
                Parallel.barrier()
            }
        }
    }

    /// Backward through T steps for a cell whose input and recurrent products share one pre-activation
    /// gradient dPre [T*B, G*H] (LSTM, RNN; the GRU keeps two): `cell(t, b0, nb)` writes rows b0..<b0+nb
    /// of step t of dPre from the step's gradients (dh_rec of the step above, nil at the last); the rest
    /// (the dh_rec of the step below, dInput, the weight gradients) is every such cell's.
    func backwardSteps(_ input: LayerInput, T: Int, B: Int, params: UnsafePointer<Float>, grads: UnsafeMutablePointer<Float>,
                       dPre: UnsafeMutablePointer<Float>, needInputGradient: Bool,
                       cell: (Int, Int, Int) -> Void) -> UnsafeMutablePointer<Float>? {
        let gh = gates * hidden, dhRec = dhRecurrent.pointer
        let packed = recurrentWeightsBackward(params)
        let wantInput = beginInputGradient(needInputGradient, params: params)
        if stepsTiled(T: T, B: B) {
            backwardTiled(T: T, B: B, packed: packed, dPre: dPre, accumulate: false, dPreInput: wantInput ? dPre : nil, cell: cell)
        } else {
            splitBatch(B) { b0, nb in
                for t in stride(from: T - 1, through: 0, by: -1) {
                    cell(t, b0, nb)
                    let dpt = dPre + (t * B + b0) * gh
                    if wantInput { inputGradientRows(t: t, B: B, b0: b0, nb: nb, dPre: dpt) }
                    if t > 0 { packed.multiply(rows: nb, dpt, into: dhRec + b0 * hidden, accumulate: false) }
                }
            }
        }
        accumulateWeightGradients(input, rows: T * B, dPreInput: dPre, dPreRecurrent: dPre, grads: grads)
        return wantInput ? dInput.pointer : nil
    }

    /// The backward steps tiled, last first: `cell(t, first row, rows)` on the thread's own batch rows
    /// writes dPre's rows of step t ([B, G*H] at dPre + t*B*G*H); then, once every row is in, each
    /// thread makes its tile of step t of dInput = dPreInput_t W_ih (when `dPreInput`, [T*B, G*H], is
    /// given, after beginInputGradient returned true) and its tile of dh_{t-1} = dPre_t W_hh into
    /// dhRecurrent (added to what the cell left there when `accumulate`).
    func backwardTiled(T: Int, B: Int, packed: PackedMatrix, dPre: UnsafePointer<Float>, accumulate: Bool,
                       dPreInput: UnsafePointer<Float>? = nil, cell: (Int, Int, Int) -> Void) {
        let threads = Parallel.threads, dhRec = dhRecurrent.pointer, stride = B * gates * hidden
        let dIn = dInput.pointer, inStride = B * inputSize
        if threads > 1 { Self.tiledRuns += 1 }
        Parallel.together { p in
            let tile = packed.tile(part: p, of: threads, rows: B)
            let inputTile = packedInputGradient.tile(part: p, of: threads, rows: B)
            let mine = Parallel.range(part: p, of: threads, total: B)
            for t in Swift.stride(from: T - 1, through: 0, by: -1) {
                if !mine.isEmpty { cell(t, mine.lowerBound, mine.count) }
                guard t > 0 || dPreInput != nil else { break }
                Parallel.barrier()
                if let dPreInput {
                    packedInputGradient.multiply(inputTile, dPreInput + t * stride, into: dIn + t * inStride, accumulate: false)
                }
                guard t > 0 else { break }
                packed.multiply(tile, dPre + t * stride, into: dhRec, accumulate: accumulate)
                Parallel.barrier()
            }
        }
    }

    /// Runs body(first row, row count) for the batch cut into parts, one per thread. Batch rows are
    /// independent through all T steps of the recurrence, so the parts need no synchronisation.
    func splitBatch(_ B: Int, _ body: (Int, Int) -> Void) {
        let parts = min(Parallel.threads, B)
        Parallel.run(parts) { p in
            let r = Parallel.range(part: p, of: parts, total: B)
            body(r.lowerBound, r.count)
        }
    }

    /// b_ih + b_hh, for cells where both biases are added before the nonlinearity.
    func fillCombinedBias(_ params: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let gh = gates * hidden
        for j in 0..<gh { out[j] = params[bIh + j] + params[bHh + j] }
    }
}
