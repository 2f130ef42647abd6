/// Where a CPU training step's time goes (`bench --phases`): the step's code marks each phase as it
/// enters it, on the calling thread (which waits for the workers of every split), and the time until
/// the next mark is the phase's. Off unless a benchmark turns it on: a mark is then one branch.
public enum StepPhases {
    public enum Phase: Int, CaseIterable, Sendable {
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

        public var name: String {
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

    nonisolated(unsafe) public private(set) static var enabled = false
    nonisolated(unsafe) private static var seconds = [Double](repeating: 0, count: Phase.allCases.count)
    nonisolated(unsafe) private static var current = Phase.other
    nonisolated(unsafe) private static var since = 0.0

    /// The time since the last mark was the current phase's; `phase` starts now.
    @inline(__always)
    public static func mark(_ phase: Phase) {
        guard enabled else { return }
        let now = monotonicSeconds()
        seconds[current.rawValue] += now - since
        current = phase
        since = now
    }

    /// Starts timing from zero, in phase `other`.
    public static func start() {
        seconds = [Double](repeating: 0, count: Phase.allCases.count)
        current = .other
        since = monotonicSeconds()
        enabled = true
    }

    /// Stops timing; the seconds of each phase since `start`.
    public static func stop() -> [Phase: Double] {
        mark(.other)
        enabled = false
        return Dictionary(uniqueKeysWithValues: Phase.allCases.map { ($0, seconds[$0.rawValue]) })
    }
}
