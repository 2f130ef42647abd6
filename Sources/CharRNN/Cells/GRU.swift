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

// MARK: nn.GRU on a GPU

extension KernelSource {
    /// nn.GRU's cell, the GPU twin of crn_gru_forward / crn_gru_backward (above).
    /// One thread per (row b, unit j) of B*H.
    /// forward: xp[B,3H] = x W_ih^T, hp[B,3H] = h W_hh^T, the biases b_ih, b_hh [3H] added here (no launch
    ///          of their own); act[B,3H] = r, z, n (=); h = (1-z)*n + z*h_prev (=); hp's n third becomes
    ///          h W_hh^T + b_hh there, which backward reads (the CPU's hp holds its bias throughout).
    /// backward: dxp, dhp [B,3H] (=), the gradients of xp and hp; dh_prev[B,H] = dh*z (=).
    /// gru_step (KernelSource.step: one launch for a layer's inference step): gru_forward's cell on r, z,
    /// n from x W_ih^T (or the folded row) and h_prev W_hh^T, each with its bias; h_out [B,H] (=).
    /// Threads: 32 per (b, j) of B*H, and at least copy_count.
    static let gru = KernelSource(name: "gru", code: """
    extern "C" __global__ void gru_forward(int B, int H, const float *xp, const float *b_ih, float *hp, const float *b_hh,
                                           const float *h_prev, float *act, float *h) {
        const long k = CRN_THREAD;
        if (k >= (long)B * H) return;
        const long b = k / H, j = k % H, row = b * 3 * H;
        const float r = crn_sigmoidf((xp[row + j] + b_ih[j]) + (hp[row + j] + b_hh[j]));
        const float z = crn_sigmoidf((xp[row + H + j] + b_ih[H + j]) + (hp[row + H + j] + b_hh[H + j]));
        const float hn = hp[row + 2 * H + j] + b_hh[2 * H + j];
        const float n = tanhf((xp[row + 2 * H + j] + b_ih[2 * H + j]) + r * hn);
        hp[row + 2 * H + j] = hn;
        act[row + j] = r; act[row + H + j] = z; act[row + 2 * H + j] = n;
        h[k] = (1.0f - z) * n + z * h_prev[k];
    }

    extern "C" __global__ void gru_backward(int B, int H, const float *act, const float *hp, const float *h_prev,
                                            const float *dh_out, const float *dh_rec, float *dxp, float *dhp,
                                            float *dh_prev) {
        const long k = CRN_THREAD;
        if (k >= (long)B * H) return;
        const long b = k / H, j = k % H, row = b * 3 * H;
        const float dh = dh_out[k] + (dh_rec ? dh_rec[k] : 0.0f);
        const float r = act[row + j], z = act[row + H + j], n = act[row + 2 * H + j];
        const float dpn = dh * (1.0f - z) * (1.0f - n * n);
        const float dpz = dh * (h_prev[k] - n) * z * (1.0f - z);
        const float dpr = dpn * hp[row + 2 * H + j] * r * (1.0f - r);
        dxp[row + j] = dpr; dxp[row + H + j] = dpz; dxp[row + 2 * H + j] = dpn;
        dhp[row + j] = dpr; dhp[row + H + j] = dpz; dhp[row + 2 * H + j] = dpn * r;
        dh_prev[k] = dh * z;
    }

    extern "C" __global__ void gru_step(int B, int H, int I, const float *x, const int *ids, const float *table,
                                        const float *w_ih, const float *w_hh, const float *bias_ih, const float *bias_hh,
                                        const float *h_prev, float *h_out,
                                        const float *copy_from, float *copy_to, long copy_count) {
        int lane;
        const long w = crn_step_output((long)B * H, copy_from, copy_to, copy_count, &lane);
        if (w < 0) return;
        const long b = w / H, j = w % H;
        const int first = CRN_WARP == 1 ? 0 : lane;
        float xr = 0.0f, xz = 0.0f, xn = 0.0f, hr = 0.0f, hz = 0.0f, hn = 0.0f;
        if (x) {
            const float *xb = x + b * I;
            const float *r0 = w_ih + j * I, *r1 = w_ih + (H + j) * I, *r2 = w_ih + (2 * H + j) * I;
            for (int k = first; k < I; k += CRN_WARP) {
                const float v = xb[k];
                xr += r0[k] * v; xz += r1[k] * v; xn += r2[k] * v;
            }
        }
        const float *hb = h_prev + b * H;
        const float *q0 = w_hh + j * H, *q1 = w_hh + (H + j) * H, *q2 = w_hh + (2 * H + j) * H;
        for (int k = first; k < H; k += CRN_WARP) {
            const float v = hb[k];
            hr += q0[k] * v; hz += q1[k] * v; hn += q2[k] * v;
        }
        xr = crn_warp_sum(xr); xz = crn_warp_sum(xz); xn = crn_warp_sum(xn);
        hr = crn_warp_sum(hr); hz = crn_warp_sum(hz); hn = crn_warp_sum(hn);
        if (lane != 0) return;
        if (table) {
            const float *row = table + (long)ids[b] * 3 * H;
            xr += row[j]; xz += row[H + j]; xn += row[2 * H + j];
        }
        const float r = crn_sigmoidf((xr + bias_ih[j]) + (hr + bias_hh[j]));
        const float z = crn_sigmoidf((xz + bias_ih[H + j]) + (hz + bias_hh[H + j]));
        const float n = tanhf((xn + bias_ih[2 * H + j]) + r * (hn + bias_hh[2 * H + j]));
        const long k = b * H + j;
        h_out[k] = (1.0f - z) * n + z * h_prev[k];
    }
    """)
}

/// nn.GRU's layer on a device (above). Kept for backward: r, z, n T*B*3H;
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

// MARK: Launchers, written by scripts/kernel-launchers.py from the kernels above: do not edit

extension ComputeDevice {
    func gruForward(threads: Int, B: Int, H: Int, xp: DevicePointer?, bIh: DevicePointer?, hp: DevicePointer?,
        bHh: DevicePointer?, hPrev: DevicePointer?, act: DevicePointer?, h: DevicePointer?) throws {
        try launch("gru_forward", threads: threads, [.int(B), .int(H), .pointer(xp), .pointer(bIh), .pointer(hp),
            .pointer(bHh), .pointer(hPrev), .pointer(act), .pointer(h)])
    }

    func gruBackward(threads: Int, B: Int, H: Int, act: DevicePointer?, hp: DevicePointer?, hPrev: DevicePointer?,
        dhOut: DevicePointer?, dhRec: DevicePointer?, dxp: DevicePointer?, dhp: DevicePointer?,
        dhPrev: DevicePointer?) throws {
        try launch("gru_backward", threads: threads, [.int(B), .int(H), .pointer(act), .pointer(hp), .pointer(hPrev),
            .pointer(dhOut), .pointer(dhRec), .pointer(dxp), .pointer(dhp), .pointer(dhPrev)])
    }

    func gruStep(threads: Int, B: Int, H: Int, I: Int, x: DevicePointer?, ids: DevicePointer?, table: DevicePointer?,
        wIh: DevicePointer?, wHh: DevicePointer?, biasIh: DevicePointer?, biasHh: DevicePointer?, hPrev: DevicePointer?,
        hOut: DevicePointer?, copyFrom: DevicePointer?, copyTo: DevicePointer?, copyCount: Int) throws {
        try launch("gru_step", threads: threads, [.int(B), .int(H), .int(I), .pointer(x), .pointer(ids),
            .pointer(table), .pointer(wIh), .pointer(wHh), .pointer(biasIh), .pointer(biasHh), .pointer(hPrev),
            .pointer(hOut), .pointer(copyFrom), .pointer(copyTo), .long(copyCount)])
    }
}
