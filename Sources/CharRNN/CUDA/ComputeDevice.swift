/// The narrow seam between the model code and a device: memory, copies, kernel launches and the
/// matrix product. CUDADevice implements it over the driver API and cuBLAS; the tests implement it on
/// the host (kernels compiled by the host compiler, products by BLAS), so everything written against
/// it runs, and is checked, without a GPU.
public protocol ComputeDevice: AnyObject {
    /// One line naming the device ("NVIDIA H100 80GB HBM3 (cuda:0)").
    var name: String { get }
    func allocate(bytes: Int) throws -> DevicePointer
    func free(_ pointer: DevicePointer)
    func copy(to destination: DevicePointer, from source: UnsafeRawPointer, bytes: Int) throws
    func copy(from source: DevicePointer, to destination: UnsafeMutableRawPointer, bytes: Int) throws
    func copy(from source: DevicePointer, to destination: DevicePointer, bytes: Int) throws
    /// Sets `bytes` (a multiple of 4) to zero.
    func zero(_ pointer: DevicePointer, bytes: Int) throws
    /// Runs one of KernelSource's kernels over `threads` threads, in 1-D blocks of KernelSource.blockSize.
    func launch(_ kernel: String, threads: Int, _ arguments: [KernelArgument]) throws
    /// C[m, n] = alpha * op(A)[m, k] op(B)[k, n] + beta * C, all row-major with leading dimensions in
    /// floats; transA / transB take A or B transposed (PyTorch's weights are stored [out, in]).
    func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: DevicePointer, lda: Int,
              b: DevicePointer, ldb: Int, beta: Float, c: DevicePointer, ldc: Int) throws
    /// With bf16 products (--precision bf16), each product reads bfloat16 copies of its operands: while
    /// `body` runs, those that lie in the `count` floats at `source` are read from one copy made at the
    /// start (the parameters, which every product of a step reads and none changes), the others are
    /// converted as each product needs them. Elsewhere it only runs `body`.
    func withHalfCopy(of source: DevicePointer, count: Int, _ body: () throws -> Void) throws
    /// Waits for everything launched so far; reports a failure of any of it.
    func synchronize() throws
    /// Free and total bytes of the device's memory, where it can say (MemoryEstimate checks sizes
    /// against it before anything is allocated).
    var memory: (free: Int, total: Int)? { get }
    /// How `gemm` treats its fp32 operands (--precision); the kernels are fp32 whatever it is.
    var precision: Precision { get }
    /// Records the launches, products, device-to-device copies and zeroing that `body` makes, without
    /// running them, as work that `replay` runs with the same arguments and addresses (a CUDA graph:
    /// one launch for a whole chunk of steps). nil where the device does not record. Anything else
    /// inside `body` (a copy to or from the host, an allocation, a wait) makes it throw.
    func capture(_ body: () throws -> Void) throws -> CapturedWork?
    /// Whether capture records at all (false: it always returns nil).
    var capturesWork: Bool { get }
    func replay(_ work: CapturedWork) throws
    /// How many buffers were freed so far. Captured work names addresses, so it stays valid only while
    /// this is unchanged (a buffer that grew was freed and allocated again elsewhere).
    var freeCount: Int { get }
}

/// Work recorded by ComputeDevice.capture; released when the last reference goes.
public protocol CapturedWork: AnyObject {}

/// An address in a device's memory (a CUdeviceptr on a GPU, a host address on the emulated device).
public struct DevicePointer: Hashable, Sendable {
    public let address: UInt64
    public init(address: UInt64) { self.address = address }

    /// The pointer `count` floats further on.
    public func advanced(byFloats count: Int) -> DevicePointer {
        DevicePointer(address: address &+ UInt64(count * MemoryLayout<Float>.size))
    }
}

/// One argument of a kernel launch, passed by value as the kernel's C signature declares it.
public enum KernelArgument: Sendable {
    case pointer(DevicePointer?)
    case int32(Int32)
    case int64(Int64)
    case uint64(UInt64)
    case float(Float)

    public static func int(_ v: Int) -> KernelArgument { .int32(Int32(truncatingIfNeeded: v)) }
    public static func long(_ v: Int) -> KernelArgument { .int64(Int64(v)) }

    /// The value's bytes in an 8-byte slot (little-endian: a 4-byte argument reads the slot's start).
    var slot: UInt64 {
        switch self {
        case .pointer(let p): return p?.address ?? 0
        case .int32(let v): return UInt64(UInt32(bitPattern: v))
        case .int64(let v): return UInt64(bitPattern: v)
        case .uint64(let v): return v
        case .float(let v): return UInt64(v.bitPattern)
        }
    }

    /// Calls body with the array of pointers to each argument's value that cuLaunchKernel takes
    /// (kernelParams), alive for the call.
    public static func withParameterArray<R>(_ arguments: [KernelArgument],
                                      _ body: (UnsafeMutablePointer<UnsafeMutableRawPointer?>) throws -> R) rethrows -> R {
        var slots = arguments.map(\.slot)
        return try slots.withUnsafeMutableBufferPointer { values in
            var pointers = (0..<values.count).map { UnsafeMutableRawPointer(values.baseAddress! + $0) as UnsafeMutableRawPointer? }
            if pointers.isEmpty { pointers.append(nil) }
            return try pointers.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
        }
    }
}

extension ComputeDevice {
    package func withHalfCopy(of source: DevicePointer, count: Int, _ body: () throws -> Void) throws { try body() }
    public var memory: (free: Int, total: Int)? { nil }
    public var precision: Precision { .fp32 }
    package func capture(_ body: () throws -> Void) throws -> CapturedWork? { nil }
    public var capturesWork: Bool { false }
    package func replay(_ work: CapturedWork) throws {
        throw CharRNNError.cuda("\(name) cannot replay captured work")
    }
    public var freeCount: Int { 0 }

    /// Allocates room for `count` floats.
    package func allocate(floats count: Int) throws -> DevicePointer {
        try allocate(bytes: max(1, count) * MemoryLayout<Float>.size)
    }

    package func upload(_ values: [Float], to destination: DevicePointer) throws {
        try values.withUnsafeBytes { try copy(to: destination, from: $0.baseAddress!, bytes: $0.count) }
    }

    package func upload(_ values: [Int32], to destination: DevicePointer) throws {
        try values.withUnsafeBytes { try copy(to: destination, from: $0.baseAddress!, bytes: $0.count) }
    }

    package func upload(_ values: [UInt64], to destination: DevicePointer) throws {
        try values.withUnsafeBytes { try copy(to: destination, from: $0.baseAddress!, bytes: $0.count) }
    }

    package func downloadFloats(_ source: DevicePointer, count: Int) throws -> [Float] {
        var out = [Float](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try copy(from: source, to: $0.baseAddress!, bytes: $0.count) }
        return out
    }

    package func downloadDoubles(_ source: DevicePointer, count: Int) throws -> [Double] {
        var out = [Double](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try copy(from: source, to: $0.baseAddress!, bytes: $0.count) }
        return out
    }

    package func downloadInt32s(_ source: DevicePointer, count: Int) throws -> [Int32] {
        var out = [Int32](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try copy(from: source, to: $0.baseAddress!, bytes: $0.count) }
        return out
    }
}
