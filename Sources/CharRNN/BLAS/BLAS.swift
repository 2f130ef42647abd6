import CCharRNNKernels
#if canImport(Accelerate)
import Accelerate
#else
import COpenBLAS
#endif

/// The one place charrnn talks to BLAS: row-major single-precision products.
/// OpenBLAS on Linux, Accelerate on Apple platforms.
package enum BLAS {
    /// C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, all row-major.
    /// lda/ldb/ldc are the row strides of A, B and C as stored.
    @inline(__always)
    package static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 1 && !transA {
            // A single row: y = alpha * op(B)^T-style product; gemv is several times faster here.
            // y[n] = op(B)^T-applied: y_j = sum_p a_p * opB[p,j]
            gemv(trans: !transB, rows: transB ? n : k, cols: transB ? k : n, alpha: alpha,
                 a: b, lda: ldb, x: a, beta: beta, y: c)
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y = alpha * op(A) x + beta * y, A row-major [rows, cols]; trans selects A^T.
    @inline(__always)
    package static func gemv(
        trans: Bool, rows: Int, cols: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, Int32(rows), Int32(cols), alpha,
                    a, Int32(lda), x, 1, beta, y, 1)
    }

    /// Threads for charrnn's products: each product is split over the worker pool by `pgemm`.
    package static func setThreads(_ n: Int) { Parallel.setThreads(n) }

    package static let maximumThreads = 256

    /// Refuses a thread count outside 1...maximumThreads.
    package static func checkThreads(_ n: Int) throws {
        guard (1...maximumThreads).contains(n) else {
            throw CharRNNError.invalidOption("--threads must be between 1 and \(maximumThreads) (got \(n))")
        }
    }

    /// The library and the CPU its kernels were chosen for: "OpenBLAS 0.3.21, SkylakeX kernels", or
    /// "Accelerate". OpenBLAS chooses when it is loaded, from OPENBLAS_CORETYPE where that is set: the
    /// Haswell kernels on an AVX-512 CPU run its products at about half the speed of its own AVX-512 ones.
    package static var libraryDescription: String {
        #if canImport(Accelerate)
        return "Accelerate"
        #else
        let version = String(cString: openblas_get_config()).split(separator: " ").prefix(2).joined(separator: " ")
        return "\(version), \(String(cString: openblas_get_corename())) kernels"
        #endif
    }

    /// The kernel of the per-step products (PackedMatrix): "AVX-512" or "8-lane".
    package static var packedKernelDescription: String { crn_kernel_width() == 16 ? "AVX-512" : "8-lane" }

    /// Threads OpenBLAS may use inside one call (Accelerate decides for itself).
    package static func setLibraryThreads(_ n: Int) {
        #if !canImport(Accelerate)
        openblas_set_num_threads(Int32(max(1, n)))
        #endif
    }

    /// out[cols] += sum over rows of m[rows, cols] (ones: at least `rows` ones), split by columns.
    package static func columnSums(_ m: UnsafePointer<Float>, rows: Int, cols: Int, ones: UnsafePointer<Float>,
                                  into out: UnsafeMutablePointer<Float>) {
        let parts = Parallel.parts(floats: rows * cols)
        Parallel.run(parts) { p in
            let r = Parallel.range(part: p, of: parts, total: cols)
            gemv(trans: true, rows: rows, cols: r.count, a: m + r.lowerBound, lda: cols, x: ones, beta: 1,
                 y: out + r.lowerBound)
        }
    }

    /// gemm split over the worker pool: by rows of C when there are enough, else by columns.
    /// Each part is an ordinary single-threaded product, so results do not depend on timing.
    package static func pgemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let parts = Parallel.parts(macs: m * n * k)
        if parts <= 1 {
            gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                 beta: beta, c: c, ldc: ldc)
            return
        }
        if m >= 8 * parts {
            Parallel.run(parts) { p in
                let r = Parallel.range(part: p, of: parts, total: m)
                // Rows r of op(A): row offset into A, or column offset when A is stored transposed.
                let ap = transA ? a + r.lowerBound : a + r.lowerBound * lda
                gemm(transA: transA, transB: transB, m: r.count, n: n, k: k, alpha: alpha, a: ap, lda: lda,
                     b: b, ldb: ldb, beta: beta, c: c + r.lowerBound * ldc, ldc: ldc)
            }
        } else {
            Parallel.run(parts) { p in
                let r = Parallel.range(part: p, of: parts, total: n)
                let bp = transB ? b + r.lowerBound * ldb : b + r.lowerBound
                gemm(transA: transA, transB: transB, m: m, n: r.count, k: k, alpha: alpha, a: a, lda: lda,
                     b: bp, ldb: ldb, beta: beta, c: c + r.lowerBound, ldc: ldc)
            }
        }
    }
}
