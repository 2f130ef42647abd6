import CCharRNNKernels

/// torch.optim.Adam and AdamW: m and v, the moving averages of g and g^2, and p -= step_size * m /
/// (sqrt(v) / sqrt(1 - beta2^t) + eps); AdamW first shrinks p by 1 - lr * weight_decay (UpdateScalars).
struct Adam: UpdateRule {
    static let keepsSecondMoment = true
    let beta1: Float, beta2: Float, epsilon: Float

    init(_ optimizer: Optimizer) { beta1 = optimizer.beta1; beta2 = optimizer.beta2; epsilon = optimizer.epsilon }

    var kernelName: String { "adam_update" }

    func update(count n: Int, p: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                v: UnsafeMutablePointer<Float>?, scalars s: UnsafePointer<Float>) {
        crn_adam_update(n, p, g, m, v!, beta1, beta2, epsilon, s)
    }

    func queue(on device: ComputeDevice, count n: Int, p: DevicePointer, g: DevicePointer, m: DevicePointer, v: DevicePointer,
               scalars s: DevicePointer) throws {
        try device.adamUpdate(threads: n, n: n, p: p, g: g, m: m, v: v, b1: beta1, b2: beta2, eps: epsilon, s: s)
    }

    /// The CUDA twins of its C kernels (optimizer.c), one thread per parameter.
    static let kernels = KernelSource(name: "adam", code: """
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
    """)
}

// MARK: Launchers, written by scripts/kernel-launchers.py from the kernels above: do not edit

extension ComputeDevice {
    func adamUpdate(threads: Int, n: Int, p: DevicePointer?, g: DevicePointer?, m: DevicePointer?, v: DevicePointer?,
        b1: Float, b2: Float, eps: Float, s: DevicePointer?) throws {
        try launch("adam_update", threads: threads, [.long(n), .pointer(p), .pointer(g), .pointer(m), .pointer(v),
            .float(b1), .float(b2), .float(eps), .pointer(s)])
    }
}
