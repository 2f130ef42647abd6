import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The processes of one data-parallel training run, started by `mpirun -np N charrnn train ...`:
/// each trains its share of the batch's streams, and they sum their gradients once a step, so every
/// rank takes the same update. Rank 0 alone validates, reports and writes the run folder.
///
/// Every wait for the other ranks has a deadline (`timeout`), and ends early when the caller's stop
/// condition holds (mpirun sends SIGTERM to the survivors when a rank dies), so a rank that died
/// ends the run with one line instead of a hang.
package final class RankGroup: @unchecked Sendable {
    package let rank: Int
    package let size: Int
    /// The ranks on this machine, which share its cores (and its GPUs, one each).
    package let localSize: Int
    /// This rank's index among them.
    package let localRank: Int
    /// The MPI library, as it describes itself.
    package let library: String
    /// Seconds a collective may wait for the other ranks (CHARRNN_MPI_TIMEOUT, default 600: rank 0's
    /// validation of a large text is the longest wait of a healthy run).
    package var timeout: Double
    /// Seconds a collective goes on waiting once `stopRequested` holds: Open MPI's mpirun follows the
    /// SIGTERM it sends the survivors of a dead rank with SIGKILL one second later.
    package var stopGrace = 0.5
    /// Checked while waiting for the other ranks.
    package var stopRequested: @Sendable () -> Bool = { false }
    let mpi: MessagePassing

    /// Whether this process was started by an MPI launcher with more than one rank (from the
    /// variables Open MPI's mpirun and MPICH's Hydra set), and how many.
    package static func launchedRanks(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        for variable in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"] {
            if let n = environment[variable].flatMap({ Int($0) }), n > 1 { return n }
        }
        return nil
    }

    /// The group this process belongs to, or nil when it was not started by an MPI launcher with two
    /// or more ranks. Throws when it was, but no MPI library can be loaded or started.
    package static func fromLauncher(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RankGroup? {
        guard let launched = launchedRanks(environment: environment) else { return nil }
        let mpi = try MessagePassing(preferMPICH: environment["OMPI_COMM_WORLD_SIZE"] == nil)
        let (rank, size) = try mpi.start()
        guard size == launched else {
            throw CharRNNError.dataParallel("the launcher started \(launched) ranks but \(mpi.library.path) sees \(size): "
                                            + "is it the MPI library of the mpirun used? (CHARRNN_MPI names the file)")
        }
        func number(_ variables: [String]) -> Int? { variables.lazy.compactMap { environment[$0].flatMap { Int($0) } }.first }
        let local = number(["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"])
        let localRank = number(["OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID"])
        let timeout = environment["CHARRNN_MPI_TIMEOUT"].flatMap { Double($0) }.flatMap { $0 > 0 ? $0 : nil } ?? 600
        return RankGroup(rank: rank, size: size, localSize: max(1, local ?? size), localRank: localRank ?? rank, mpi: mpi,
                         timeout: timeout)
    }

    /// What `charrnn devices` prints: the MPI library found, or why none was.
    package static func probe() -> String {
        do {
            let lib = try SharedLibrary.open(MessagePassing.search(preferMPICH: false))
            return "\(lib.path) (data-parallel training: mpirun -np N charrnn train ...)"
        } catch {
            return "none found, so training runs in one process (\(error))"
        }
    }

    init(rank: Int, size: Int, localSize: Int, localRank: Int, mpi: MessagePassing, timeout: Double) {
        self.rank = rank; self.size = size; self.localSize = localSize; self.localRank = localRank; self.mpi = mpi
        self.timeout = timeout
        let first = mpi.version.split(separator: ",").first.map(String.init) ?? mpi.abi.rawValue
        library = first.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    package var isLeader: Bool { rank == 0 }

    /// Threads for each rank: the machine's share of the usable cores, at least one.
    package func threadShare(of usable: Int, machineCores: Int) -> Int {
        max(1, min(usable, machineCores / localSize))
    }

    /// Sums `count` floats over every rank, in place.
    func sum(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
        try mpi.allReduceSum(values, count: count, type: mpi.float, wait: deadline())
    }

    /// Sums each of `values` over every rank.
    func sum(_ values: [Double]) throws -> [Double] {
        var v = values
        let wait = deadline()
        try v.withUnsafeMutableBytes { try mpi.allReduceSum($0.baseAddress!, count: values.count, type: mpi.double, wait: wait) }
        return v
    }

    /// Whether `ok` holds on every rank.
    func all(_ ok: Bool) throws -> Bool { try sum([ok ? 0 : 1])[0] == 0 }

    /// Makes a run's part on every rank: rank 0's first (it takes the folder and finishes a save a kill
    /// interrupted), then the others'. Throws on every rank when one fails: its own error on that rank,
    /// a quiet `RankGroup.Followed` on the others (the failing rank says why).
    package func start<T>(_ make: () throws -> T, abandon: (T) -> Void = { _ in }) throws -> T {
        var made: Result<T, Error>? = isLeader ? Result { try make() } : nil
        var leaderStarted = true
        if case .failure? = made { leaderStarted = false }
        guard try all(leaderStarted) else {
            if case .failure(let error)? = made { throw error }
            throw Followed()
        }
        if !isLeader { made = Result { try make() } }
        switch made! {
        case .success(let value):
            guard try all(true) else { abandon(value); throw Followed() }
            return value
        case .failure(let error):
            _ = try all(false)
            throw error
        }
    }

    /// Another rank failed and said why; this one ends quietly.
    package struct Followed: Error {}

    /// MPI_Finalize, after the run's last collective.
    package func finish() { mpi.finalize() }

    /// Ends every rank of the job at once (for a failure after which the ranks cannot agree).
    package func abort() -> Never {
        mpi.abort(code: 1)
        exit(1)
    }

    /// Between tests of a pending request: yields the core (a rank waiting on rank 0's validation
    /// must not take it from the others), and gives up past the deadline or a grace after a stop.
    private func deadline() -> () throws -> Void {
        let start = monotonicSeconds()
        var stopSeen: Double? = nil, polls = 0
        return { [self] in
            polls += 1
            if polls < 200 { return }
            usleep(polls < 2000 ? 50 : 1000)
            let now = monotonicSeconds()
            if now - start > timeout {
                throw CharRNNError.dataParallel("rank \(rank) of \(size): no answer from the other ranks for \(Int(timeout)) s "
                                                + "(one of them has probably ended; CHARRNN_MPI_TIMEOUT sets the wait)")
            }
            if stopSeen == nil && stopRequested() { stopSeen = now }
            if let s = stopSeen, now - s > stopGrace {
                throw CharRNNError.dataParallel("rank \(rank) of \(size): stopped while waiting for the other ranks "
                                                + "(one of them has probably ended)")
            }
        }
    }
}
