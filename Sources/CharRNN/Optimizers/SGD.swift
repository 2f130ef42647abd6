import CCharRNNKernels

/// torch.optim.SGD: p -= lr * g, or with momentum mu, m = mu * m + g (m = g on the first update) and
/// p -= lr * m.
struct SGD: UpdateRule {
    static let keepsSecondMoment = false
    let momentum: Float

    init(_ optimizer: Optimizer) { momentum = optimizer.momentum }

    var kernelName: String { momentum == 0 ? "sgd_update" : "sgd_momentum_update" }

    func update(count n: Int, p: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                v: UnsafeMutablePointer<Float>?, scalars s: UnsafePointer<Float>) {
        if momentum == 0 { crn_sgd_update(n, p, g, s) } else { crn_sgd_momentum_update(n, p, g, m, s, momentum) }
    }

    func queue(on device: ComputeDevice, count n: Int, p: DevicePointer, g: DevicePointer, m: DevicePointer, v: DevicePointer,
               scalars s: DevicePointer) throws {
        if momentum == 0 {
            try device.sgdUpdate(threads: n, n: n, p: p, g: g, s: s)
        } else {
            try device.sgdMomentumUpdate(threads: n, n: n, p: p, g: g, m: m, s: s, mu: momentum)
        }
    }

    /// The CUDA twins of its C kernels (optimizer.c), one thread per parameter.
    static let kernels = KernelSource(name: "sgd", code: """
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
}
