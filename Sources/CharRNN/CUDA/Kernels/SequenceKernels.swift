extension KernelSource {
    /// The bidirectional classifier's plumbing (Classification/ClassifierModel.swift): time reversal of
    /// time-major rows and copies of column blocks between matrices of different row strides.
    /// reverse_time: dst[t, b, :] = src[T-1-t, b, :] (=) over [T*B, W]; src and dst must differ.
    /// copy_columns: dst[r * ldd + j] = src[r * lds + j] (=) for r < rows, j < W (a direction's half of
    ///               a [rows, D*H] matrix, or the last step's rows as features).
    static let sequence = KernelSource(name: "sequence", code: """
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

// MARK: Launchers, written by scripts/kernel-launchers.py from the kernels above: do not edit

extension ComputeDevice {
    func reverseTime(threads: Int, T: Int, B: Int, W: Int, src: DevicePointer?, dst: DevicePointer?) throws {
        try launch("reverse_time", threads: threads, [.int(T), .int(B), .int(W), .pointer(src), .pointer(dst)])
    }

    func copyColumns(threads: Int, rows: Int, W: Int, src: DevicePointer?, lds: Int, dst: DevicePointer?,
        ldd: Int) throws {
        try launch("copy_columns", threads: threads, [.int(rows), .int(W), .pointer(src), .int(lds), .pointer(dst),
            .int(ldd)])
    }
}
