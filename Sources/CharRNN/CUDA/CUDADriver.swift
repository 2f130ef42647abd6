#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The CUDA driver API (libcuda), loaded at run time: the functions charrnn calls, as a table of
/// pointers filled by dlsym. Versioned names (_v2) are the ones cuda.h maps the plain names to.
final class CUDADriver: @unchecked Sendable {
    typealias Result = Int32
    typealias Handle = OpaquePointer?

    let library: SharedLibrary
    let version: Int32

    let cuDeviceGetCount: @convention(c) (UnsafeMutablePointer<Int32>) -> Result
    let cuDeviceGet: @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Result
    let cuDeviceGetName: @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> Result
    let cuDeviceTotalMem: @convention(c) (UnsafeMutablePointer<Int>, Int32) -> Result
    let cuDeviceGetAttribute: @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> Result
    let cuDevicePrimaryCtxRetain: @convention(c) (UnsafeMutablePointer<Handle>, Int32) -> Result
    let cuCtxSetCurrent: @convention(c) (Handle) -> Result
    let cuCtxSynchronize: @convention(c) () -> Result
    let cuMemAlloc: @convention(c) (UnsafeMutablePointer<UInt64>, Int) -> Result
    let cuMemFree: @convention(c) (UInt64) -> Result
    let cuMemGetInfo: @convention(c) (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>) -> Result
    let cuModuleLoadData: @convention(c) (UnsafeMutablePointer<Handle>, UnsafeRawPointer) -> Result
    let cuModuleGetFunction: @convention(c) (UnsafeMutablePointer<Handle>, Handle, UnsafePointer<CChar>) -> Result
    let cuLaunchKernel: @convention(c) (Handle, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, Handle,
                                        UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                        UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Result
    // Streams and graphs: all work goes on one stream of charrnn's own, so it can be captured.
    let cuStreamCreate: @convention(c) (UnsafeMutablePointer<Handle>, UInt32) -> Result
    let cuStreamSynchronize: @convention(c) (Handle) -> Result
    let cuMemcpyHtoDAsync: @convention(c) (UInt64, UnsafeRawPointer, Int, Handle) -> Result
    let cuMemcpyDtoHAsync: @convention(c) (UnsafeMutableRawPointer, UInt64, Int, Handle) -> Result
    let cuMemcpyDtoDAsync: @convention(c) (UInt64, UInt64, Int, Handle) -> Result
    let cuMemsetD32Async: @convention(c) (UInt64, UInt32, Int, Handle) -> Result
    let cuStreamBeginCapture: @convention(c) (Handle, Int32) -> Result
    let cuStreamEndCapture: @convention(c) (Handle, UnsafeMutablePointer<Handle>) -> Result
    let cuGraphInstantiateWithFlags: @convention(c) (UnsafeMutablePointer<Handle>, Handle, UInt64) -> Result
    let cuGraphLaunch: @convention(c) (Handle, Handle) -> Result
    let cuGraphDestroy: @convention(c) (Handle) -> Result
    let cuGraphExecDestroy: @convention(c) (Handle) -> Result
    // Events, for `bench --phases` (timing the work queued between two points of the stream).
    let cuEventCreate: @convention(c) (UnsafeMutablePointer<Handle>, UInt32) -> Result
    let cuEventRecord: @convention(c) (Handle, Handle) -> Result
    let cuEventSynchronize: @convention(c) (Handle) -> Result
    let cuEventElapsedTime: @convention(c) (UnsafeMutablePointer<Float>, Handle, Handle) -> Result
    let cuEventDestroy: @convention(c) (Handle) -> Result
    private let cuGetErrorName: @convention(c) (Result, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Result
    private let cuGetErrorString: @convention(c) (Result, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Result

    static let search = SharedLibrary.Search(what: "libcuda (the NVIDIA driver)", variable: "CHARRNN_LIBCUDA",
                                             names: ["libcuda.so.1", "libcuda.so"],
                                             folders: CUDASearchPaths.driverFolders)

    /// Opens libcuda and initialises it once per process; the outcome, failure included, is kept.
    static func shared() throws -> CUDADriver { try loaded.get() }
    private static let loaded: Swift.Result<CUDADriver, Error> = Swift.Result { try CUDADriver() }

    private init() throws {
        let lib = try SharedLibrary.open(Self.search)
        library = lib
        let cuInit = try lib.function("cuInit", as: (@convention(c) (UInt32) -> Result).self)
        cuGetErrorName = try lib.function("cuGetErrorName")
        cuGetErrorString = try lib.function("cuGetErrorString")
        cuDeviceGetCount = try lib.function("cuDeviceGetCount")
        cuDeviceGet = try lib.function("cuDeviceGet")
        cuDeviceGetName = try lib.function("cuDeviceGetName")
        cuDeviceTotalMem = try lib.function("cuDeviceTotalMem_v2")
        cuDeviceGetAttribute = try lib.function("cuDeviceGetAttribute")
        cuDevicePrimaryCtxRetain = try lib.function("cuDevicePrimaryCtxRetain")
        cuCtxSetCurrent = try lib.function("cuCtxSetCurrent")
        cuCtxSynchronize = try lib.function("cuCtxSynchronize")
        cuMemAlloc = try lib.function("cuMemAlloc_v2")
        cuMemFree = try lib.function("cuMemFree_v2")
        cuMemGetInfo = try lib.function("cuMemGetInfo_v2")
        cuModuleLoadData = try lib.function("cuModuleLoadData")
        cuModuleGetFunction = try lib.function("cuModuleGetFunction")
        cuLaunchKernel = try lib.function("cuLaunchKernel")
        cuStreamCreate = try lib.function("cuStreamCreate")
        cuStreamSynchronize = try lib.function("cuStreamSynchronize")
        cuMemcpyHtoDAsync = try lib.function("cuMemcpyHtoDAsync_v2")
        cuMemcpyDtoHAsync = try lib.function("cuMemcpyDtoHAsync_v2")
        cuMemcpyDtoDAsync = try lib.function("cuMemcpyDtoDAsync_v2")
        cuMemsetD32Async = try lib.function("cuMemsetD32Async", as: type(of: cuMemsetD32Async))
        cuStreamBeginCapture = try lib.function("cuStreamBeginCapture_v2")
        cuStreamEndCapture = try lib.function("cuStreamEndCapture")
        cuGraphInstantiateWithFlags = try lib.function("cuGraphInstantiateWithFlags")
        cuGraphLaunch = try lib.function("cuGraphLaunch")
        cuGraphDestroy = try lib.function("cuGraphDestroy")
        cuGraphExecDestroy = try lib.function("cuGraphExecDestroy")
        cuEventCreate = try lib.function("cuEventCreate")
        cuEventRecord = try lib.function("cuEventRecord")
        cuEventSynchronize = try lib.function("cuEventSynchronize")
        // The plain name, which every driver keeps for programs built before CUDA 13's cuda.h mapped it to _v2.
        cuEventElapsedTime = try lib.optionalFunction("cuEventElapsedTime") ?? lib.function("cuEventElapsedTime_v2")
        cuEventDestroy = try lib.function("cuEventDestroy_v2")
        let getVersion = try lib.function("cuDriverGetVersion", as: (@convention(c) (UnsafeMutablePointer<Int32>) -> Result).self)
        var v: Int32 = 0
        _ = getVersion(&v)
        version = v
        let status = cuInit(0)
        if status != 0 {
            // 100 is CUDA_ERROR_NO_DEVICE: a driver without a GPU (a container without --gpus).
            throw CharRNNError.cuda("the driver at \(lib.path) found no usable GPU: cuInit: \(describe(status))")
        }
    }

    /// "CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
    func describe(_ status: Result) -> String {
        var name: UnsafePointer<CChar>? = nil, text: UnsafePointer<CChar>? = nil
        _ = cuGetErrorName(status, &name)
        _ = cuGetErrorString(status, &text)
        let n = name.map { String(cString: $0) } ?? "error \(status)"
        return text.map { "\(n) (\(String(cString: $0)))" } ?? n
    }

    /// Throws the one-line error for a failed call.
    func check(_ status: Result, _ call: @autoclosure () -> String) throws {
        if status != 0 { throw CharRNNError.cuda("\(call()): \(describe(status))") }
    }

    /// "13.0" from 13000.
    static func versionString(_ v: Int32) -> String { "\(v / 1000).\(v % 1000 / 10)" }
}
