/// One piece of captured device work (a CUDA graph) kept for replay, as DeviceGenerator keeps a chunk of
/// generation and DeviceTrainingStep a training step. The work names buffers by address, so it is valid
/// while its key (what it baked in besides addresses) is the same and no buffer has been freed since it
/// was captured. It is captured only after the same work was launched step by step with nothing moved
/// since (every workspace then has its size, so the capture allocates nothing). A capture that fails
/// is not tried again: the caller launches the work itself.
struct CapturedWorkCache<Key: Equatable> {
    private var kept: (key: Key, freeCount: Int, work: CapturedWork)?
    private var lastLaunched: (key: Key, freeCount: Int)?
    /// False: never capture (set by the caller, or because the device does not capture).
    var enabled = true
    /// Why a capture failed, if one did.
    private(set) var failure: String?
    /// Times the work ran from a captured graph.
    private(set) var replays = 0

    /// Runs `body`'s work for `key`: replayed from the kept (or a newly captured) graph where it may be,
    /// else launched step by step and noted as launched.
    mutating func run(_ key: Key, on device: ComputeDevice, _ body: () throws -> Void) throws {
        if let work = work(for: key, on: device, body) {
            try device.replay(work)
            replays += 1
        } else {
            try body()
            launched(key, on: device)
        }
    }

    /// Notes that the work for `key` was just launched step by step.
    mutating func launched(_ key: Key, on device: ComputeDevice) {
        lastLaunched = (key, device.freeCount)
    }

    /// The work to replay for `key`: the kept work while it is valid, else `body` captured now if it may
    /// be; nil: launch it step by step.
    private mutating func work(for key: Key, on device: ComputeDevice, _ body: () throws -> Void) -> CapturedWork? {
        guard enabled else { return nil }
        if let kept, kept.key == key, kept.freeCount == device.freeCount { return kept.work }
        kept = nil
        guard failure == nil, let lastLaunched, lastLaunched.key == key, lastLaunched.freeCount == device.freeCount else {
            return nil
        }
        do {
            guard let work = try device.capture(body) else {
                enabled = false
                return nil
            }
            kept = (key, device.freeCount, work)
            return work
        } catch {
            failure = "\(error)"
            return nil
        }
    }
}
