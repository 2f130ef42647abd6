extension KernelSource {
    /// The update rules of Optimizers/Optimizer.swift (PyTorch's torch.optim), one thread per parameter.
    /// The learning rate and Adam's bias corrections are computed on the host from the step number and
    /// copied to the device before the step (OptimizerUpdate.scalars), so no scalar travels back from the
    /// device and a captured step takes each update's own values:
    /// s[0] = lr; s[1] = step_size = lr / (1 - b1^t); s[2] = bc2_root = sqrt(1 - b2^t);
    /// s[3] = shrink = 1 - lr * weight_decay for AdamW (1 otherwise); s[4] = 1 on the first update, else 0.
    static let optimizers = KernelSource(name: "optimizers", code: """
    extern "C" __global__ void sgd_update(long n, float *p, const float *g, const float *s) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        p[i] -= s[0] * g[i];
    }

    extern "C" __global__ void sgd_momentum_update(long n, float *p, const float *g, float *m, const float *s, float mu) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        m[i] = s[4] != 0.0f ? g[i] : mu * m[i] + g[i];
        p[i] -= s[0] * m[i];
    }

    extern "C" __global__ void adam_update(long n, float *p, const float *g, float *m, float *v, float b1, float b2,
                                           float eps, const float *s) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        const float step_size = s[1], bc2_root = s[2], shrink = s[3];
        const float gi = g[i];
        const float pi = shrink != 1.0f ? p[i] * shrink : p[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        p[i] = pi - step_size * m[i] / (sqrtf(v[i]) / bc2_root + eps);
    }

    extern "C" __global__ void rmsprop_update(long n, float *p, const float *g, float *m, const float *s, float alpha,
                                              float eps) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        const float gi = g[i];
        m[i] = alpha * m[i] + (1.0f - alpha) * gi * gi;
        p[i] -= s[0] * gi / (sqrtf(m[i]) + eps);
    }

    extern "C" __global__ void adagrad_update(long n, float *p, const float *g, float *m, const float *s, float eps) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        const float gi = g[i];
        m[i] += gi * gi;
        p[i] -= s[0] * gi / (sqrtf(m[i]) + eps);
    }
    """)
}

// MARK: Launchers, written by scripts/kernel-launchers.py from the kernels above: do not edit

extension ComputeDevice {
    func sgdUpdate(threads: Int, n: Int, p: DevicePointer?, g: DevicePointer?, s: DevicePointer?) throws {
        try launch("sgd_update", threads: threads, [.long(n), .pointer(p), .pointer(g), .pointer(s)])
    }

    func sgdMomentumUpdate(threads: Int, n: Int, p: DevicePointer?, g: DevicePointer?, m: DevicePointer?,
        s: DevicePointer?, mu: Float) throws {
        try launch("sgd_momentum_update", threads: threads, [.long(n), .pointer(p), .pointer(g), .pointer(m),
            .pointer(s), .float(mu)])
    }

    func adamUpdate(threads: Int, n: Int, p: DevicePointer?, g: DevicePointer?, m: DevicePointer?, v: DevicePointer?,
        b1: Float, b2: Float, eps: Float, s: DevicePointer?) throws {
        try launch("adam_update", threads: threads, [.long(n), .pointer(p), .pointer(g), .pointer(m), .pointer(v),
            .float(b1), .float(b2), .float(eps), .pointer(s)])
    }

    func rmspropUpdate(threads: Int, n: Int, p: DevicePointer?, g: DevicePointer?, m: DevicePointer?, s: DevicePointer?,
        alpha: Float, eps: Float) throws {
        try launch("rmsprop_update", threads: threads, [.long(n), .pointer(p), .pointer(g), .pointer(m), .pointer(s),
            .float(alpha), .float(eps)])
    }

    func adagradUpdate(threads: Int, n: Int, p: DevicePointer?, g: DevicePointer?, m: DevicePointer?, s: DevicePointer?,
        eps: Float) throws {
        try launch("adagrad_update", threads: threads, [.long(n), .pointer(p), .pointer(g), .pointer(m), .pointer(s),
            .float(eps)])
    }
}
