import CCharRNNKernels

/// torch.optim.Adagrad: m += g^2, p -= lr * g / (sqrt(m) + eps).
struct Adagrad: UpdateRule {
    static let keepsSecondMoment = false
    let epsilon: Float

    init(_ optimizer: Optimizer) { epsilon = optimizer.epsilon }

    var kernelName: String { "adagrad_update" }

    func update(count n: Int, p: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                v: UnsafeMutablePointer<Float>?, scalars s: UnsafePointer<Float>) {
        crn_adagrad_update(n, p, g, m, s, epsilon)
    }

    func queue(on device: ComputeDevice, count n: Int, p: DevicePointer, g: DevicePointer, m: DevicePointer, v: DevicePointer,
               scalars s: DevicePointer) throws {
        try device.adagradUpdate(threads: n, n: n, p: p, g: g, m: m, s: s, eps: epsilon)
    }

    /// The CUDA twins of its C kernels (optimizer.c), one thread per parameter.
    static let kernels = KernelSource(name: "adagrad", code: """
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
    func adagradUpdate(threads: Int, n: Int, p: DevicePointer?, g: DevicePointer?, m: DevicePointer?, s: DevicePointer?,
        eps: Float) throws {
        try launch("adagrad_update", threads: threads, [.long(n), .pointer(p), .pointer(g), .pointer(m), .pointer(s),
            .float(eps)])
    }
}
