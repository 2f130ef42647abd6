extension KernelSource {
    /// nn.RNN's cell, the GPU twin of crn_rnn_forward / crn_rnn_backward (Layers/SimpleRNNLayer.swift).
    /// One thread per element of B*H; relu != 0 selects ReLU, else tanh.
    /// forward: h = act(pre + (bias_ih + bias_hh)) (=), pre[B,H] = x W_ih^T + h W_hh^T.
    /// backward: dpre = (dh_out + dh_rec) * act'(h) (=); dh_rec may be null.
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
    """)
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
}
