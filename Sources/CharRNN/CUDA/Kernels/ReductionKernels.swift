extension KernelSource {
    /// Sums in a fixed order, so a total is the same on every run (no atomics): thread k of `parts` adds
    /// elements k, k + parts, k + 2*parts, ... in double (coalesced reads), and a second launch with
    /// parts = 1 adds the partial sums. square != 0 sums x*x (the gradient norm).
    /// out[k] = partial sum k (=).
    static let reduction = KernelSource(name: "reduction", kernels: ["sum_floats", "sum_doubles"], code: """
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
    """)
}
