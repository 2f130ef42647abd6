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
    /// Each cell's step kernel (<cell>_step) is in its own file, beside its forward and backward; it
    /// starts with crn_step_output and sums with crn_warp_sum, from here (this part comes first).
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
    func decoderStep(threads: Int, B: Int, V: Int, H: Int, h: DevicePointer?, weight: DevicePointer?,
        bias: DevicePointer?, logits: DevicePointer?, copyFrom: DevicePointer?, copyTo: DevicePointer?,
        copyCount: Int) throws {
        try launch("decoder_step", threads: threads, [.int(B), .int(V), .int(H), .pointer(h), .pointer(weight),
            .pointer(bias), .pointer(logits), .pointer(copyFrom), .pointer(copyTo), .long(copyCount)])
    }
}
