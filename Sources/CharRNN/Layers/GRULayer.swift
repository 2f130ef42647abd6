import CCharRNNKernels

/// nn.GRU's layer: r = σ(W_ir x + b_ir + W_hr h + b_hr), z likewise,
/// n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.
/// The recurrent product is kept apart from the input one because r multiplies only its n block.
/// Kept for backward: r, z, n T*B*3H; h W_hh^T + b_hh T*B*3H; hiddens (T+1)*B*H.
final class GRULayer: RecurrentLayer {
    private let inputPre = FloatBuffer(count: 0)   // x W_ih^T + b_ih
    private let hiddenPre = FloatBuffer(count: 0)  // h W_hh^T + b_hh
    private let activations = FloatBuffer(count: 0)
    private let dInputPre = FloatBuffer(count: 0)
    private let dHiddenPre = FloatBuffer(count: 0)
    private let dhDirect = FloatBuffer(count: 0)

    init(inputSize: Int, hidden: Int, layout: ParameterLayout, layer: Int, suffix: String) {
        super.init(inputSize: inputSize, hidden: hidden, gates: 3, layout: layout, layer: layer, suffix: suffix)
    }

    override func reserveCell(rows: Int, B: Int) {
        let n = rows * 3 * hidden
        for b in [inputPre, hiddenPre, activations, dInputPre, dHiddenPre] { b.reserve(n) }
        dhDirect.reserve(B * hidden)
    }

    override func forward(_ input: LayerInput, T: Int, B: Int, params: UnsafePointer<Float>,
                          state: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        reserve(T: T, B: B)
        let H = hidden, G = 3 * hidden, bh = B * H, rows = T * B
        let hs = hiddens.pointer, xp = inputPre.pointer, hp = hiddenPre.pointer, act = activations.pointer
        hs.update(from: state, count: bh)
        let bySteps = beginInput(input, T: T, B: B, params: params, out: xp)
        let bI = params + bIh, bH = params + bHh, packed = recurrentWeightsForward(params)
        if stepsByPanels(T: T, B: B) {
            for b in 0..<B {
                crn_add(bI, xp + b * G, G)
                (hp + b * G).update(from: bH, count: G)
            }
            packed.multiplyByPanels(rows: B, hs, into: hp, accumulate: true)
            splitBatch(B) { b0, nb in
                crn_gru_forward(Int32(nb), Int32(H), xp + b0 * G, hp + b0 * G, hs + b0 * H, act + b0 * G, hs + bh + b0 * H)
            }
            state.update(from: hs + bh, count: bh)
            return hs + bh
        }
        if stepsTiled(T: T, B: B) {
            // By steps, b_ih joins each step's input rows once all their tiles are in (in the cell).
            Parallel.forRows(rows, rowLength: G) { r in
                if !bySteps { crn_add(bI, xp + r * G, G) }
                (hp + r * G).update(from: bH, count: G)
            }
            forwardTiled(T: T, B: B, packed: packed, pre: hp, input: bySteps ? (input, xp) : nil) { t, b0, nb in
                let off = t * B * G + b0 * G
                if bySteps { for b in 0..<nb { crn_add(bI, xp + off + b * G, G) } }
                crn_gru_forward(Int32(nb), Int32(H), xp + off, hp + off, hs + t * bh + b0 * H, act + off,
                                hs + (t + 1) * bh + b0 * H)
            }
        } else {
            splitBatch(B) { b0, nb in
                let row = b0 * H
                for t in 0..<T {
                    let off = t * B * G + b0 * G
                    if bySteps { inputRows(input, t: t, B: B, b0: b0, nb: nb, into: xp + off) }
                    for b in 0..<nb {
                        crn_add(bI, xp + off + b * G, G)
                        (hp + off + b * G).update(from: bH, count: G)
                    }
                    packed.multiply(rows: nb, hs + t * bh + row, into: hp + off, accumulate: true)
                    crn_gru_forward(Int32(nb), Int32(H), xp + off, hp + off, hs + t * bh + row, act + off, hs + (t + 1) * bh + row)
                }
            }
        }
        state.update(from: hs + T * bh, count: bh)
        return hs + bh
    }

    override func backward(_ input: LayerInput, T: Int, B: Int, params: UnsafePointer<Float>,
                           grads: UnsafeMutablePointer<Float>, dOutput: UnsafePointer<Float>,
                           needInputGradient: Bool) -> UnsafeMutablePointer<Float>? {
        let H = hidden, G = 3 * hidden, bh = B * H, rows = T * B
        let hs = hiddens.pointer, hp = hiddenPre.pointer, act = activations.pointer
        let dxp = dInputPre.pointer, dhp = dHiddenPre.pointer, dhRec = dhRecurrent.pointer
        let direct = dhDirect.pointer, packed = recurrentWeightsBackward(params)
        let wantInput = beginInputGradient(needInputGradient, params: params)
        if stepsTiled(T: T, B: B) {
            backwardTiled(T: T, B: B, packed: packed, dPre: dhp, accumulate: true, dPreInput: wantInput ? dxp : nil) { t, b0, nb in
                let off = t * B * G + b0 * G, row = b0 * H
                crn_gru_backward(Int32(nb), Int32(H), act + off, hp + off, hs + t * bh + row, dOutput + t * bh + row,
                                 t == T - 1 ? nil : UnsafePointer(dhRec + row), dxp + off, dhp + off, direct + row)
                if t > 0 { (dhRec + row).update(from: direct + row, count: nb * H) }
            }
        } else {
            splitBatch(B) { b0, nb in
                let row = b0 * H
                for t in stride(from: T - 1, through: 0, by: -1) {
                    let off = t * B * G + b0 * G
                    crn_gru_backward(Int32(nb), Int32(H), act + off, hp + off, hs + t * bh + row, dOutput + t * bh + row,
                                     t == T - 1 ? nil : UnsafePointer(dhRec + row), dxp + off, dhp + off, direct + row)
                    if wantInput { inputGradientRows(t: t, B: B, b0: b0, nb: nb, dPre: dxp + off) }
                    if t > 0 {
                        (dhRec + row).update(from: direct + row, count: nb * H)
                        packed.multiply(rows: nb, dhp + off, into: dhRec + row, accumulate: true)
                    }
                }
            }
        }
        accumulateWeightGradients(input, rows: rows, dPreInput: dxp, dPreRecurrent: dhp, grads: grads)
        return wantInput ? dInput.pointer : nil
    }
}
