extension KernelSource {
    /// nn.LSTM's cell, the GPU twin of crn_lstm_forward / crn_lstm_backward (Layers/LSTMLayer.swift).
    /// One thread per (row b, unit j) of B*H.
    /// forward: gates[B,4H] holds x W_ih^T + h W_hh^T; adds bias_ih[4H] + bias_hh[4H] (summed here, not by
    ///          a launch of its own per call: one launch fewer per layer per generated character), activates in place (=),
    ///          c = f*c_prev + i*g (=), h = o*tanh(c) (=).
    /// backward: dh = dh_out + dh_rec (dh_rec may be null); dc[B,H] carries dc from step t+1 in and
    ///           the dc for step t-1 out; writes dgates[B,4H] (=).
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
    """)
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
}
