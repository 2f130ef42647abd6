import CCharRNNKernels

/// torch.optim.RMSprop: m = alpha * m + (1 - alpha) * g^2, p -= lr * g / (sqrt(m) + eps).
struct RMSProp: UpdateRule {
    static let keepsSecondMoment = false
    let alpha: Float, epsilon: Float

    init(_ optimizer: Optimizer) { alpha = optimizer.alpha; epsilon = optimizer.epsilon }

    var kernelName: String { "rmsprop_update" }

    func update(count n: Int, p: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                v: UnsafeMutablePointer<Float>?, scalars s: UnsafePointer<Float>) {
        crn_rmsprop_update(n, p, g, m, s, alpha, epsilon)
    }

    func queue(on device: ComputeDevice, count n: Int, p: DevicePointer, g: DevicePointer, m: DevicePointer, v: DevicePointer,
               scalars s: DevicePointer) throws {
        try device.rmspropUpdate(threads: n, n: n, p: p, g: g, m: m, s: s, alpha: alpha, eps: epsilon)
    }

    /// The CUDA twins of its C kernels (optimizer.c), one thread per parameter.
    static let kernels = KernelSource(name: "rmsprop", code: """
    extern "C" __global__ void rmsprop_update(long n, float *p, const float *g, float *m, const float *s, float alpha,
                                              float eps) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        const float gi = g[i];
        m[i] = alpha * m[i] + (1.0f - alpha) * gi * gi;
        p[i] -= s[0] * gi / (sqrtf(m[i]) + eps);
    }
    """)
}

// MARK: Launchers, written by scripts/kernel-launchers.py from the kernels above: do not edit

extension ComputeDevice {
    func rmspropUpdate(threads: Int, n: Int, p: DevicePointer?, g: DevicePointer?, m: DevicePointer?, s: DevicePointer?,
        alpha: Float, eps: Float) throws {
        try launch("rmsprop_update", threads: threads, [.long(n), .pointer(p), .pointer(g), .pointer(m), .pointer(s),
            .float(alpha), .float(eps)])
    }
}
