import CCharRNNKernels

/// NCCL, loaded at run time with dlopen: the all-reduce between the GPUs of a data-parallel run, on
/// device memory and on each device's stream (so it is captured into a step's CUDA graph like the
/// rest of the step). MPI only starts the ranks and hands rank 0's NCCL id to the others.
final class NCCL: @unchecked Sendable {
    typealias Result = Int32
    typealias Comm = OpaquePointer?

    let library: SharedLibrary
    let version: Int
    private let ncclGetUniqueId: @convention(c) (UnsafeMutablePointer<crn_nccl_unique_id>) -> Result
    private let ncclCommInitRank: @convention(c) (UnsafeMutablePointer<Comm>, Int32, crn_nccl_unique_id, Int32) -> Result
    private let ncclAllReduce: @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int, Int32, Int32, Comm, OpaquePointer?) -> Result
    private let ncclGroupStart: @convention(c) () -> Result
    private let ncclGroupEnd: @convention(c) () -> Result
    private let ncclCommDestroy: @convention(c) (Comm) -> Result
    private let ncclGetErrorString: @convention(c) (Result) -> UnsafePointer<CChar>?

    // nccl.h: ncclDataType_t and ncclRedOp_t.
    static let float32: Int32 = 7, float64: Int32 = 8
    static let sum: Int32 = 0, average: Int32 = 4  // ncclAvg: NCCL 2.10 and later

    static let search = SharedLibrary.Search(
        what: "NCCL (pip install nvidia-nccl-cu12, or the system's libnccl2)", variable: "CHARRNN_NCCL",
        names: ["libnccl.so.2", "libnccl.so"], folders: CUDASearchPaths.toolkitFolders,
        failure: { CharRNNError.dataParallel($0) })

    static func shared() throws -> NCCL { try loaded.get() }
    private static let loaded: Swift.Result<NCCL, Error> = Swift.Result { try NCCL() }

    private init() throws {
        let lib = try SharedLibrary.open(Self.search)
        library = lib
        ncclGetUniqueId = try lib.function("ncclGetUniqueId")
        ncclCommInitRank = try lib.function("ncclCommInitRank")
        ncclAllReduce = try lib.function("ncclAllReduce")
        ncclGroupStart = try lib.function("ncclGroupStart")
        ncclGroupEnd = try lib.function("ncclGroupEnd")
        ncclCommDestroy = try lib.function("ncclCommDestroy")
        ncclGetErrorString = try lib.function("ncclGetErrorString")
        let getVersion: @convention(c) (UnsafeMutablePointer<Int32>) -> Result = try lib.function("ncclGetVersion")
        var v: Int32 = 0
        _ = getVersion(&v)
        version = Int(v)
        guard version >= 21000 else {
            throw CharRNNError.dataParallel("\(lib.path) is NCCL \(version); charrnn needs 2.10 or later (ncclAvg)")
        }
    }

    func uniqueID() throws -> crn_nccl_unique_id {
        var id = crn_nccl_unique_id()
        try check(ncclGetUniqueId(&id), "ncclGetUniqueId")
        return id
    }

    func communicator(ranks: Int, rank: Int, id: crn_nccl_unique_id) throws -> Comm {
        var comm: Comm = nil
        try check(ncclCommInitRank(&comm, Int32(ranks), id, Int32(rank)), "ncclCommInitRank")
        return comm
    }

    /// In place, on `stream`; `count` elements of `type`; the calls in `body` as one group.
    func allReduce(_ buffer: DevicePointer, count: Int, type: Int32, op: Int32, comm: Comm, stream: OpaquePointer?) throws {
        let p = UnsafeMutableRawPointer(bitPattern: UInt(buffer.address))
        try check(ncclAllReduce(p, p, count, type, op, comm, stream), "ncclAllReduce")
    }

    func group(_ body: () throws -> Void) throws {
        try check(ncclGroupStart(), "ncclGroupStart")
        let outcome = Swift.Result { try body() }
        try check(ncclGroupEnd(), "ncclGroupEnd")
        try outcome.get()
    }

    func destroy(_ comm: Comm) { _ = ncclCommDestroy(comm) }

    private func check(_ result: Result, _ call: String) throws {
        guard result != 0 else { return }
        let why = ncclGetErrorString(result).map { String(cString: $0) } ?? "error \(result)"
        throw CharRNNError.dataParallel("\(call) failed: \(why)")
    }
}

/// The ranks' GPUs as one NCCL communicator: averages the gradient and sums the loss of each step,
/// queued between the backward pass and the update (DeviceTrainingStep).
final class DeviceGradientExchange {
    let ranks: RankGroup
    private let nccl: NCCL
    private let device: CUDADevice
    private let comm: NCCL.Comm

    /// Rank 0 makes the id; MPI carries it to the others (as the sum of its bytes and zeros).
    init(ranks: RankGroup, device: CUDADevice) throws {
        nccl = try NCCL.shared()
        self.ranks = ranks
        self.device = device
        var id = ranks.isLeader ? try nccl.uniqueID() : crn_nccl_unique_id()
        let bytes = withUnsafeBytes(of: &id) { Array($0) }
        let shared = try ranks.sum(bytes.map { ranks.isLeader ? Double($0) : 0 })
        withUnsafeMutableBytes(of: &id) { raw in for k in raw.indices { raw[k] = UInt8(shared[k]) } }
        let nccl = nccl, size = ranks.size, rank = ranks.rank
        comm = try device.onStream { _ in try nccl.communicator(ranks: size, rank: rank, id: id) }
    }

    deinit { nccl.destroy(comm) }

    /// The mean of the ranks' gradients (floats) and the sum of their summed losses (one double), in place.
    func queue(gradients: DevicePointer, count: Int, lossSum: DevicePointer) throws {
        let nccl = nccl, comm = comm
        try device.onStream { stream in
            try nccl.group {
                try nccl.allReduce(gradients, count: count, type: NCCL.float32, op: NCCL.average, comm: comm, stream: stream)
                try nccl.allReduce(lossSum, count: 1, type: NCCL.float64, op: NCCL.sum, comm: comm, stream: stream)
            }
        }
    }
}
