extension KernelSource {
    /// The update rules of Optimizers/Optimizer.swift (PyTorch's torch.optim), one thread per parameter.
    /// The learning rate and Adam's bias corrections are computed on the host from the step number and
    /// passed in, so no scalar travels back from the device.
    /// adam: shrink = 1 - lr * weight_decay for AdamW (1 for Adam); step_size = lr / (1 - b1^t);
    ///       bc2_root = sqrt(1 - b2^t).
    static let optimizers = KernelSource(name: "optimizers",
                                         kernels: ["sgd_update", "sgd_momentum_update", "adam_update",
                                                   "rmsprop_update", "adagrad_update"], code: """
    extern "C" __global__ void sgd_update(long n, float *p, const float *g, float lr) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        p[i] -= lr * g[i];
    }

    extern "C" __global__ void sgd_momentum_update(long n, float *p, const float *g, float *m, float lr, float mu,
                                                   int first) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        m[i] = first ? g[i] : mu * m[i] + g[i];
        p[i] -= lr * m[i];
    }

    extern "C" __global__ void adam_update(long n, float *p, const float *g, float *m, float *v, float b1, float b2,
                                           float eps, float step_size, float bc2_root, float shrink) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        const float gi = g[i];
        const float pi = shrink != 1.0f ? p[i] * shrink : p[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        p[i] = pi - step_size * m[i] / (sqrtf(v[i]) / bc2_root + eps);
    }

    extern "C" __global__ void rmsprop_update(long n, float *p, const float *g, float *m, float lr, float alpha,
                                              float eps) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        const float gi = g[i];
        m[i] = alpha * m[i] + (1.0f - alpha) * gi * gi;
        p[i] -= lr * gi / (sqrtf(m[i]) + eps);
    }

    extern "C" __global__ void adagrad_update(long n, float *p, const float *g, float *m, float lr, float eps) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        const float gi = g[i];
        m[i] += gi * gi;
        p[i] -= lr * gi / (sqrtf(m[i]) + eps);
    }
    """)
}
