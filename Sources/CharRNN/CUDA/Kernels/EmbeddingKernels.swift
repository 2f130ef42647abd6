extension KernelSource {
    /// The embedding lookup and its gradient (CharRNNModel's forward and backward), also used for the
    /// folded input (rows of the embedding times W_ih^T, looked up by id).
    /// forward: out[r, 0..<E] (row stride ldo) = table[ids[r], :] * keep[ids[r]] (=); keep may be null
    ///          (embedding dropout's factor per character). One thread per (r, e) of rows*E.
    /// backward: grad[v, e] += keep[v] * sum of d[r, e] over the rows r with ids[r] = v, the rows listed
    ///          in order by a CSR index built on the host (first[V+1], rows_by_id[rows]), so the sum is the
    ///          same on every run: no atomics. One thread per (v, e) of V*E.
    /// category_onehot: out[r, base + c] (row stride ldo) = 1 if c is row r's category (that of stream
    ///          r % B) else 0, the conditional model's input after the character (=). One thread per (r, c).
    static let embedding = KernelSource(name: "embedding", code: """
    extern "C" __global__ void embedding_forward(int rows, int E, const int *ids, const float *table,
                                                 const float *keep, float *out, int ldo) {
        const long k = CRN_THREAD;
        if (k >= (long)rows * E) return;
        const long r = k / E, e = k % E;
        const int id = ids[r];
        const float x = table[(long)id * E + e];
        out[r * ldo + e] = keep ? x * keep[id] : x;
    }

    extern "C" __global__ void embedding_backward(int V, int E, const int *first, const int *rows_by_id,
                                                  const float *d, int ldd, const float *keep, float *grad) {
        const long k = CRN_THREAD;
        if (k >= (long)V * E) return;
        const long v = k / E, e = k % E;
        float s = 0.0f;
        for (int q = first[v]; q < first[v + 1]; q++) s += d[(long)rows_by_id[q] * ldd + e];
        grad[k] += keep ? keep[v] * s : s;
    }

    extern "C" __global__ void category_onehot(int rows, int B, int C, const int *categories, float *out, int ldo, int base) {
        const long k = CRN_THREAD;
        if (k >= (long)rows * C) return;
        const long r = k / C, c = k % C;
        out[r * ldo + base + c] = categories[r % B] == c ? 1.0f : 0.0f;
    }
    """)
}

// MARK: Launchers, written by scripts/kernel-launchers.py from the kernels above: do not edit

extension ComputeDevice {
    func embeddingForward(threads: Int, rows: Int, E: Int, ids: DevicePointer?, table: DevicePointer?,
        keep: DevicePointer?, out: DevicePointer?, ldo: Int) throws {
        try launch("embedding_forward", threads: threads, [.int(rows), .int(E), .pointer(ids), .pointer(table),
            .pointer(keep), .pointer(out), .int(ldo)])
    }

    func embeddingBackward(threads: Int, V: Int, E: Int, first: DevicePointer?, rowsById: DevicePointer?,
        d: DevicePointer?, ldd: Int, keep: DevicePointer?, grad: DevicePointer?) throws {
        try launch("embedding_backward", threads: threads, [.int(V), .int(E), .pointer(first), .pointer(rowsById),
            .pointer(d), .int(ldd), .pointer(keep), .pointer(grad)])
    }

    func categoryOnehot(threads: Int, rows: Int, B: Int, C: Int, categories: DevicePointer?, out: DevicePointer?,
        ldo: Int, base: Int) throws {
        try launch("category_onehot", threads: threads, [.int(rows), .int(B), .int(C), .pointer(categories),
            .pointer(out), .int(ldo), .int(base)])
    }
}
