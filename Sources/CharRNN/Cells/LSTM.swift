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
        let H = hidden, G = 4 * hidden, bh = B * H
        let cs = cells.pointer, g = gateValues.pointer, dg = dGates.pointer, dhRec = dhRecurrent.pointer
        dCell.zero()
        let dc = dCell.pointer
        return backwardSteps(input, T: T, B: B, params: params, grads: grads, dPre: dg, needInputGradient: needInputGradient) { t, b0, nb in
            let row = b0 * H
            crn_lstm_backward(Int32(nb), Int32(H), g + t * B * G + b0 * G, cs + t * bh + row, cs + (t + 1) * bh + row,
                              dOutput + t * bh + row, t == T - 1 ? nil : UnsafePointer(dhRec + row), dc + row, dg + t * B * G + b0 * G)
        }
    }
}

// MARK: nn.LSTM on a GPU

extension KernelSource {
    /// nn.LSTM's cell, the GPU twin of crn_lstm_forward / crn_lstm_backward (above).
    /// One thread per (row b, unit j) of B*H.
    /// forward: gates[B,4H] holds x W_ih^T + h W_hh^T; adds bias_ih[4H] + bias_hh[4H] (summed here, not by
    ///          a launch of its own per call: one launch fewer per layer per generated character), activates in place (=),
    ///          c = f*c_prev + i*g (=), h = o*tanh(c) (=).
    /// backward: dh = dh_out + dh_rec (dh_rec may be null); dc[B,H] carries dc from step t+1 in and
    ///           the dc for step t-1 out; writes dgates[B,4H] (=).
    /// lstm_step (KernelSource.step: one launch for a layer's inference step): gates[q] = x W_ih[q*H + j]^T
    /// (or, folded, table[ids[b], q*H + j]) + h_prev W_hh[q*H + j]^T + bias_ih + bias_hh, then
    /// lstm_forward's cell: c (in place, [B,H]), h_out [B,H] (=). Threads: 32 per (b, j) of B*H, and at
    /// least copy_count.
    static let lstm = KernelSource(name: "lstm", code: """
    extern "C" __global__ void lstm_forward(int B, int H, float *gates, const float *bias_ih, const float *bias_hh,
                                            const float *c_prev, float *c, float *h) {
        const long k = CRN_THREAD;
        if (k >= (long)B * H) return;
        const long b = k / H, j = k % H;
        float *g = gates + b * 4 * H;
        const float i = crn_sigmoidf(g[j] + (bias_ih[j] + bias_hh[j]));
        const float f = crn_sigmoidf(g[H + j] + (bias_ih[H + j] + bias_hh[H + j]));
        const float gg = tanhf(g[2 * H + j] + (bias_ih[2 * H + j] + bias_hh[2 * H + j]));
        const float o = crn_sigmoidf(g[3 * H + j] + (bias_ih[3 * H + j] + bias_hh[3 * H + j]));
        const float cn = f * c_prev[k] + i * gg;
        g[j] = i; g[H + j] = f; g[2 * H + j] = gg; g[3 * H + j] = o;
        c[k] = cn;
        h[k] = o * tanhf(cn);
    }

    extern "C" __global__ void lstm_backward(int B, int H, const float *gates, const float *c_prev, const float *c,
                                             const float *dh_out, const float *dh_rec, float *dc, float *dgates) {
        const long k = CRN_THREAD;
        if (k >= (long)B * H) return;
        const long b = k / H, j = k % H;
        const float *g = gates + b * 4 * H;
        float *d = dgates + b * 4 * H;
        const float dh = dh_out[k] + (dh_rec ? dh_rec[k] : 0.0f);
        const float tc = tanhf(c[k]);
        const float i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
        const float dcj = dc[k] + dh * o * (1.0f - tc * tc);
        d[j] = dcj * gg * i * (1.0f - i);
        d[H + j] = dcj * c_prev[k] * f * (1.0f - f);
        d[2 * H + j] = dcj * i * (1.0f - gg * gg);
        d[3 * H + j] = dh * tc * o * (1.0f - o);
        dc[k] = dcj * f;
    }

    extern "C" __global__ void lstm_step(int B, int H, int I, const float *x, const int *ids, const float *table,
                                         const float *w_ih, const float *w_hh, const float *bias_ih, const float *bias_hh,
                                         const float *h_prev, float *c, float *h_out,
                                         const float *copy_from, float *copy_to, long copy_count) {
        int lane;
        const long w = crn_step_output((long)B * H, copy_from, copy_to, copy_count, &lane);
        if (w < 0) return;
        const long b = w / H, j = w % H;
        const int first = CRN_WARP == 1 ? 0 : lane;
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        if (x) {
            const float *xb = x + b * I;
            const float *r0 = w_ih + j * I, *r1 = w_ih + (H + j) * I, *r2 = w_ih + (2 * H + j) * I, *r3 = w_ih + (3 * H + j) * I;
            for (int k = first; k < I; k += CRN_WARP) {
                const float v = xb[k];
                s0 += r0[k] * v; s1 += r1[k] * v; s2 += r2[k] * v; s3 += r3[k] * v;
            }
        }
        const float *hb = h_prev + b * H;
        const float *q0 = w_hh + j * H, *q1 = w_hh + (H + j) * H, *q2 = w_hh + (2 * H + j) * H, *q3 = w_hh + (3 * H + j) * H;
        for (int k = first; k < H; k += CRN_WARP) {
            const float v = hb[k];
            s0 += q0[k] * v; s1 += q1[k] * v; s2 += q2[k] * v; s3 += q3[k] * v;
        }
        s0 = crn_warp_sum(s0); s1 = crn_warp_sum(s1); s2 = crn_warp_sum(s2); s3 = crn_warp_sum(s3);
        if (lane != 0) return;
        if (table) {
            const float *row = table + (long)ids[b] * 4 * H;
            s0 += row[j]; s1 += row[H + j]; s2 += row[2 * H + j]; s3 += row[3 * H + j];
        }
        const float i = crn_sigmoidf(s0 + (bias_ih[j] + bias_hh[j]));
        const float f = crn_sigmoidf(s1 + (bias_ih[H + j] + bias_hh[H + j]));
        const float gg = tanhf(s2 + (bias_ih[2 * H + j] + bias_hh[2 * H + j]));
        const float o = crn_sigmoidf(s3 + (bias_ih[3 * H + j] + bias_hh[3 * H + j]));
        const long k = b * H + j;
        const float cn = f * c[k] + i * gg;
        c[k] = cn;
        h_out[k] = o * tanhf(cn);
    }
    """)
}

/// nn.LSTM's layer on a device (above). Kept for backward: activated gates T*B*4H,
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

// MARK: Launchers, written by scripts/kernel-launchers.py from the kernels above: do not edit

extension ComputeDevice {
    func lstmForward(threads: Int, B: Int, H: Int, gates: DevicePointer?, biasIh: DevicePointer?,
        biasHh: DevicePointer?, cPrev: DevicePointer?, c: DevicePointer?, h: DevicePointer?) throws {
        try launch("lstm_forward", threads: threads, [.int(B), .int(H), .pointer(gates), .pointer(biasIh),
            .pointer(biasHh), .pointer(cPrev), .pointer(c), .pointer(h)])
    }

    func lstmBackward(threads: Int, B: Int, H: Int, gates: DevicePointer?, cPrev: DevicePointer?, c: DevicePointer?,
        dhOut: DevicePointer?, dhRec: DevicePointer?, dc: DevicePointer?, dgates: DevicePointer?) throws {
        try launch("lstm_backward", threads: threads, [.int(B), .int(H), .pointer(gates), .pointer(cPrev), .pointer(c),
            .pointer(dhOut), .pointer(dhRec), .pointer(dc), .pointer(dgates)])
    }

    func lstmStep(threads: Int, B: Int, H: Int, I: Int, x: DevicePointer?, ids: DevicePointer?, table: DevicePointer?,
        wIh: DevicePointer?, wHh: DevicePointer?, biasIh: DevicePointer?, biasHh: DevicePointer?, hPrev: DevicePointer?,
        c: DevicePointer?, hOut: DevicePointer?, copyFrom: DevicePointer?, copyTo: DevicePointer?,
        copyCount: Int) throws {
        try launch("lstm_step", threads: threads, [.int(B), .int(H), .int(I), .pointer(x), .pointer(ids),
            .pointer(table), .pointer(wIh), .pointer(wHh), .pointer(biasIh), .pointer(biasHh), .pointer(hPrev),
            .pointer(c), .pointer(hOut), .pointer(copyFrom), .pointer(copyTo), .long(copyCount)])
    }
}
