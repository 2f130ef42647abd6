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
        let H = hidden, bh = B * H, hs = hiddens.pointer, dp = pre.pointer, dhRec = dhRecurrent.pointer
        let relu: Int32 = self.relu ? 1 : 0
        return backwardSteps(input, T: T, B: B, params: params, grads: grads, dPre: dp, needInputGradient: needInputGradient) { t, b0, nb in
            let row = b0 * H
            crn_rnn_backward(Int32(nb), Int32(H), hs + (t + 1) * bh + row, dOutput + t * bh + row,
                             t == T - 1 ? nil : UnsafePointer(dhRec + row), dp + t * bh + row, relu)
        }
    }
}

// MARK: nn.RNN on a GPU

extension KernelSource {
    /// nn.RNN's cell, the GPU twin of crn_rnn_forward / crn_rnn_backward (above).
    /// One thread per element of B*H; relu != 0 selects ReLU, else tanh.
    /// forward: h = act(pre + (bias_ih + bias_hh)) (=), pre[B,H] = x W_ih^T + h W_hh^T.
    /// backward: dpre = (dh_out + dh_rec) * act'(h) (=); dh_rec may be null.
    /// rnn_step (KernelSource.step: one launch for a layer's inference step): rnn_forward's on x W_ih^T
    /// (or the folded row) + h_prev W_hh^T; h_out [B,H] (=). Threads: 32 per (b, j) of B*H, and at least
    /// copy_count.
    static let rnn = KernelSource(name: "rnn", code: """
    extern "C" __global__ void rnn_forward(int B, int H, const float *pre, const float *bias_ih, const float *bias_hh, float *h,
                                           int relu) {
        const long k = CRN_THREAD;
        if (k >= (long)B * H) return;
        const float v = pre[k] + (bias_ih[k % H] + bias_hh[k % H]);
        h[k] = relu ? fmaxf(v, 0.0f) : tanhf(v);
    }

    extern "C" __global__ void rnn_backward(int B, int H, const float *h, const float *dh_out, const float *dh_rec,
                                            float *dpre, int relu) {
        const long k = CRN_THREAD;
        if (k >= (long)B * H) return;
        const float dh = dh_out[k] + (dh_rec ? dh_rec[k] : 0.0f);
        dpre[k] = relu ? (h[k] > 0.0f ? dh : 0.0f) : dh * (1.0f - h[k] * h[k]);
    }

    extern "C" __global__ void rnn_step(int B, int H, int I, const float *x, const int *ids, const float *table,
                                        const float *w_ih, const float *w_hh, const float *bias_ih, const float *bias_hh,
                                        int relu, const float *h_prev, float *h_out,
                                        const float *copy_from, float *copy_to, long copy_count) {
        int lane;
        const long w = crn_step_output((long)B * H, copy_from, copy_to, copy_count, &lane);
        if (w < 0) return;
        const long b = w / H, j = w % H;
        const int first = CRN_WARP == 1 ? 0 : lane;
        float s = 0.0f;
        if (x) {
            const float *xb = x + b * I, *row = w_ih + j * I;
            for (int k = first; k < I; k += CRN_WARP) s += row[k] * xb[k];
        }
        const float *hb = h_prev + b * H, *row = w_hh + j * H;
        for (int k = first; k < H; k += CRN_WARP) s += row[k] * hb[k];
        s = crn_warp_sum(s);
        if (lane != 0) return;
        if (table) s += table[(long)ids[b] * H + j];
        const float v = s + (bias_ih[j] + bias_hh[j]);
        h_out[b * H + j] = relu ? fmaxf(v, 0.0f) : tanhf(v);
    }
    """)
}

/// nn.RNN's layer on a device (above). Kept for backward: hiddens (T+1)*B*H;
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

// MARK: Launchers, written by scripts/kernel-launchers.py from the kernels above: do not edit

extension ComputeDevice {
    func rnnForward(threads: Int, B: Int, H: Int, pre: DevicePointer?, biasIh: DevicePointer?, biasHh: DevicePointer?,
        h: DevicePointer?, relu: Int) throws {
        try launch("rnn_forward", threads: threads, [.int(B), .int(H), .pointer(pre), .pointer(biasIh),
            .pointer(biasHh), .pointer(h), .int(relu)])
    }

    func rnnBackward(threads: Int, B: Int, H: Int, h: DevicePointer?, dhOut: DevicePointer?, dhRec: DevicePointer?,
        dpre: DevicePointer?, relu: Int) throws {
        try launch("rnn_backward", threads: threads, [.int(B), .int(H), .pointer(h), .pointer(dhOut), .pointer(dhRec),
            .pointer(dpre), .int(relu)])
    }

    func rnnStep(threads: Int, B: Int, H: Int, I: Int, x: DevicePointer?, ids: DevicePointer?, table: DevicePointer?,
        wIh: DevicePointer?, wHh: DevicePointer?, biasIh: DevicePointer?, biasHh: DevicePointer?, relu: Int,
        hPrev: DevicePointer?, hOut: DevicePointer?, copyFrom: DevicePointer?, copyTo: DevicePointer?,
        copyCount: Int) throws {
        try launch("rnn_step", threads: threads, [.int(B), .int(H), .int(I), .pointer(x), .pointer(ids),
            .pointer(table), .pointer(wIh), .pointer(wHh), .pointer(biasIh), .pointer(biasHh), .int(relu),
            .pointer(hPrev), .pointer(hOut), .pointer(copyFrom), .pointer(copyTo), .long(copyCount)])
    }
}
