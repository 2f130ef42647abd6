import CCharRNNKernels
import Foundation

/// C[m, n] += A^T B with A [k, m] and B [k, n] row-major: the weight gradients of a call, dPre^T x and
/// dPre^T h over all T*B rows (k), which are a third of a training step's arithmetic.
///
/// Split by rows of C into single-threaded BLAS calls (pgemm), every thread packed all of B for itself,
/// so the more threads, the smaller each one's rows of C and the larger its share of packing: one
/// thread doing the 16 calls of a 16-thread split in turn ran them at 150-210 GFLOP/s against 235-255
/// for the whole product (AVX-512, 2026-11-24; 512x128 to 2048x512 over 2,500 rows). Here B is packed
/// once, a block of `kBlock` of its rows at a time, each thread packing a share of the block's panels;
/// after a barrier every thread multiplies its rows of C by the whole block (crn_gemm_packed_at), reading
/// its rows of A from a copy of its own (read in place at a row stride of thousands of floats, the 8-lane
/// kernel ran at two thirds of BLAS's speed). Two blocks alternate, so one barrier a block suffices: a
/// thread packs block b+2 only after every thread has passed the barrier of block b+1, which it reaches
/// once its work on block b is done. The same emulation of 16 threads ran at 228-249 GFLOP/s.
///
/// Each element of C gains one chain of fused multiply-adds per block, added in block order, whoever
/// computes it: the result does not depend on the number of threads.
package final class SharedPanelProduct {
    package static let kBlock = 512

    /// Linux on x86-64, where its speed against OpenBLAS was measured (equal on one thread, with the
    /// AVX-512 and the 8-lane kernels alike), when the kernel in use is one of those two: the AVX-512
    /// build, or a build for a CPU with FMA (scripts/build.sh's haswell); a build for the baseline x86-64
    /// (SSE2) leaves the products to BLAS, as do Accelerate and OpenBLAS elsewhere.
    /// CHARRNN_SHARED_PANELS=0 gives them back to pgemm, to compare the two.
    package static let enabled: Bool = {
        #if arch(x86_64) && os(Linux)
        guard crn_kernel_width() == 16 || crn_built_with_fma() == 1 else { return false }
        return ProcessInfo.processInfo.environment["CHARRNN_SHARED_PANELS"] != "0"
        #else
        return false
        #endif
    }()

    /// Two blocks of B, packed.
    private let panels = FloatBuffer(count: 0)
    /// Each part's rows of A for one block, [kBlock, stride].
    private let rowsOfA = FloatBuffer(count: 0)

    package init() {}

    /// C[m, n] += A^T B: sharing the panels where `enabled`, else by BLAS.pgemm.
    package func accumulate(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                           into c: UnsafeMutablePointer<Float>, ldc: Int) {
        if Self.enabled {
            accumulateSharingPanels(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, into: c, ldc: ldc)
        } else {
            BLAS.pgemm(transA: true, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: c, ldc: ldc)
        }
    }

    /// C[m, n] += A^T B, split over the threads by rows of C (a part per Parallel.minimumMACsPerPart).
    package func accumulateSharingPanels(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                                        ldb: Int, into c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0, k > 0 else { return }
        let parts = min(Parallel.parts(macs: m * n * k), m)
        let depth = min(Self.kBlock, k), blocks = (k + depth - 1) / depth
        let panelCount = (n + 15) / 16, blockSize = crn_packed_size(Int32(depth), Int32(n))
        // A whole number of cache lines, plus one: rows of the copy 4 KB apart would share cache sets.
        let stride = ((m + parts - 1) / parts + 15) / 16 * 16 + 16
        panels.reserve(2 * blockSize)
        rowsOfA.reserve(parts * depth * stride)
        let packed = panels.pointer, copies = rowsOfA.pointer
        Parallel.together(parts: parts) { p in
            let rows = Parallel.range(part: p, of: parts, total: m)
            let share = Parallel.range(part: p, of: parts, total: panelCount)
            let own = copies + p * depth * stride
            for block in 0..<blocks {
                let k0 = block * depth, kb = min(depth, k - k0), buffer = packed + (block % 2) * blockSize
                crn_pack_b(Int32(kb), Int32(n), b + k0 * ldb, Int32(ldb), 0, buffer, Int32(share.lowerBound),
                           Int32(share.upperBound))
                Parallel.barrier()
                guard !rows.isEmpty else { continue }
                for r in 0..<kb { (own + r * stride).update(from: a + (k0 + r) * lda + rows.lowerBound, count: rows.count) }
                crn_gemm_packed_at(Int32(rows.count), Int32(n), Int32(kb), own, Int32(stride), buffer,
                                   c + rows.lowerBound * ldc, Int32(ldc), 1)
            }
        }
    }
}
