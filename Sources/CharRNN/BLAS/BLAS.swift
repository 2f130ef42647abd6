#if canImport(Accelerate)
import Accelerate
#else
import COpenBLAS
#endif

/// The one place charrnn talks to BLAS: row-major single-precision products.
/// OpenBLAS on Linux, Accelerate on Apple platforms.
public enum BLAS {
    /// C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, all row-major.
    /// lda/ldb/ldc are the row strides of A, B and C as stored.
    @inline(__always)
    public static func gemm(
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
    public static func gemv(
        trans: Bool, rows: Int, cols: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, Int32(rows), Int32(cols), alpha,
                    a, Int32(lda), x, 1, beta, y, 1)
    }

    /// Threads BLAS may use for one product (OpenBLAS; Accelerate decides for itself).
    public static func setThreads(_ n: Int) {
        #if !canImport(Accelerate)
        openblas_set_num_threads(Int32(max(1, n)))
        #endif
    }
}
