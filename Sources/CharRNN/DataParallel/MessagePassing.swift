import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An MPI library loaded at run time with dlopen, so charrnn builds and tests without one: Open MPI,
/// or a library of MPICH's ABI (MPICH, Intel MPI, MVAPICH). Only what data-parallel training needs:
/// the world's rank and size, a non-blocking all-reduce (waited on with a deadline, so a rank that
/// died cannot hang the others), and finalize/abort.
///
/// The two ABIs differ in their handles: Open MPI's communicators, datatypes and operations are the
/// addresses of exported variables, MPICH's are 32-bit integer constants. Both are passed here as one
/// 64-bit word: the x86-64 and AArch64 calling conventions give an `int` argument a whole register, of
/// which the callee reads the low half. A request is written by the library into an 8-byte word.
final class MessagePassing: @unchecked Sendable {
    enum ABI: String { case openMPI = "Open MPI", mpich = "MPICH" }
    typealias Handle = UInt
    typealias Status = Int32

    let library: SharedLibrary
    let abi: ABI
    let world: Handle, float: Handle, double: Handle, sum: Handle
    private let errorsReturn: Handle
    private let inPlace: UnsafeRawPointer

    private let mpiInitialized: @convention(c) (UnsafeMutablePointer<Int32>) -> Status
    private let mpiInitThread: @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?, Int32,
                                               UnsafeMutablePointer<Int32>) -> Status
    private let mpiCommRank: @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Status
    private let mpiCommSize: @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Status
    private let mpiCommSetErrhandler: @convention(c) (Handle, Handle) -> Status
    private let mpiIallreduce: @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Handle, Handle, Handle,
                                               UnsafeMutablePointer<UInt64>) -> Status
    private let mpiTest: @convention(c) (UnsafeMutablePointer<UInt64>, UnsafeMutablePointer<Int32>, UnsafeMutableRawPointer?) -> Status
    private let mpiFinalize: @convention(c) () -> Status
    private let mpiAbort: @convention(c) (Handle, Int32) -> Status
    private let mpiErrorString: @convention(c) (Int32, UnsafeMutablePointer<CChar>, UnsafeMutablePointer<Int32>) -> Status
    private let mpiGetLibraryVersion: (@convention(c) (UnsafeMutablePointer<CChar>, UnsafeMutablePointer<Int32>) -> Status)?

    /// The launcher decides which library is tried first: Open MPI's mpirun sets OMPI_*, MPICH's
    /// Hydra PMI_*. CHARRNN_MPI names the file instead.
    static func search(preferMPICH: Bool) -> SharedLibrary.Search {
        let openMPI = ["libmpi.so.40", "libmpi.dylib"], mpich = ["libmpich.so.12", "libmpi.so.12"]
        return SharedLibrary.Search(
            what: "an MPI library (Open MPI or MPICH; Debian: apt install openmpi-bin)", variable: "CHARRNN_MPI",
            names: (preferMPICH ? mpich + openMPI : openMPI + mpich) + ["libmpi.so"],
            folders: ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib",
                      "/usr/lib64/openmpi/lib", "/usr/lib64/mpich/lib", "/opt/homebrew/lib"],
            global: true, failure: { CharRNNError.dataParallel($0) })
    }

    init(preferMPICH: Bool) throws {
        let lib = try SharedLibrary.open(Self.search(preferMPICH: preferMPICH))
        library = lib
        mpiInitialized = try lib.function("MPI_Initialized")
        mpiInitThread = try lib.function("MPI_Init_thread")
        mpiCommRank = try lib.function("MPI_Comm_rank")
        mpiCommSize = try lib.function("MPI_Comm_size")
        mpiCommSetErrhandler = try lib.function("MPI_Comm_set_errhandler")
        mpiIallreduce = try lib.function("MPI_Iallreduce")
        mpiTest = try lib.function("MPI_Test")
        mpiFinalize = try lib.function("MPI_Finalize")
        mpiAbort = try lib.function("MPI_Abort")
        mpiErrorString = try lib.function("MPI_Error_string")
        mpiGetLibraryVersion = lib.optionalFunction("MPI_Get_library_version")
        if let comm = lib.symbol("ompi_mpi_comm_world") {
            func variable(_ name: String) throws -> Handle {
                guard let p = lib.symbol(name) else { throw CharRNNError.dataParallel("\(lib.path) has no \(name)") }
                return Handle(bitPattern: p)
            }
            abi = .openMPI
            world = Handle(bitPattern: comm)
            float = try variable("ompi_mpi_float"); double = try variable("ompi_mpi_double")
            sum = try variable("ompi_mpi_op_sum"); errorsReturn = try variable("ompi_mpi_errors_return")
            inPlace = UnsafeRawPointer(bitPattern: 1)!
        } else {
            // mpi.h of MPICH 3 and 4, whose ABI Intel MPI and MVAPICH keep.
            abi = .mpich
            world = 0x4400_0000; float = 0x4c00_040a; double = 0x4c00_080b; sum = 0x5800_0003; errorsReturn = 0x5400_0001
            inPlace = UnsafeRawPointer(bitPattern: -1)!
        }
    }

    /// The library's own description of its version (MPI_Get_library_version), first line.
    var version: String {
        guard let get = mpiGetLibraryVersion else { return abi.rawValue }
        var text = [CChar](repeating: 0, count: 8192), length: Int32 = 0
        guard get(&text, &length) == 0 else { return abi.rawValue }
        let s = SharedLibrary.string(text).split(separator: "\n").first.map(String.init) ?? abi.rawValue
        return s.trimmingCharacters(in: .whitespaces)
    }

    /// MPI_Init_thread (serialized: one thread at a time calls MPI), errors returned rather than fatal.
    func start() throws -> (rank: Int, size: Int) {
        var already: Int32 = 0
        try check(mpiInitialized(&already), "MPI_Initialized")
        if already == 0 {
            var provided: Int32 = 0
            try check(mpiInitThread(nil, nil, 2, &provided), "MPI_Init_thread")
        }
        try check(mpiCommSetErrhandler(world, errorsReturn), "MPI_Comm_set_errhandler")
        var rank: Int32 = 0, size: Int32 = 0
        try check(mpiCommRank(world, &rank), "MPI_Comm_rank")
        try check(mpiCommSize(world, &size), "MPI_Comm_size")
        return (Int(rank), Int(size))
    }

    /// Sums `count` values of `type` over every rank, in place, and waits for the result: `wait` is
    /// called between tests of the request and throws to give up (a deadline passed).
    func allReduceSum(_ buffer: UnsafeMutableRawPointer, count: Int, type: Handle, wait: () throws -> Void) throws {
        var request: UInt64 = 0
        try check(mpiIallreduce(inPlace, buffer, Int32(count), type, sum, world, &request), "MPI_Iallreduce")
        var status = [UInt8](repeating: 0, count: 64)  // larger than either library's MPI_Status
        var done: Int32 = 0
        while true {
            try check(status.withUnsafeMutableBytes { mpiTest(&request, &done, $0.baseAddress) }, "MPI_Test")
            if done != 0 { return }
            try wait()
        }
    }

    func finalize() { _ = mpiFinalize() }

    /// Ends every rank of the job (the launcher kills the others).
    func abort(code: Int32) { _ = mpiAbort(world, code) }

    private func check(_ status: Status, _ call: String) throws {
        guard status != 0 else { return }
        var text = [CChar](repeating: 0, count: 1024), length: Int32 = 0
        let why = mpiErrorString(status, &text, &length) == 0 ? SharedLibrary.string(text) : "error \(status)"
        throw CharRNNError.dataParallel("\(call) failed: \(why)")
    }
}
