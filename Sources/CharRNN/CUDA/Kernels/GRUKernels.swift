extension KernelSource {
    /// nn.GRU's cell, the GPU twin of crn_gru_forward / crn_gru_backward (Layers/GRULayer.swift).
    /// One thread per (row b, unit j) of B*H.
    /// forward: xp[B,3H] = x W_ih^T, hp[B,3H] = h W_hh^T, the biases b_ih, b_hh [3H] added here (no launch
    ///          of their own); act[B,3H] = r, z, n (=); h = (1-z)*n + z*h_prev (=); hp's n third becomes
    ///          h W_hh^T + b_hh there, which backward reads (the CPU's hp holds its bias throughout).
    /// backward: dxp, dhp [B,3H] (=), the gradients of xp and hp; dh_prev[B,H] = dh*z (=).
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
    """)
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
}
