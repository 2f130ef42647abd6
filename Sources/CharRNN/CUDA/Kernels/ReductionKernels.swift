extension KernelSource {
    /// Sums in a fixed order, so a total is the same on every run (no atomics): thread k of `parts` adds
    /// elements k, k + parts, k + 2*parts, ... in double (coalesced reads), and a second launch with
    /// parts = 1 adds the partial sums. square != 0 sums x*x (the gradient norm).
    /// out[k] = partial sum k (=).
    /// log_step copies a step's summed loss and squared gradient norm into row *slot of the training
    /// log (the slot read from device memory, so a captured step writes where the host says).
    static let reduction = KernelSource(name: "reduction", code: """
    extern "C" __global__ void sum_floats(long n, const float *x, int square, int parts, double *out) {
        const long k = CRN_THREAD;
        if (k >= parts) return;
        double s = 0.0;
        for (long i = k; i < n; i += parts) {
            const double v = (double)x[i];
            s += square ? v * v : v;
        }
        out[k] = s;
    }

    extern "C" __global__ void sum_doubles(long n, const double *x, int parts, double *out) {
        const long k = CRN_THREAD;
        if (k >= parts) return;
        double s = 0.0;
        for (long i = k; i < n; i += parts) s += x[i];
        out[k] = s;
    }

    extern "C" __global__ void log_step(const double *loss, const double *norm_squared, const int *slot, double *log) {
        if (CRN_THREAD != 0) return;
        log[2 * *slot] = *loss;
        log[2 * *slot + 1] = *norm_squared;
    }
    """)
}

// MARK: Launchers, written by scripts/kernel-launchers.py from the kernels above: do not edit

extension ComputeDevice {
    func sumFloats(threads: Int, n: Int, x: DevicePointer?, square: Int, parts: Int, out: DevicePointer?) throws {
        try launch("sum_floats", threads: threads, [.long(n), .pointer(x), .int(square), .int(parts), .pointer(out)])
    }

    func sumDoubles(threads: Int, n: Int, x: DevicePointer?, parts: Int, out: DevicePointer?) throws {
        try launch("sum_doubles", threads: threads, [.long(n), .pointer(x), .int(parts), .pointer(out)])
    }

    func logStep(threads: Int, loss: DevicePointer?, normSquared: DevicePointer?, slot: DevicePointer?,
        log: DevicePointer?) throws {
        try launch("log_step", threads: threads, [.pointer(loss), .pointer(normSquared), .pointer(slot), .pointer(log)])
    }
}
