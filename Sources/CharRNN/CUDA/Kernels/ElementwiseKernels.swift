extension KernelSource {
    /// Small element-wise helpers of the model's forward and backward.
    /// mul: y = x * m (=), dropout and weight-drop masks. add: y = a + b (=), the two directions'
    /// gradients of a bidirectional classifier's input.
    /// fill_rows: out[r, :] = v (=), a bias row broadcast before a product accumulates into it.
    /// lerp_toward: a += w (p - a) as one fused multiply-add, or a = p when w is 1 (WeightAverage's
    /// update, w read from device memory so that a captured step takes each step's); swap_floats: a <-> b.
    /// to_bf16: y = x rounded to bfloat16 (to nearest, ties to even; a NaN stays a NaN), the operands of
    /// --precision bf16's products (Precision.bfloat16Bits).
    static let elementwise = KernelSource(name: "elementwise", code: """
    extern "C" __global__ void mul(long n, const float *x, const float *m, float *y) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        y[i] = x[i] * m[i];
    }

    extern "C" __global__ void add(long n, const float *a, const float *b, float *y) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        y[i] = a[i] + b[i];
    }

    extern "C" __global__ void fill_rows(int rows, int cols, float *out, const float *v) {
        const long k = CRN_THREAD;
        if (k >= (long)rows * cols) return;
        out[k] = v[k % cols];
    }

    extern "C" __global__ void lerp_toward(long n, float *a, const float *p, const float *weight) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        const float w = *weight;
        a[i] = w == 1.0f ? p[i] : __fmaf_rn(w, p[i] - a[i], a[i]);
    }

    extern "C" __global__ void swap_floats(long n, float *a, float *b) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        const float t = a[i];
        a[i] = b[i];
        b[i] = t;
    }

    extern "C" __global__ void to_bf16(long n, const float *x, unsigned short *y) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        const unsigned u = __float_as_uint(x[i]);
        if ((u & 0x7fffffffu) > 0x7f800000u) { y[i] = (unsigned short)((u >> 16) | 0x40u); return; }
        y[i] = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
    """)
}

// MARK: Launchers, written by scripts/kernel-launchers.py from the kernels above: do not edit

extension ComputeDevice {
    func mul(threads: Int, n: Int, x: DevicePointer?, m: DevicePointer?, y: DevicePointer?) throws {
        try launch("mul", threads: threads, [.long(n), .pointer(x), .pointer(m), .pointer(y)])
    }

    func add(threads: Int, n: Int, a: DevicePointer?, b: DevicePointer?, y: DevicePointer?) throws {
        try launch("add", threads: threads, [.long(n), .pointer(a), .pointer(b), .pointer(y)])
    }

    func fillRows(threads: Int, rows: Int, cols: Int, out: DevicePointer?, v: DevicePointer?) throws {
        try launch("fill_rows", threads: threads, [.int(rows), .int(cols), .pointer(out), .pointer(v)])
    }

    func lerpToward(threads: Int, n: Int, a: DevicePointer?, p: DevicePointer?, weight: DevicePointer?) throws {
        try launch("lerp_toward", threads: threads, [.long(n), .pointer(a), .pointer(p), .pointer(weight)])
    }

    func swapFloats(threads: Int, n: Int, a: DevicePointer?, b: DevicePointer?) throws {
        try launch("swap_floats", threads: threads, [.long(n), .pointer(a), .pointer(b)])
    }

    func toBf16(threads: Int, n: Int, x: DevicePointer?, y: DevicePointer?) throws {
        try launch("to_bf16", threads: threads, [.long(n), .pointer(x), .pointer(y)])
    }
}
