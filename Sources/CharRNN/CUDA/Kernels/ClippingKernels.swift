extension KernelSource {
    /// Gradient clipping (Optimizers/GradientClipping.swift) without a copy to the host: the norm's
    /// square stays in device memory and each thread computes the coefficient from it.
    /// clip_norm: g *= max_norm / (norm + 1e-6) when that is below 1 (torch's clip_grad_norm_).
    /// clip_value: g = min(max(g, -v), v).
    static let clipping = KernelSource(name: "clipping", code: """
    extern "C" __global__ void clip_norm(long n, float *g, const double *sum_squares, float max_norm) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        const double coef = (double)max_norm / (sqrt(sum_squares[0]) + 1e-6);
        if (coef < 1.0) g[i] *= (float)coef;
    }

    extern "C" __global__ void clip_value(long n, float *g, float v) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        g[i] = fminf(fmaxf(g[i], -v), v);
    }
    """)
}

// MARK: Launchers, written by scripts/kernel-launchers.py from the kernels above: do not edit

extension ComputeDevice {
    func clipNorm(threads: Int, n: Int, g: DevicePointer?, sumSquares: DevicePointer?, maxNorm: Float) throws {
        try launch("clip_norm", threads: threads, [.long(n), .pointer(g), .pointer(sumSquares), .float(maxNorm)])
    }

    func clipValue(threads: Int, n: Int, g: DevicePointer?, v: Float) throws {
        try launch("clip_value", threads: threads, [.long(n), .pointer(g), .float(v)])
    }
}
