/// cuBLAS, loaded with dlopen: the matrix products of the GPU path. One handle per device, on the
/// default stream, in fp32 with TF32 off unless asked (CUBLAS_DEFAULT_MATH does not use tensor cores
/// for fp32), so products agree with the CPU's BLAS. TF32 is the handle's math mode; bf16 products take
/// bfloat16 copies of their operands (CUDADevice makes them) with fp32 sums and result, through
/// cublasGemmEx. (CUBLAS_COMPUTE_32F_FAST_16BF on the fp32 operands, the earlier way, ran as TF32 under
/// cuBLAS 13.1 on an H100: the compute type lets cuBLAS choose.)
final class CUBLAS: @unchecked Sendable {
    typealias Status = Int32
    typealias Handle = OpaquePointer?

    let library: SharedLibrary
    let version: (major: Int, minor: Int, patch: Int)

    private let cublasCreate: @convention(c) (UnsafeMutablePointer<Handle>) -> Status
    private let cublasSetMathMode: @convention(c) (Handle, Int32) -> Status
    private let cublasSetStream: @convention(c) (Handle, OpaquePointer?) -> Status
    private let cublasSetWorkspace: (@convention(c) (Handle, UInt64, Int) -> Status)?
    private let cublasSgemm: @convention(c) (Handle, Int32, Int32, Int32, Int32, Int32, UnsafePointer<Float>, UInt64, Int32,
                                             UInt64, Int32, UnsafePointer<Float>, UInt64, Int32) -> Status
    // (handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc, computeType, algo)
    private let cublasGemmEx: @convention(c) (Handle, Int32, Int32, Int32, Int32, Int32, UnsafeRawPointer, UInt64, Int32, Int32,
                                              UInt64, Int32, Int32, UnsafeRawPointer, UInt64, Int32, Int32, Int32, Int32) -> Status
    private static let dataTypeR32F: Int32 = 0          // CUDA_R_32F
    private static let dataTypeR16BF: Int32 = 14        // CUDA_R_16BF
    private static let compute32F: Int32 = 68           // CUBLAS_COMPUTE_32F
    private static let defaultAlgorithm: Int32 = -1     // CUBLAS_GEMM_DEFAULT

    static let search = SharedLibrary.Search(
        what: "cuBLAS (pip install nvidia-cublas)", variable: "CHARRNN_CUBLAS",
        names: ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"],
        folders: CUDASearchPaths.toolkitFolders)

    static func shared() throws -> CUBLAS { try loaded.get() }
    private static let loaded: Swift.Result<CUBLAS, Error> = Swift.Result { try CUBLAS() }

    private init() throws {
        let lib = try SharedLibrary.open(Self.search)
        library = lib
        cublasCreate = try lib.function("cublasCreate_v2")
        cublasSetMathMode = try lib.function("cublasSetMathMode")
        cublasSetStream = try lib.function("cublasSetStream_v2")
        cublasSetWorkspace = lib.optionalFunction("cublasSetWorkspace_v2")  // cuBLAS 11.4 and later
        cublasSgemm = try lib.function("cublasSgemm_v2")
        cublasGemmEx = try lib.function("cublasGemmEx")
        let property: @convention(c) (Int32, UnsafeMutablePointer<Int32>) -> Status = try lib.function("cublasGetProperty")
        var parts: [Int32] = [0, 0, 0]
        for k in 0..<3 { _ = property(Int32(k), &parts[k]) }
        version = (Int(parts[0]), Int(parts[1]), Int(parts[2]))
    }

    var versionString: String { "\(version.major).\(version.minor).\(version.patch)" }

    /// A handle for the current context whose products go on `stream`: TF32 math for tf32, the default
    /// math (TF32 off) otherwise.
    func makeHandle(precision: Precision, stream: OpaquePointer?) throws -> Handle {
        var handle: Handle = nil
        try check(cublasCreate(&handle), "cublasCreate")
        try check(cublasSetStream(handle, stream), "cublasSetStream")
        try check(cublasSetMathMode(handle, precision == .tf32 ? 3 : 0), "cublasSetMathMode")  // TF32_TENSOR_OP_MATH : DEFAULT_MATH
        return handle
    }

    /// Gives the handle a workspace of charrnn's own, so that products recorded into a CUDA graph use
    /// memory that outlives the recording rather than cuBLAS's pool. False where cuBLAS is too old to
    /// take one (recording then relies on the pool).
    func setWorkspace(_ handle: Handle, _ address: UInt64, bytes: Int) throws -> Bool {
        guard let cublasSetWorkspace else { return false }
        try check(cublasSetWorkspace(handle, address, bytes), "cublasSetWorkspace")
        return true
    }

    /// Row-major C = alpha op(A) op(B) + beta C through column-major cuBLAS: C^T = op(B)^T op(A)^T,
    /// so the operands swap and each keeps its own transpose flag. With bf16, `a` and `b` are bfloat16.
    func gemm(_ handle: Handle, precision: Precision, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              a: UInt64, lda: Int, b: UInt64, ldb: Int, beta: Float, c: UInt64, ldc: Int) throws {
        var alpha = alpha, beta = beta
        let opA: Int32 = transB ? 1 : 0, opB: Int32 = transA ? 1 : 0
        if precision == .bf16 {
            let f32 = Self.dataTypeR32F, bf16 = Self.dataTypeR16BF
            let status = cublasGemmEx(handle, opA, opB, Int32(n), Int32(m), Int32(k), &alpha, b, bf16, Int32(ldb), a, bf16, Int32(lda),
                                      &beta, c, f32, Int32(ldc), Self.compute32F, Self.defaultAlgorithm)
            try check(status, "cublasGemmEx bf16 (\(m) x \(n) x \(k))")
            return
        }
        let status = cublasSgemm(handle, opA, opB, Int32(n), Int32(m), Int32(k), &alpha,
                                 b, Int32(ldb), a, Int32(lda), &beta, c, Int32(ldc))
        try check(status, "cublasSgemm (\(m) x \(n) x \(k))")
    }

    private func check(_ status: Status, _ call: String) throws {
        guard status != 0 else { return }
        let names: [Int32: String] = [1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
                                      7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH",
                                      13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR",
                                      15: "CUBLAS_STATUS_NOT_SUPPORTED"]
        throw CharRNNError.cuda("\(call): \(names[status] ?? "cuBLAS status \(status)")")
    }
}
