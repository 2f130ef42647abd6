import CCharRNNKernels

/// A weight matrix B [k, n] packed once in 16-column panels for crn_gemm_packed: the products with few
/// rows (a step of the recurrence, an inference step) that a BLAS call would re-pack B for every time.
/// Each output element is one chain of FMAs over k in order, whatever the rows and however the work is
/// split, so a row's result does not depend on the rows computed with it.
final class PackedMatrix {
    static let macsPerPart = 1 << 16
    private let buffer = FloatBuffer(count: 0)
    private(set) var k = 0, n = 0

    /// B[i, j] = w[j * k + i] when `transposed` (PyTorch's [n, k] weights), else w[i * n + j].
    /// The panels are shared out among the threads.
    func pack(_ w: UnsafePointer<Float>, k: Int, n: Int, transposed: Bool) {
        self.k = k
        self.n = n
        buffer.reserve(crn_packed_size(Int32(k), Int32(n)))
        let out = buffer.pointer, panels = (n + 15) / 16, parts = min(Parallel.parts(floats: k * n), panels)
        Parallel.run(parts) { p in
            let r = Parallel.range(part: p, of: parts, total: panels)
            crn_pack_b(Int32(k), Int32(n), w, Int32(transposed ? k : n), transposed ? 1 : 0, out,
                       Int32(r.lowerBound), Int32(r.upperBound))
        }
    }

    /// c[m, n] (+)= a[m, k] B on the calling thread (one thread's block of rows).
    func multiply(rows m: Int, _ a: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>, accumulate: Bool) {
        crn_gemm_packed(Int32(m), Int32(n), Int32(k), a, Int32(k), buffer.pointer, c, Int32(n), accumulate ? 1 : 0)
    }

    /// c[m, n] (+)= a[m, k] B with the panels shared out among the threads, so each streams only its
    /// share of B (a product with few rows is bound by reading B, not by arithmetic).
    /// A part gets at least `macsPerPart` multiply-adds: less work than that takes less time than
    /// waking a thread for it and waiting for it (a microsecond or two each way), so a small product (a
    /// batch-1 step of a small model, a small vocabulary's decoder) uses fewer threads than the pool has.
    /// (At 32k, a batch-1 step of the 2x128 LSTM split its products in two and was as often slower on 2
    /// threads than on 1 as faster; at 64k it runs them on one thread.)
    func multiplyByPanels(rows m: Int, _ a: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let panels = (n + 15) / 16, parts = min(Parallel.threads, panels, max(1, m * n * k / Self.macsPerPart))
        Parallel.run(parts) { p in
            multiply(Parallel.Tile(rows: 0..<m, panels: Parallel.range(part: p, of: parts, total: panels)), a,
                     into: c, accumulate: accumulate)
        }
    }

    /// Part `part`'s tile of a product with `rows` rows cut into `parts` tiles (Parallel.tile).
    func tile(part: Int, of parts: Int, rows: Int) -> Parallel.Tile {
        Parallel.tile(part: part, of: parts, rows: rows, columns: n, panelWidth: 16)
    }

    /// The tile's part of c[rows, n] (+)= a[rows, k] B, on the calling thread.
    func multiply(_ tile: Parallel.Tile, _ a: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>, accumulate: Bool) {
        guard !tile.rows.isEmpty, !tile.panels.isEmpty else { return }
        let n0 = tile.panels.lowerBound * 16, width = min(n, tile.panels.upperBound * 16) - n0
        crn_gemm_packed(Int32(tile.rows.count), Int32(width), Int32(k), a + tile.rows.lowerBound * k, Int32(k),
                        buffer.pointer + n0 * k, c + tile.rows.lowerBound * n + n0, Int32(n), accumulate ? 1 : 0)
    }
}
