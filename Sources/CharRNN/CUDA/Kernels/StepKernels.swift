extension KernelSource {
    /// One step of a few streams (generation at batch 1, a server's small batches), where a step of
    /// separate launches (the input product, the recurrent product, the cell kernel; the decoder's bias
    /// and product) costs its launches, not its work: a 2x512 LSTM drew a character in 36 us on an H100
    /// through nine launches. Here a layer's step is one launch and the decoder one more.
    ///
    /// One warp per output: the 32 lanes read a row of the weights together (lane l takes k = l, l+32,
    /// ...), so each load of a warp is one contiguous piece of the row, and their sums meet by
    /// __shfl_xor_sync. The host compiler (the emulated device of the tests) has no warps: there lane 0
    /// walks the whole row alone and the other lanes return, so the same indexing, cell and copies are
    /// checked there, and the warp sum by `devices --check` on a GPU.
    ///
    /// h_prev is read by every warp while the new h is written, so the new h goes to `h_out`, not over
    /// h_prev; the next launch (the layer above, or the decoder) copies it into the state (copy_from ->
    /// copy_to, copy_count floats, one per thread), once nothing reads the old one.
    ///
    /// lstm_step: gates[q] = x W_ih[q*H + j]^T (or, folded, table[ids[b], q*H + j]) + h_prev W_hh[q*H + j]^T
    ///            + bias_ih + bias_hh, then lstm_forward's cell: c (in place, [B,H]), h_out [B,H] (=).
    ///            Threads: 32 per (b, j) of B*H, and at least copy_count.
    /// gru_step: gru_forward's cell on r, z, n from x W_ih^T (or the folded row) and h_prev W_hh^T, each
    ///           with its bias; h_out [B,H] (=). rnn_step: rnn_forward's on x W_ih^T + h_prev W_hh^T.
    ///           Threads as lstm_step's.
    /// decoder_step: logits[b, v] = h[b] W[v]^T + bias[v] (=). Threads: 32 per (b, v) of B*V, and at
    ///               least copy_count.
    static let step = KernelSource(name: "step", code: """
    #ifdef __CUDACC_RTC__
    #define CRN_WARP 32
    __device__ __forceinline__ float crn_warp_sum(float v) {
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
        return v;
    }
    #else
    #define CRN_WARP 1
    __device__ __forceinline__ float crn_warp_sum(float v) { return v; }
    #endif

    // What every step kernel does first: its share of the copy (a float per thread), then which output
    // this thread's warp computes, and its lane; -1 past the outputs, and on the host for lanes other
    // than 0 (which has no warps: lane 0 does the whole row there).
    __device__ __forceinline__ long crn_step_output(long outputs, const float *copy_from, float *copy_to, long copy_count,
                                                    int *lane) {
        const long t = CRN_THREAD;
        if (t < copy_count) copy_to[t] = copy_from[t];
        *lane = (int)(t % 32);
        const long w = t / 32;
        return w >= outputs || (CRN_WARP == 1 && *lane != 0) ? -1 : w;
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

    extern "C" __global__ void decoder_step(int B, int V, int H, const float *h, const float *weight, const float *bias,
                                            float *logits, const float *copy_from, float *copy_to, long copy_count) {
        int lane;
        const long w = crn_step_output((long)B * V, copy_from, copy_to, copy_count, &lane);
        if (w < 0) return;
        const long b = w / V, v = w % V;
        const float *hb = h + b * H, *row = weight + v * H;
        float s = 0.0f;
        for (int k = CRN_WARP == 1 ? 0 : lane; k < H; k += CRN_WARP) s += row[k] * hb[k];
        s = crn_warp_sum(s);
        if (lane == 0) logits[b * V + v] = s + bias[v];
    }
    """)
}

// MARK: Launchers, written by scripts/kernel-launchers.py from the kernels above: do not edit

extension ComputeDevice {
    func lstmStep(threads: Int, B: Int, H: Int, I: Int, x: DevicePointer?, ids: DevicePointer?, table: DevicePointer?,
        wIh: DevicePointer?, wHh: DevicePointer?, biasIh: DevicePointer?, biasHh: DevicePointer?, hPrev: DevicePointer?,
        c: DevicePointer?, hOut: DevicePointer?, copyFrom: DevicePointer?, copyTo: DevicePointer?,
        copyCount: Int) throws {
        try launch("lstm_step", threads: threads, [.int(B), .int(H), .int(I), .pointer(x), .pointer(ids),
            .pointer(table), .pointer(wIh), .pointer(wHh), .pointer(biasIh), .pointer(biasHh), .pointer(hPrev),
            .pointer(c), .pointer(hOut), .pointer(copyFrom), .pointer(copyTo), .long(copyCount)])
    }

    func gruStep(threads: Int, B: Int, H: Int, I: Int, x: DevicePointer?, ids: DevicePointer?, table: DevicePointer?,
        wIh: DevicePointer?, wHh: DevicePointer?, biasIh: DevicePointer?, biasHh: DevicePointer?, hPrev: DevicePointer?,
        hOut: DevicePointer?, copyFrom: DevicePointer?, copyTo: DevicePointer?, copyCount: Int) throws {
        try launch("gru_step", threads: threads, [.int(B), .int(H), .int(I), .pointer(x), .pointer(ids),
            .pointer(table), .pointer(wIh), .pointer(wHh), .pointer(biasIh), .pointer(biasHh), .pointer(hPrev),
            .pointer(hOut), .pointer(copyFrom), .pointer(copyTo), .long(copyCount)])
    }

    func rnnStep(threads: Int, B: Int, H: Int, I: Int, x: DevicePointer?, ids: DevicePointer?, table: DevicePointer?,
        wIh: DevicePointer?, wHh: DevicePointer?, biasIh: DevicePointer?, biasHh: DevicePointer?, relu: Int,
        hPrev: DevicePointer?, hOut: DevicePointer?, copyFrom: DevicePointer?, copyTo: DevicePointer?,
        copyCount: Int) throws {
        try launch("rnn_step", threads: threads, [.int(B), .int(H), .int(I), .pointer(x), .pointer(ids),
            .pointer(table), .pointer(wIh), .pointer(wHh), .pointer(biasIh), .pointer(biasHh), .int(relu),
            .pointer(hPrev), .pointer(hOut), .pointer(copyFrom), .pointer(copyTo), .long(copyCount)])
    }

    func decoderStep(threads: Int, B: Int, V: Int, H: Int, h: DevicePointer?, weight: DevicePointer?,
        bias: DevicePointer?, logits: DevicePointer?, copyFrom: DevicePointer?, copyTo: DevicePointer?,
        copyCount: Int) throws {
        try launch("decoder_step", threads: threads, [.int(B), .int(V), .int(H), .pointer(h), .pointer(weight),
            .pointer(bias), .pointer(logits), .pointer(copyFrom), .pointer(copyTo), .long(copyCount)])
    }
}
