import CCharRNNKernels

/// nn.RNN's layer: h' = act(W_ih x + b_ih + W_hh h + b_hh), act tanh or ReLU.
/// Kept for backward: hiddens (T+1)*B*H (the derivative is read off the output); pre-activations reuse one buffer.
final class SimpleRNNLayer: RecurrentLayer {
    private let relu: Bool
    private let pre = FloatBuffer(count: 0)
    private let bias = FloatBuffer(count: 0)

    init(inputSize: Int, hidden: Int, relu: Bool, layout: ParameterLayout, layer: Int, suffix: String) {
        self.relu = relu
        super.init(inputSize: inputSize, hidden: hidden, gates: 1, layout: layout, layer: layer, suffix: suffix)
        bias.reserve(hidden)
    }

    override func reserveCell(rows: Int, B: Int) { pre.reserve(rows * hidden) }

    override func forward(_ input: LayerInput, T: Int, B: Int, params: UnsafePointer<Float>,
                          state: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        reserve(T: T, B: B)
        let H = hidden, bh = B * H
        let hs = hiddens.pointer, p = pre.pointer
        hs.update(from: state, count: bh)
        fillCombinedBias(params, into: bias.pointer)
        let bySteps = beginInput(input, T: T, B: B, params: params, out: p)
        let bias = self.bias.pointer, packed = recurrentWeightsForward(params), relu: Int32 = self.relu ? 1 : 0
        if stepsByPanels(T: T, B: B) {
            packed.multiplyByPanels(rows: B, hs, into: p, accumulate: true)
            splitBatch(B) { b0, nb in crn_rnn_forward(Int32(nb), Int32(H), p + b0 * H, bias, hs + bh + b0 * H, relu) }
            state.update(from: hs + bh, count: bh)
            return hs + bh
        }
        if stepsTiled(T: T, B: B) {
            forwardTiled(T: T, B: B, packed: packed, pre: p, input: bySteps ? (input, p) : nil) { t, b0, nb in
                let row = b0 * H
                crn_rnn_forward(Int32(nb), Int32(H), p + t * bh + row, bias, hs + (t + 1) * bh + row, relu)
            }
        } else {
            splitBatch(B) { b0, nb in
                let row = b0 * H
                for t in 0..<T {
                    let pt = p + t * bh + row
                    if bySteps { inputRows(input, t: t, B: B, b0: b0, nb: nb, into: pt) }
                    packed.multiply(rows: nb, hs + t * bh + row, into: pt, accumulate: true)
                    crn_rnn_forward(Int32(nb), Int32(H), pt, bias, hs + (t + 1) * bh + row, relu)
                }
            }
        }
        state.update(from: hs + T * bh, count: bh)
        return hs + bh
    }

    override func backward(_ input: LayerInput, T: Int, B: Int, params: UnsafePointer<Float>,
                           grads: UnsafeMutablePointer<Float>, dOutput: UnsafePointer<Float>,
                           needInputGradient: Bool) -> UnsafeMutablePointer<Float>? {
        let H = hidden, bh = B * H, rows = T * B
        let hs = hiddens.pointer, dp = pre.pointer, dhRec = dhRecurrent.pointer
        let packed = recurrentWeightsBackward(params), relu: Int32 = self.relu ? 1 : 0
        let wantInput = beginInputGradient(needInputGradient, params: params)
        if stepsTiled(T: T, B: B) {
            backwardTiled(T: T, B: B, packed: packed, dPre: dp, accumulate: false, dPreInput: wantInput ? dp : nil) { t, b0, nb in
                let row = b0 * H
                crn_rnn_backward(Int32(nb), Int32(H), hs + (t + 1) * bh + row, dOutput + t * bh + row,
                                 t == T - 1 ? nil : UnsafePointer(dhRec + row), dp + t * bh + row, relu)
            }
        } else {
            splitBatch(B) { b0, nb in
                let row = b0 * H
                for t in stride(from: T - 1, through: 0, by: -1) {
                    let dpt = dp + t * bh + row
                    crn_rnn_backward(Int32(nb), Int32(H), hs + (t + 1) * bh + row, dOutput + t * bh + row,
                                     t == T - 1 ? nil : UnsafePointer(dhRec + row), dpt, relu)
                    if wantInput { inputGradientRows(t: t, B: B, b0: b0, nb: nb, dPre: dpt) }
                    if t > 0 {
                        packed.multiply(rows: nb, dpt, into: dhRec + row, accumulate: false)
                    }
                }
            }
        }
        accumulateWeightGradients(input, rows: rows, dPreInput: dp, dPreRecurrent: dp, grads: grads)
        return wantInput ? dInput.pointer : nil
    }
}
