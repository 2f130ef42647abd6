import CharRNN
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A ComputeDevice on the host: memory from malloc, products from BLAS, and the kernels of KernelSource
/// compiled by the host's C++ compiler and run one thread at a time. Every kernel is written so that
/// this is exact (no shared memory, barriers or atomics), so code written against the device seam, and
/// each kernel against its CPU twin, is checked without a GPU.
final class EmulatedDevice: ComputeDevice {
    let name = "emulated device (kernels compiled for the host)"
    private let library: UnsafeMutableRawPointer
    private typealias Entry = @convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>, Int, Int32) -> Void
    private var entries: [String: Entry] = [:]
    private(set) var live = Set<UInt64>()

    /// What a kernel source needs to run here: every `emu_NAME(args, threads, block)` walks the grid,
    /// sets the thread coordinates and calls NAME with its arguments unpacked from the kernelParams array.
    /// Math comes from clang's builtins, so no host headers are needed.
    private static let runner = """
    template <unsigned long... I> struct crn_indices {};
    template <unsigned long N, unsigned long... I> struct crn_make : crn_make<N - 1, N - 1, I...> {};
    template <unsigned long... I> struct crn_make<0, I...> { typedef crn_indices<I...> type; };
    template <typename T> struct crn_plain { typedef T type; };
    template <typename T> struct crn_plain<const T> { typedef T type; };
    template <typename... A, unsigned long... I>
    static void crn_apply(void (*f)(A...), void **args, crn_indices<I...>) {
        f(*static_cast<typename crn_plain<A>::type *>(args[I])...);
    }
    template <typename... A> static void crn_launch(void (*f)(A...), void **args, long threads, int block) {
        blockDim.x = block; blockDim.y = blockDim.z = 1;
        gridDim.x = (unsigned)((threads + block - 1) / block); gridDim.y = gridDim.z = 1;
        blockIdx.y = blockIdx.z = threadIdx.y = threadIdx.z = 0;
        for (unsigned b = 0; b < gridDim.x; b++)
            for (unsigned t = 0; t < (unsigned)block; t++) {
                blockIdx.x = b; threadIdx.x = t;
                crn_apply(f, args, typename crn_make<sizeof...(A)>::type());
            }
    }

    """

    private static let builtins = """
    #define expf __builtin_expf
    #define logf __builtin_logf
    #define tanhf __builtin_tanhf
    #define sqrtf __builtin_sqrtf
    #define sqrt __builtin_sqrt
    #define fmaxf __builtin_fmaxf
    #define fminf __builtin_fminf

    """

    /// Compiles `source` (KernelSource.moduleSource or a changed copy) for the host.
    init(source: String = KernelSource.moduleSource, kernels: [String] = KernelSource.kernelNames) throws {
        let folder = temporaryDirectory()
        let cpp = folder + "/kernels.cpp", so = folder + "/kernels.so"
        let prelude = KernelSource.hostPrelude.replacingOccurrences(of: "#include <math.h>\n", with: "")
            .replacingOccurrences(of: "#include <stdint.h>\n", with: "")
        let launchers = kernels.map { k in
            "extern \"C\" void emu_\(k)(void **args, long threads, int block) { crn_launch(\(k), args, threads, block); }"
        }.joined(separator: "\n")
        try (Self.builtins + prelude + source + "\n" + Self.runner + launchers + "\n")
            .write(toFile: cpp, atomically: true, encoding: .utf8)
        let compiler = Self.hostCompiler()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: compiler)
        process.arguments = ["-x", "c++", "-std=c++17", "-O1", "-fPIC", "-shared", "-o", so, cpp, "-lm"]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CharRNNError.cuda("the host compiler \(compiler) could not compile the kernels: \(log)")
        }
        guard let handle = dlopen(so, RTLD_NOW | RTLD_LOCAL) else {
            throw CharRNNError.cuda("cannot load \(so): \(String(cString: dlerror()))")
        }
        library = handle
        try? FileManager.default.removeItem(atPath: folder)  // loaded: the files are no longer needed
        for k in kernels {
            guard let symbol = dlsym(handle, "emu_\(k)") else { throw CharRNNError.cuda("no emu_\(k)") }
            entries[k] = unsafeBitCast(symbol, to: Entry.self)
        }
    }

    /// clang++ beside the Swift compiler (every Swift toolchain has one), else the first on PATH.
    static func hostCompiler() -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
        for name in ["clang++", "g++", "c++"] {
            for folder in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(folder)/\(name)") {
                return "\(folder)/\(name)"
            }
        }
        return "/usr/bin/c++"
    }

    /// Calls to allocate so far: on a GPU each is a cuMemAlloc, and each free a cuMemFree, which waits
    /// for the whole device, so a step must not make either once its buffers exist.
    private(set) var allocationCount = 0

    func allocate(bytes: Int) throws -> DevicePointer {
        try refuseWhileCapturing("allocating")
        allocationCount += 1
        let p = malloc(max(bytes, 4))!
        memset(p, 0xFF, max(bytes, 4))  // NaN-filled, as fresh device memory holds garbage
        let address = UInt64(UInt(bitPattern: p))
        live.insert(address)
        sizes[address] = bytes
        allocatedBytes += bytes
        peakAllocatedBytes = max(peakAllocatedBytes, allocatedBytes)
        return DevicePointer(address: address)
    }

    /// Bytes held now and the most held since resetPeak, as CUDADevice counts them.
    private(set) var allocatedBytes = 0, peakAllocatedBytes = 0
    private var sizes: [UInt64: Int] = [:]
    func resetPeak() { peakAllocatedBytes = allocatedBytes }

    func free(_ pointer: DevicePointer) {
        if recording != nil { captureInvalidated = "freeing memory" }
        freeCount += 1
        precondition(live.remove(pointer.address) != nil, "freeing memory that was not allocated")
        allocatedBytes -= sizes.removeValue(forKey: pointer.address) ?? 0
        Glibc.free(raw(pointer))
    }

    private func raw(_ p: DevicePointer) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: UInt(p.address))! }

    func copy(to destination: DevicePointer, from source: UnsafeRawPointer, bytes: Int) throws {
        try refuseWhileCapturing("a copy from the host")
        raw(destination).copyMemory(from: source, byteCount: bytes)
    }

    /// Copies from the device to the host so far: on a GPU each one waits for the work queued before it.
    private(set) var copiesToHost = 0

    func copy(from source: DevicePointer, to destination: UnsafeMutableRawPointer, bytes: Int) throws {
        try refuseWhileCapturing("a copy to the host")
        copiesToHost += 1
        destination.copyMemory(from: raw(source), byteCount: bytes)
    }

    func copy(from source: DevicePointer, to destination: DevicePointer, bytes: Int) throws {
        let d = raw(destination), s = raw(source)
        run { memmove(d, s, bytes) }
    }

    func zero(_ pointer: DevicePointer, bytes: Int) throws {
        let p = raw(pointer)
        run { memset(p, 0, bytes) }
    }

    func launch(_ kernel: String, threads: Int, _ arguments: [KernelArgument]) throws {
        guard threads > 0 else { return }
        guard let entry = entries[kernel] else { throw CharRNNError.cuda("no kernel named \(kernel)") }
        launches += 1
        run { KernelArgument.withParameterArray(arguments) { entry($0, threads, Int32(KernelSource.blockSize)) } }
    }

    func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: DevicePointer, lda: Int,
              b: DevicePointer, ldb: Int, beta: Float, c: DevicePointer, ldc: Int) throws {
        products += 1
        run { self.product(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                           beta: beta, c: c, ldc: ldc) }
    }

    private func product(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: DevicePointer, lda: Int,
                         b: DevicePointer, ldb: Int, beta: Float, c: DevicePointer, ldc: Int) {
        let c = raw(c).assumingMemoryBound(to: Float.self)
        guard precision != .fp32 else {
            BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                      a: raw(a).assumingMemoryBound(to: Float.self), lda: lda, b: raw(b).assumingMemoryBound(to: Float.self),
                      ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        // The tensor cores' view of the operands: each element rounded, the sums in fp32.
        let roundedA = rounded(a, rows: transA ? k : m, columns: transA ? m : k, leading: lda)
        let roundedB = rounded(b, rows: transB ? n : k, columns: transB ? k : n, leading: ldb)
        BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: roundedA, lda: lda, b: roundedB,
                  ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// --precision to emulate: tf32 and bf16 round the operands of every product as cuBLAS's tensor-core
    /// paths do, so ModelChecks and training runs show what those precisions cost.
    var precision: Precision = .fp32

    private func rounded(_ p: DevicePointer, rows: Int, columns: Int, leading: Int) -> [Float] {
        let source = raw(p).assumingMemoryBound(to: Float.self)
        let span = rows == 0 || columns == 0 ? 0 : (rows - 1) * leading + columns
        let keep = precision == .bf16 ? 7 : 10  // mantissa bits
        return (0..<span).map { Self.round(source[$0], mantissaBits: keep) }
    }

    /// x rounded to nearest (ties to even) with `mantissaBits` explicit mantissa bits, fp32's exponent.
    static func round(_ x: Float, mantissaBits: Int) -> Float {
        guard x.isFinite else { return x }
        let drop = UInt32(23 - mantissaBits), bits = x.bitPattern
        let half = (UInt32(1) << (drop - 1)) - 1 + ((bits >> drop) & 1)
        return Float(bitPattern: (bits &+ half) & ~((UInt32(1) << drop) - 1))
    }

    func synchronize() throws { try refuseWhileCapturing("waiting for the device") }

    // MARK: capture, as a CUDA graph: the work is recorded with its arguments and addresses, not run

    /// Kernel launches so far, replayed ones not counted (a replay is one launch on a GPU).
    private(set) var launches = 0
    /// Matrix products so far, replayed ones not counted.
    private(set) var products = 0
    private(set) var replays = 0
    private(set) var freeCount = 0
    /// Whether capture records (false: it returns nil, as a device without graphs).
    var capturing = true
    var capturesWork: Bool { capturing }
    /// Set: every capture fails with this, as when the driver refuses one.
    var captureFailure: String?
    private var recording: [() -> Void]?
    private var captureInvalidated: String?

    private final class Recorded: CapturedWork {
        let work: [() -> Void]
        init(_ work: [() -> Void]) { self.work = work }
    }

    private func run(_ work: @escaping () -> Void) {
        if recording != nil { recording!.append(work) } else { work() }
    }

    /// What the driver refuses inside a capture (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED), refused here too.
    private func refuseWhileCapturing(_ what: String) throws {
        guard recording != nil else { return }
        captureInvalidated = what
        throw CharRNNError.cuda("\(what) during a capture: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED")
    }

    private(set) var captures = 0

    func capture(_ body: () throws -> Void) throws -> CapturedWork? {
        guard capturing else { return nil }
        captures += 1
        precondition(recording == nil, "captures do not nest")
        recording = []
        captureInvalidated = nil
        defer { recording = nil }
        try body()
        if let why = captureInvalidated { throw CharRNNError.cuda("the capture was invalidated by \(why)") }
        if let captureFailure { throw CharRNNError.cuda("cuStreamBeginCapture: \(captureFailure)") }
        return Recorded(recording!)
    }

    func replay(_ work: CapturedWork) throws {
        try refuseWhileCapturing("replaying")
        replays += 1
        for step in (work as! Recorded).work { step() }
    }

    /// What the device says it has free; nil, as most hosts, says nothing. Tests set it.
    var memory: (free: Int, total: Int)? = nil
}
