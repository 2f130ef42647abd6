/// One piece of captured device work (a CUDA graph) kept for replay, as DeviceGenerator keeps a chunk of
/// generation and DeviceTrainingStep a training step. The work names buffers by address, so it is valid
/// while its key (what it baked in besides addresses) is the same and no buffer has been freed since it
/// was captured. A capture that fails is not tried again: the caller launches the work itself.
struct CapturedWorkCache<Key: Equatable> {
    private var kept: (key: Key, freeCount: Int, work: CapturedWork)?
    /// False: never capture (set by the caller, or because the device does not capture).
    var enabled = true
    /// Why a capture failed, if one did.
    private(set) var failure: String?

    /// The work kept for `key`, if it is still valid; otherwise it is dropped.
    mutating func valid(_ key: Key, on device: ComputeDevice) -> CapturedWork? {
        if let kept, kept.key == key, kept.freeCount == device.freeCount { return kept.work }
        kept = nil
        return nil
    }

    /// `body` captured and kept under `key`; nil where capturing is off or fails (the failure is kept).
    mutating func capture(_ key: Key, on device: ComputeDevice, _ body: () throws -> Void) -> CapturedWork? {
        guard enabled, failure == nil else { return nil }
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
