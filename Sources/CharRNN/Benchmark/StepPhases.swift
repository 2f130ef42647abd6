/// Where a training step's time goes (`bench --phases`): the step's code marks each phase as it enters
/// it, and the time until the next mark is the phase's. On the CPU a mark reads the host's clock on the
/// calling thread (which waits for the workers of every split); for a step queued on a GPU it records
/// an event on the device's stream (CUDAPhaseClock), so the time is the GPU's. Off unless a benchmark
/// turns it on: a mark is then one branch.
package enum StepPhases {
    package enum Phase: Int, CaseIterable, Sendable {
        /// The embedding (or one-hot) input and, in the backward pass, the embedding's gradient.
        case input
        /// Every layer's forward steps, and dropout after each layer.
        case recurrentForward
        /// The logits, and in the backward pass the decoder's gradients and the gradient to the top layer.
        case decoder
        /// The softmax cross-entropy and its gradient.
        case loss
        /// Every layer's backward steps: the cells, the per-step products, dInput.
        case recurrentBackward
        /// Every layer's weight and bias gradients, all steps at once.
        case weightGradients
        /// Clipping and the optimizer's update.
        case update
        /// Everything else: batches, bookkeeping.
        case other

        package var name: String {
            switch self {
            case .input: return "input"
            case .recurrentForward: return "forward"
            case .decoder: return "decoder"
            case .loss: return "loss"
            case .recurrentBackward: return "backward"
            case .weightGradients: return "weight grads"
            case .update: return "update"
            case .other: return "other"
            }
        }
    }

    /// What marks are timed on.
    package protocol Clock: AnyObject {
        /// `phase`, current since the last mark, ends now.
        func end(_ phase: Phase)
        /// The seconds of each phase ended so far (on a device, once the work before the last mark has run).
        func seconds() throws -> [Phase: Double]
    }

    /// The host's monotonic clock, read at each mark.
    final class HostClock: Clock {
        private var totals = [Double](repeating: 0, count: Phase.allCases.count)
        private var since = monotonicSeconds()

        func end(_ phase: Phase) {
            let now = monotonicSeconds()
            totals[phase.rawValue] += now - since
            since = now
        }

        func seconds() -> [Phase: Double] {
            Dictionary(uniqueKeysWithValues: Phase.allCases.map { ($0, totals[$0.rawValue]) })
        }
    }

    nonisolated(unsafe) package private(set) static var enabled = false
    nonisolated(unsafe) private static var clock: Clock = HostClock()
    nonisolated(unsafe) private static var current = Phase.other

    /// The time since the last mark was the current phase's; `phase` starts now.
    @inline(__always)
    package static func mark(_ phase: Phase) {
        guard enabled else { return }
        clock.end(current)
        current = phase
    }

    /// Starts timing from zero, in phase `other`, on `clock` (nil: the host's).
    package static func start(clock: Clock? = nil) {
        self.clock = clock ?? HostClock()
        current = .other
        enabled = true
    }

    /// Stops timing; the seconds of each phase since `start`.
    package static func stop() throws -> [Phase: Double] {
        mark(.other)
        enabled = false
        return try clock.seconds()
    }
}
