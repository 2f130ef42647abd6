import CCharRNNKernels

/// nn.LSTM's layer: gates i, f, g, o; c = f*c + i*g; h = o*tanh(c).
/// Kept for backward: gates after activation T*B*4H, cells (T+1)*B*H, hiddens (T+1)*B*H;
/// workspace for backward: dGates T*B*4H, dInput T*B*I.
final class LSTMLayer: RecurrentLayer {
    private let gateValues = FloatBuffer(count: 0)
    private let cells = FloatBuffer(count: 0)
    private let dGates = FloatBuffer(count: 0)
    private let dCell = FloatBuffer(count: 0)
    private let bias = FloatBuffer(count: 0)

    init(inputSize: Int, hidden: Int, layout: ParameterLayout, layer: Int, suffix: String) {
        super.init(inputSize: inputSize, hidden: hidden, gates: 4, layout: layout, layer: layer, suffix: suffix)
        bias.reserve(4 * hidden)
    }

    override var stateCount: Int { 2 }

    override func reserveCell(rows: Int, B: Int) {
        gateValues.reserve(rows * 4 * hidden)
        dGates.reserve(rows * 4 * hidden)
        cells.reserve((rows + B) * hidden)
        dCell.reserve(B * hidden)
    }

    override func forward(_ input: LayerInput, T: Int, B: Int, params: UnsafePointer<Float>,
                          state: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        reserve(T: T, B: B)
        let H = hidden, G = 4 * hidden, bh = B * H
        let hs = hiddens.pointer, cs = cells.pointer, g = gateValues.pointer
        hs.update(from: state, count: bh)
        cs.update(from: state + bh, count: bh)
        fillCombinedBias(params, into: bias.pointer)
        let bias = self.bias.pointer
        if !frozen && T == 1 && B == 1 && Parallel.threads > 1 && hidden * (inputSize + hidden) >= 1 << 17, case .dense(let x) = input {
            stepSplitByUnits(x, params: params, bias: bias, gates: g, cPrev: cs, c: cs + bh, hPrev: hs, h: hs + bh)
            state.update(from: hs + bh, count: bh)
            (state + bh).update(from: cs + bh, count: bh)
            return hs + bh
        }
        let bySteps = beginInput(input, T: T, B: B, params: params, out: g)
        let packed = recurrentWeightsForward(params)
        if stepsByPanels(T: T, B: B) {
            packed.multiplyByPanels(rows: B, hs, into: g, accumulate: true)  // beginInput multiplied the input
            splitBatch(B) { b0, nb in
                crn_lstm_forward(Int32(nb), Int32(H), g + b0 * G, bias, cs + b0 * H, cs + bh + b0 * H, hs + bh + b0 * H)
            }
            state.update(from: hs + bh, count: bh)
            (state + bh).update(from: cs + bh, count: bh)
            return hs + bh
        }
        if stepsTiled(T: T, B: B) {
            forwardTiled(T: T, B: B, packed: packed, pre: g, input: bySteps ? (input, g) : nil) { t, b0, nb in
                let row = b0 * H
                crn_lstm_forward(Int32(nb), Int32(H), g + t * B * G + b0 * G, bias, cs + t * bh + row,
                                 cs + (t + 1) * bh + row, hs + (t + 1) * bh + row)
            }
        } else {
            splitBatch(B) { b0, nb in
                for t in 0..<T {
                    let gt = g + t * B * G + b0 * G, row = b0 * H
                    if bySteps { inputRows(input, t: t, B: B, b0: b0, nb: nb, into: gt) }
                    packed.multiply(rows: nb, hs + t * bh + row, into: gt, accumulate: true)
                    crn_lstm_forward(Int32(nb), Int32(H), gt, bias, cs + t * bh + row, cs + (t + 1) * bh + row,
                                     hs + (t + 1) * bh + row)
                }
            }
        }
        state.update(from: hs + T * bh, count: bh)
        (state + bh).update(from: cs + T * bh, count: bh)
        return hs + bh
    }

    /// One step of one stream (sampling): the gate pre-activations are cut into one contiguous block
    /// of rows per thread (input and recurrent products), then the cell update runs on the caller.
    private func stepSplitByUnits(_ x: UnsafePointer<Float>, params: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                  gates: UnsafeMutablePointer<Float>, cPrev: UnsafePointer<Float>,
                                  c: UnsafeMutablePointer<Float>, hPrev: UnsafePointer<Float>,
                                  h: UnsafeMutablePointer<Float>) {
        let H = hidden, I = inputSize, parts = Parallel.threads
        let wi = params + wIh, wh = params + wHh
        Parallel.run(parts) { p in
            let r = Parallel.range(part: p, of: parts, total: 4 * H)
            BLAS.gemv(trans: false, rows: r.count, cols: I, a: wi + r.lowerBound * I, lda: I, x: x, beta: 0, y: gates + r.lowerBound)
            BLAS.gemv(trans: false, rows: r.count, cols: H, a: wh + r.lowerBound * H, lda: H, x: hPrev, beta: 1, y: gates + r.lowerBound)
        }
        crn_lstm_forward(1, Int32(H), gates, bias, cPrev, c, h)
    }

    override func backward(_ input: LayerInput, T: Int, B: Int, params: UnsafePointer<Float>,
                           grads: UnsafeMutablePointer<Float>, dOutput: UnsafePointer<Float>,
                           needInputGradient: Bool) -> UnsafeMutablePointer<Float>? {
        let H = hidden, G = 4 * hidden, bh = B * H, rows = T * B
        let cs = cells.pointer, g = gateValues.pointer, dg = dGates.pointer, dhRec = dhRecurrent.pointer
        dCell.zero()
        let dc = dCell.pointer, packed = recurrentWeightsBackward(params)
        let wantInput = beginInputGradient(needInputGradient, params: params)
        if stepsTiled(T: T, B: B) {
            backwardTiled(T: T, B: B, packed: packed, dPre: dg, accumulate: false, dPreInput: wantInput ? dg : nil) { t, b0, nb in
                let row = b0 * H
                crn_lstm_backward(Int32(nb), Int32(H), g + t * B * G + b0 * G, cs + t * bh + row, cs + (t + 1) * bh + row,
                                  dOutput + t * bh + row, t == T - 1 ? nil : UnsafePointer(dhRec + row), dc + row,
                                  dg + t * B * G + b0 * G)
            }
        } else {
            splitBatch(B) { b0, nb in
                let row = b0 * H
                for t in stride(from: T - 1, through: 0, by: -1) {
                    let dgt = dg + t * B * G + b0 * G
                    crn_lstm_backward(Int32(nb), Int32(H), g + t * B * G + b0 * G, cs + t * bh + row, cs + (t + 1) * bh + row,
                                      dOutput + t * bh + row, t == T - 1 ? nil : UnsafePointer(dhRec + row), dc + row, dgt)
                    if wantInput { inputGradientRows(t: t, B: B, b0: b0, nb: nb, dPre: dgt) }
                    if t > 0 {
                        packed.multiply(rows: nb, dgt, into: dhRec + row, accumulate: false)
                    }
                }
            }
        }
        accumulateWeightGradients(input, rows: rows, dPreInput: dg, dPreRecurrent: dg, grads: grads)
        return wantInput ? dInput.pointer : nil
    }
}
