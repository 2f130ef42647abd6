#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the driver reports about one GPU.
package struct CUDADeviceInfo: Sendable {
    package let ordinal: Int
    package let name: String
    package let totalMemory: Int
    package let computeCapability: (major: Int, minor: Int)
    package let multiprocessors: Int

    /// The architecture NVRTC compiles for: 90 for compute capability 9.0.
    package var architecture: Int { computeCapability.major * 10 + computeCapability.minor }
}

/// One GPU through the driver API, NVRTC and cuBLAS: the ComputeDevice the GPU path runs on. It uses the
/// device's primary context (the one PyTorch and other libraries share) and one stream of its own, on
/// which every launch, product, copy and zeroing is queued in order, so that a run of them can be
/// captured as a CUDA graph. The stream is a blocking one: it also stays ordered with the legacy default
/// stream of any other code in the process.
package final class CUDADevice: ComputeDevice, @unchecked Sendable {
    package let info: CUDADeviceInfo
    package var name: String { "\(info.name) (cuda:\(info.ordinal))" }
    package let precision: Precision
    private let driver: CUDADriver
    private let blas: CUBLAS
    private let context: OpaquePointer?
    private let blasHandle: OpaquePointer?
    private let stream: OpaquePointer?
    /// cuBLAS's workspace for captured products, allocated at the first capture (nil: not yet).
    private var blasWorkspace: DevicePointer?
    private var functions: [String: OpaquePointer?] = [:]
    /// Whether the module came from the disk cache (for `charrnn devices`).
    package private(set) var moduleWasCached = false
    /// Bytes charrnn holds now, and the most it held since resetPeak (torch.cuda.max_memory_allocated's sense).
    package private(set) var allocatedBytes = 0, peakAllocatedBytes = 0
    private var sizes: [UInt64: Int] = [:]
    /// --precision bf16: withHalfCopy's copies in force (innermost last), each covering the fp32
    /// addresses source..<end; the buffers they are made in, by depth (scopes nest, so one buffer
    /// serves every scope at its depth); and the two buffers a product's operands are converted into
    /// when no copy covers them.
    private var halfCopies: [(source: UInt64, end: UInt64, copy: DevicePointer)] = []
    private var halfCopyBuffers: [(pointer: DevicePointer, bytes: Int)?] = []
    private var halfScratch: [(pointer: DevicePointer, bytes: Int)?] = [nil, nil]

    /// Starts the peak from what is held now.
    package func resetPeak() { peakAllocatedBytes = allocatedBytes }

    /// Opens GPU `ordinal`, compiles (or finds in the cache) and loads charrnn's kernels.
    package init(ordinal: Int = 0, precision: Precision = .fp32) throws {
        driver = try CUDADriver.shared()
        let all = try Self.devices()
        guard all.indices.contains(ordinal) else {
            throw CharRNNError.cuda("there is no cuda:\(ordinal): the driver sees \(all.count) GPU\(all.count == 1 ? "" : "s")")
        }
        info = all[ordinal]
        var device: Int32 = 0
        try driver.check(driver.cuDeviceGet(&device, Int32(ordinal)), "cuDeviceGet")
        var ctx: OpaquePointer? = nil
        try driver.check(driver.cuDevicePrimaryCtxRetain(&ctx, device), "cuDevicePrimaryCtxRetain")
        context = ctx
        try driver.check(driver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")
        var stream: OpaquePointer? = nil
        try driver.check(driver.cuStreamCreate(&stream, 0), "cuStreamCreate")  // CU_STREAM_DEFAULT: blocking
        self.stream = stream
        blas = try CUBLAS.shared()
        self.precision = precision
        blasHandle = try blas.makeHandle(precision: precision, stream: stream)
        try loadKernels()
    }

    /// The GPUs the driver sees.
    package static func devices() throws -> [CUDADeviceInfo] {
        let d = try CUDADriver.shared()
        var count: Int32 = 0
        try d.check(d.cuDeviceGetCount(&count), "cuDeviceGetCount")
        return try (0..<Int(count)).map { ordinal in
            var device: Int32 = 0
            try d.check(d.cuDeviceGet(&device, Int32(ordinal)), "cuDeviceGet")
            var name = [CChar](repeating: 0, count: 256)
            try d.check(d.cuDeviceGetName(&name, 255, device), "cuDeviceGetName")
            var memory = 0
            try d.check(d.cuDeviceTotalMem(&memory, device), "cuDeviceTotalMem")
            func attribute(_ a: Int32) throws -> Int {
                var v: Int32 = 0
                try d.check(d.cuDeviceGetAttribute(&v, a, device), "cuDeviceGetAttribute(\(a))")
                return Int(v)
            }
            // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, _MINOR = 76, MULTIPROCESSOR_COUNT = 16.
            return CUDADeviceInfo(ordinal: ordinal, name: SharedLibrary.string(name), totalMemory: memory,
                                  computeCapability: (try attribute(75), try attribute(76)),
                                  multiprocessors: try attribute(16))
        }
    }

    private func loadKernels() throws {
        let compiler = try NVRTCCompiler.shared()
        let source = KernelSource.moduleSource, arch = info.architecture
        let key = KernelCache.key(source: source, architecture: arch, compiler: compiler)
        var module: OpaquePointer? = nil
        if let cached = KernelCache.read(key: key),
           cached.withUnsafeBytes({ driver.cuModuleLoadData(&module, $0.baseAddress!) }) == 0 {
            moduleWasCached = true
        } else {
            let cubin = try compiler.compile(source, architecture: arch)
            try cubin.withUnsafeBytes { try driver.check(driver.cuModuleLoadData(&module, $0.baseAddress!), "cuModuleLoadData") }
            KernelCache.write(cubin, key: key)
        }
        for name in KernelSource.kernelNames {
            var function: OpaquePointer? = nil
            try driver.check(driver.cuModuleGetFunction(&function, module, name), "cuModuleGetFunction(\(name))")
            functions[name] = function
        }
    }

    private func makeCurrent() throws {
        try driver.check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent")
    }

    /// Runs `body` with this device's context current and its stream, for work of another library
    /// that goes on the stream (NCCL's collectives), captured with the rest of a step.
    func onStream<R>(_ body: (OpaquePointer?) throws -> R) throws -> R {
        try makeCurrent()
        return try body(stream)
    }

    // MARK: ComputeDevice

    package func allocate(bytes: Int) throws -> DevicePointer {
        try makeCurrent()
        var address: UInt64 = 0
        let status = driver.cuMemAlloc(&address, max(bytes, 4))
        if status == 2 {  // CUDA_ERROR_OUT_OF_MEMORY
            let (free, total) = memory ?? (0, 0)
            // KiB below a MiB: "0 MiB more were needed" would read as nonsense.
            let needed = bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\((bytes + 1023) >> 10) KiB"
            throw CharRNNError.cuda("out of GPU memory: \(needed) more were needed, \(free >> 20) MiB of "
                                    + "\(total >> 20) MiB free on \(name)")
        }
        try driver.check(status, "cuMemAlloc(\(bytes) bytes)")
        sizes[address] = bytes
        allocatedBytes += bytes
        peakAllocatedBytes = max(peakAllocatedBytes, allocatedBytes)
        return DevicePointer(address: address)
    }

    package func free(_ pointer: DevicePointer) {
        _ = try? makeCurrent()
        _ = driver.cuMemFree(pointer.address)
        freeCount += 1
        allocatedBytes -= sizes.removeValue(forKey: pointer.address) ?? 0
    }

    package func copy(to destination: DevicePointer, from source: UnsafeRawPointer, bytes: Int) throws {
        try makeCurrent()
        // From pageable memory this returns once the bytes are staged, so the caller may reuse them.
        try timed(.upload) { try driver.check(driver.cuMemcpyHtoDAsync(destination.address, source, bytes, stream), "cuMemcpyHtoD") }
    }

    package func copy(from source: DevicePointer, to destination: UnsafeMutableRawPointer, bytes: Int) throws {
        try makeCurrent()
        try driver.check(driver.cuMemcpyDtoHAsync(destination, source.address, bytes, stream), "cuMemcpyDtoH")
        try driver.check(driver.cuStreamSynchronize(stream), "cuStreamSynchronize")
    }

    package func copy(from source: DevicePointer, to destination: DevicePointer, bytes: Int) throws {
        try makeCurrent()
        try timed(.copy) {
            try driver.check(driver.cuMemcpyDtoDAsync(destination.address, source.address, bytes, stream), "cuMemcpyDtoD")
        }
    }

    package func zero(_ pointer: DevicePointer, bytes: Int) throws {
        try makeCurrent()
        try timed(.zero) { try driver.check(driver.cuMemsetD32Async(pointer.address, 0, bytes / 4, stream), "cuMemsetD32") }
    }

    package func launch(_ kernel: String, threads: Int, _ arguments: [KernelArgument]) throws {
        guard threads > 0 else { return }
        guard let function = functions[kernel] else { throw CharRNNError.cuda("no kernel named \(kernel)") }
        try makeCurrent()
        let block = KernelSource.blockSize, blocks = (threads + block - 1) / block
        try timed(.kernel(kernel)) {
            let status = KernelArgument.withParameterArray(arguments) { params in
                driver.cuLaunchKernel(function, UInt32(blocks), 1, 1, UInt32(block), 1, 1, 0, stream, params, nil)
            }
            try driver.check(status, "launching \(kernel) (\(threads) threads)")
        }
    }

    package func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: DevicePointer, lda: Int,
                     b: DevicePointer, ldb: Int, beta: Float, c: DevicePointer, ldc: Int) throws {
        try makeCurrent()
        var a = a, b = b
        if precision == .bf16 && m > 0 && n > 0 && k > 0 {
            a = try halfOperand(a, rows: transA ? k : m, columns: transA ? m : k, leading: lda, scratch: 0)
            b = try halfOperand(b, rows: transB ? n : k, columns: transB ? k : n, leading: ldb, scratch: 1)
        }
        try timed(.product(m: m, n: n, k: k, transA: transA, transB: transB)) {
            try blas.gemm(blasHandle, precision: precision, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                          a: a.address, lda: lda, b: b.address, ldb: ldb, beta: beta, c: c.address, ldc: ldc)
        }
    }

    package func withHalfCopy(of source: DevicePointer, count: Int, _ body: () throws -> Void) throws {
        guard precision == .bf16, count > 0 else { return try body() }
        if halfCopyBuffers.count == halfCopies.count { halfCopyBuffers.append(nil) }
        let copy = try buffer(&halfCopyBuffers[halfCopies.count], bytes: count * 2)
        try toBf16(threads: count, n: count, x: source, y: copy)
        halfCopies.append((source.address, source.address + UInt64(count * 4), copy))
        defer { halfCopies.removeLast() }
        try body()
    }

    /// The bfloat16 twin of the rows x columns matrix at `p` (row-major, `leading` floats apart), in the
    /// same layout: inside a withHalfCopy copy, or converted into scratch buffer `slot` now.
    private func halfOperand(_ p: DevicePointer, rows: Int, columns: Int, leading: Int, scratch slot: Int) throws -> DevicePointer {
        let count = (rows - 1) * leading + columns, end = p.address + UInt64(count * 4)
        if let c = halfCopies.last(where: { $0.source <= p.address && end <= $0.end }) {
            return DevicePointer(address: c.copy.address + (p.address - c.source) / 2)
        }
        let converted = try buffer(&halfScratch[slot], bytes: count * 2)
        try toBf16(threads: count, n: count, x: p, y: converted)
        return converted
    }

    /// `slot`'s buffer, made (again) when it holds fewer than `bytes`.
    private func buffer(_ slot: inout (pointer: DevicePointer, bytes: Int)?, bytes: Int) throws -> DevicePointer {
        if let s = slot, s.bytes >= bytes { return s.pointer }
        if let s = slot { free(s.pointer) }
        let p = try allocate(bytes: bytes)
        slot = (p, bytes)
        return p
    }

    package var memory: (free: Int, total: Int)? {
        var free = 0, total = 0
        guard (try? makeCurrent()) != nil, driver.cuMemGetInfo(&free, &total) == 0 else { return nil }
        return (free, total)
    }

    package private(set) var freeCount = 0

    /// CUDA graphs are used unless CHARRNN_CUDA_GRAPHS=0 (to compare, or to rule them out).
    package let capturesWork = getenv("CHARRNN_CUDA_GRAPHS").map { String(cString: $0) != "0" } ?? true

    /// The work `body` queues, captured from the stream into a graph and instantiated. A failure inside
    /// `body` (anything a capture may not contain) ends the capture, discards it and is rethrown.
    package func capture(_ body: () throws -> Void) throws -> CapturedWork? {
        guard capturesWork else { return nil }
        try makeCurrent()
        if blasWorkspace == nil {
            // cuBLAS's own recommendation: 32 MiB on Hopper and later, 4 MiB before. It counts in the
            // peak memory, so CHARRNN_CUBLAS_WORKSPACE_MIB lets the bench weigh its size against speed.
            let recommended = info.computeCapability.major >= 9 ? 32 : 4
            let mebibytes = getenv("CHARRNN_CUBLAS_WORKSPACE_MIB").flatMap { Int(String(cString: $0)) }.map { max(1, $0) }
            let bytes = (mebibytes ?? recommended) << 20
            let workspace = try allocate(bytes: bytes)
            if try blas.setWorkspace(blasHandle, workspace.address, bytes: bytes) { blasWorkspace = workspace } else { free(workspace) }
        }
        // CU_STREAM_CAPTURE_MODE_THREAD_LOCAL: only this thread's unsafe calls end the capture.
        try driver.check(driver.cuStreamBeginCapture(stream, 1), "cuStreamBeginCapture")
        var graph: OpaquePointer? = nil
        do {
            try body()
        } catch {
            _ = driver.cuStreamEndCapture(stream, &graph)
            if graph != nil { _ = driver.cuGraphDestroy(graph) }
            throw error
        }
        try driver.check(driver.cuStreamEndCapture(stream, &graph), "cuStreamEndCapture")
        defer { _ = driver.cuGraphDestroy(graph) }
        var exec: OpaquePointer? = nil
        try driver.check(driver.cuGraphInstantiateWithFlags(&exec, graph, 0), "cuGraphInstantiate")
        return CUDAGraph(exec: exec, driver: driver)
    }

    package func replay(_ work: CapturedWork) throws {
        guard let graph = work as? CUDAGraph else { throw CharRNNError.cuda("\(name) cannot replay work captured elsewhere") }
        try makeCurrent()
        try driver.check(driver.cuGraphLaunch(graph.exec, stream), "cuGraphLaunch")
    }

    // MARK: timing (bench --phases)

    /// An event recorded on the stream now: it completes when the work queued before it has run.
    func recordEvent() throws -> CUDAEvent {
        try makeCurrent()
        var event: OpaquePointer? = nil
        try driver.check(driver.cuEventCreate(&event, 0), "cuEventCreate")  // CU_EVENT_DEFAULT: with timing
        let recorded = CUDAEvent(event, driver: driver)
        try driver.check(driver.cuEventRecord(event, stream), "cuEventRecord")
        return recorded
    }

    /// Waits until `event` has completed.
    func wait(for event: CUDAEvent) throws {
        try driver.check(driver.cuEventSynchronize(event.event), "cuEventSynchronize")
    }

    /// The GPU's time from `start` to `end`, both completed.
    func seconds(from start: CUDAEvent, to end: CUDAEvent) throws -> Double {
        var ms: Float = 0
        try driver.check(driver.cuEventElapsedTime(&ms, start.event, end.event), "cuEventElapsedTime")
        return Double(ms) / 1000
    }

    /// While set, every launch, product, copy and zeroing is timed on the GPU, by operation.
    package var operationTimes: CUDAIntervals<DeviceOperation>?

    /// Runs `body`, which queues `operation`, between two events when operations are timed.
    private func timed(_ operation: @autoclosure () -> DeviceOperation, _ body: () throws -> Void) throws {
        guard let times = operationTimes else { return try body() }
        let start = try recordEvent()
        try body()
        try times.add(operation(), from: start, to: try recordEvent())
    }

    package func synchronize() throws {
        try makeCurrent()
        try driver.check(driver.cuCtxSynchronize(), "cuCtxSynchronize")
    }
}

/// An instantiated CUDA graph (CUgraphExec), destroyed with its last reference.
final class CUDAGraph: CapturedWork {
    let exec: OpaquePointer?
    private let driver: CUDADriver

    init(exec: OpaquePointer?, driver: CUDADriver) {
        self.exec = exec
        self.driver = driver
    }

    deinit { _ = driver.cuGraphExecDestroy(exec) }
}

/// A CUevent, destroyed with its last reference.
final class CUDAEvent {
    let event: OpaquePointer?
    private let driver: CUDADriver

    init(_ event: OpaquePointer?, driver: CUDADriver) {
        self.event = event
        self.driver = driver
    }

    deinit { _ = driver.cuEventDestroy(event) }
}
