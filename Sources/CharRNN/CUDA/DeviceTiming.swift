/// What `bench --phases --device cuda` times on the GPU: one operation queued on the stream.
package enum DeviceOperation: Hashable, Sendable {
    /// C[m, n] = op(A)[m, k] op(B)[k, n], row-major as ComputeDevice.gemm takes it.
    case product(m: Int, n: Int, k: Int, transA: Bool, transB: Bool)
    case kernel(String)
    /// A device-to-device copy, a zeroing, a copy from the host.
    case copy, zero, upload

    /// "product 256x8192x2048 N T" (A as stored, B transposed), "kernel lstm_forward", "copy".
    package var name: String {
        switch self {
        case .product(let m, let n, let k, let ta, let tb): return "product \(m)x\(n)x\(k) \(ta ? "T" : "N") \(tb ? "T" : "N")"
        case .kernel(let name): return "kernel \(name)"
        case .copy: return "copy"
        case .zero: return "zero"
        case .upload: return "copy from host"
        }
    }

    /// Floating-point operations of one call (a product's 2mnk; 0 for the rest).
    package var flops: Double {
        if case .product(let m, let n, let k, _, _) = self { return 2 * Double(m) * Double(n) * Double(k) }
        return 0
    }
}

/// Time on a CUDADevice's stream between pairs of events, added up by key. The pairs wait in a list
/// and are read once the GPU has passed the newest (at `totals`, or when the list is full), so that
/// timing does not wait for the GPU at every event. Each interval is the GPU's time from the first
/// event to the second: it includes any time the GPU sat idle waiting for the host to queue the work.
package final class CUDAIntervals<Key: Hashable> {
    private let device: CUDADevice
    private var pending: [(key: Key, start: CUDAEvent, end: CUDAEvent)] = []
    private var sums: [Key: (seconds: Double, count: Int)] = [:]
    /// Pairs held before they are read (each an event pair of the driver's).
    private let capacity = 4096

    package init(device: CUDADevice) { self.device = device }

    func add(_ key: Key, from start: CUDAEvent, to end: CUDAEvent) throws {
        pending.append((key, start, end))
        if pending.count >= capacity { try read() }
    }

    /// Seconds and intervals of each key so far; waits for the GPU to finish the work they time.
    package func totals() throws -> [Key: (seconds: Double, count: Int)] {
        try read()
        return sums
    }

    private func read() throws {
        guard let newest = pending.last else { return }
        try device.wait(for: newest.end)  // one stream: every earlier event has completed too
        for p in pending {
            let s = try device.seconds(from: p.start, to: p.end)
            sums[p.key, default: (0, 0)].seconds += s
            sums[p.key, default: (0, 0)].count += 1
        }
        pending.removeAll(keepingCapacity: true)
    }
}

/// StepPhases' clock for a step queued on a CUDADevice: each mark records an event on its stream, and
/// a phase's time is the GPU's between the event that opens it and the one that closes it. With the
/// step launched operation by operation (not replayed from a graph), as `bench --phases` runs it.
package final class CUDAPhaseClock: StepPhases.Clock {
    private let device: CUDADevice
    private let intervals: CUDAIntervals<StepPhases.Phase>
    private var last: CUDAEvent?
    /// The first failure of a mark (which cannot throw), thrown by `seconds`.
    private var failure: Error?

    package init(device: CUDADevice) throws {
        self.device = device
        intervals = CUDAIntervals(device: device)
        last = try device.recordEvent()
    }

    package func end(_ phase: StepPhases.Phase) {
        guard failure == nil else { return }
        do {
            let now = try device.recordEvent()
            if let last { try intervals.add(phase, from: last, to: now) }
            last = now
        } catch {
            failure = error
        }
    }

    package func seconds() throws -> [StepPhases.Phase: Double] {
        if let failure { throw failure }
        let totals = try intervals.totals()
        return Dictionary(uniqueKeysWithValues: StepPhases.Phase.allCases.map { ($0, totals[$0]?.seconds ?? 0) })
    }
}
