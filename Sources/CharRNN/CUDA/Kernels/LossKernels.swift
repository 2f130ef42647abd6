extension KernelSource {
    /// Softmax cross-entropy over N rows of V logits, the GPU twin of crn_softmax_xent, in three launches
    /// whose neighbouring threads read neighbouring logits (one thread walking a whole row, as on the CPU,
    /// reads a cache line per thread per logit: slow for a vocabulary of thousands):
    ///
    /// softmax_lanes, N * CRN_SOFTMAX_LANES threads: lane l of row r walks logits l, l + LANES, ... keeping
    ///   a running maximum and the sum of exp(x - maximum) rescaled as the maximum grows; partials[r, l] =
    ///   (maximum, sum) (=).
    /// softmax_rows, N threads: the lanes' partials combined; loss[r] = logsumexp(logits[r]) -
    ///   logits[r, targets[r]] (=); row_stats[r] = (maximum, sum) (=).
    /// softmax_gradient, N * V threads (with gradient only): logits[r, j] = w * (softmax_j - [j = target])
    ///   (=), dL/dlogits of the loss scaled by w = scale, or row_scale[r] when row_scale is not null (the
    ///   classifier's weighted loss).
    static let loss = KernelSource(name: "loss", code: """
    #define CRN_SOFTMAX_LANES 32

    extern "C" __global__ void softmax_lanes(int N, int V, const float *logits, float *partials) {
        const long i = CRN_THREAD;
        if (i >= (long)N * CRN_SOFTMAX_LANES) return;
        const float *x = logits + (i / CRN_SOFTMAX_LANES) * V;
        float m = -3.0e38f, s = 0.0f;
        for (int j = (int)(i % CRN_SOFTMAX_LANES); j < V; j += CRN_SOFTMAX_LANES) {
            const float v = x[j];
            if (v > m) { s = s * expf(m - v) + 1.0f; m = v; } else s += expf(v - m);
        }
        partials[i * 2] = m;
        partials[i * 2 + 1] = s;
    }

    extern "C" __global__ void softmax_rows(int N, int V, const float *logits, const int *targets, const float *partials,
                                            float *loss, float *row_stats) {
        const long r = CRN_THREAD;
        if (r >= N) return;
        const float *p = partials + r * CRN_SOFTMAX_LANES * 2;
        float m = p[0];
        for (int l = 1; l < CRN_SOFTMAX_LANES; l++) m = fmaxf(m, p[l * 2]);
        float s = 0.0f;
        for (int l = 0; l < CRN_SOFTMAX_LANES; l++) s += p[l * 2 + 1] * expf(p[l * 2] - m);
        loss[r] = logf(s) - (logits[r * V + targets[r]] - m);
        row_stats[r * 2] = m;
        row_stats[r * 2 + 1] = s;
    }

    extern "C" __global__ void softmax_gradient(long n, int V, float *logits, const int *targets, const float *row_stats,
                                                float scale, const float *row_scale) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        const long r = i / V;
        const float w = row_scale ? row_scale[r] : scale;
        const float g = expf(logits[i] - row_stats[r * 2]) * (w / row_stats[r * 2 + 1]);
        logits[i] = (int)(i % V) == targets[r] ? g - w : g;
    }
    """)
}

// MARK: Launchers, written by scripts/kernel-launchers.py from the kernels above: do not edit

extension ComputeDevice {
    func softmaxLanes(threads: Int, N: Int, V: Int, logits: DevicePointer?, partials: DevicePointer?) throws {
        try launch("softmax_lanes", threads: threads, [.int(N), .int(V), .pointer(logits), .pointer(partials)])
    }

    func softmaxRows(threads: Int, N: Int, V: Int, logits: DevicePointer?, targets: DevicePointer?,
        partials: DevicePointer?, loss: DevicePointer?, rowStats: DevicePointer?) throws {
        try launch("softmax_rows", threads: threads, [.int(N), .int(V), .pointer(logits), .pointer(targets),
            .pointer(partials), .pointer(loss), .pointer(rowStats)])
    }

    func softmaxGradient(threads: Int, n: Int, V: Int, logits: DevicePointer?, targets: DevicePointer?,
        rowStats: DevicePointer?, scale: Float, rowScale: DevicePointer?) throws {
        try launch("softmax_gradient", threads: threads, [.long(n), .int(V), .pointer(logits), .pointer(targets),
            .pointer(rowStats), .float(scale), .pointer(rowScale)])
    }
}
