extension KernelSource {
    /// The bidirectional classifier's plumbing (Classification/ClassifierModel.swift): time reversal of
    /// time-major rows and copies of column blocks between matrices of different row strides.
    /// reverse_time: dst[t, b, :] = src[T-1-t, b, :] (=) over [T*B, W]; src and dst must differ.
    /// copy_columns: dst[r * ldd + j] = src[r * lds + j] (=) for r < rows, j < W (a direction's half of
    ///               a [rows, D*H] matrix, or the last step's rows as features).
    static let sequence = KernelSource(name: "sequence", kernels: ["reverse_time", "copy_columns"], code: """
    extern "C" __global__ void reverse_time(int T, int B, int W, const float *src, float *dst) {
        const long k = CRN_THREAD;
        const long block = (long)B * W;
        if (k >= (long)T * block) return;
        const long t = k / block, j = k % block;
        dst[k] = src[(T - 1 - t) * block + j];
    }

    extern "C" __global__ void copy_columns(int rows, int W, const float *src, int lds, float *dst, int ldd) {
        const long k = CRN_THREAD;
        if (k >= (long)rows * W) return;
        const long r = k / W, j = k % W;
        dst[r * ldd + j] = src[r * lds + j];
    }
    """)
}
