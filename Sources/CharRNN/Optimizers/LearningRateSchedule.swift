#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum LRScheduleKind: String, Codable, Sendable, CaseIterable {
    /// The same rate throughout.
    case constant
    /// Multiplied by --lr-decay every --lr-decay-every updates (torch.optim.lr_scheduler.StepLR).
    case step
    /// Half a cosine from the rate down to 0 over the run (CosineAnnealingLR, eta_min 0); a run bounded
    /// by time alone follows the share of its --max-time spent.
    case cosine
    /// Multiplied by --lr-decay when validation has not improved for more than --lr-patience
    /// evaluations (ReduceLROnPlateau); see PlateauState. --lr-patience with constant is the same, and
    /// with cosine multiplies the cosine's rate by the same reductions.
    case plateau
}

/// The learning rate of each update, a function of the update's number alone, so a resumed run uses
/// the rates an uninterrupted one would. With warmup W, updates 0..<W ramp linearly from rate/W
/// (LinearLR with start_factor 1/W, total_iters W) and the schedule starts after them (SequentialLR).
/// Two exceptions. Cosine in a run whose length is known only in seconds: no update count can say
/// where such a run is, so the rate follows the training seconds spent (kept across a resume), and
/// ends near 0 when the time is up however fast the machine is. And plateau, whose rate is the base
/// times --lr-decay to the number of reductions validation has called for so far (PlateauState, kept
/// in the train state); warmup, or a cosine given --lr-patience too, then scales that rate.
package struct LearningRateSchedule: Sendable, Equatable {
    public var base: Double
    public var kind: LRScheduleKind
    public var decay: Double = 1
    public var decayEvery: Int = 1
    public var warmup: Int = 0
    /// Updates in the whole run (cosine needs it, or `totalSeconds`).
    public var total: Int? = nil
    /// Training seconds in the whole run, for cosine when `total` is unknown.
    public var totalSeconds: Double? = nil
    /// Whether validation reduces the rate (PlateauState): always for plateau, and for constant or
    /// cosine given --lr-patience.
    public var reducesOnPlateau = false

    public init(base: Double, kind: LRScheduleKind, decay: Double = 1, decayEvery: Int = 1, warmup: Int = 0, total: Int? = nil,
                totalSeconds: Double? = nil, reducesOnPlateau: Bool = false) {
        self.base = base; self.kind = kind; self.decay = decay; self.decayEvery = decayEvery
        self.warmup = warmup; self.total = total; self.totalSeconds = totalSeconds
        self.reducesOnPlateau = reducesOnPlateau || kind == .plateau
    }

    /// The rate of update `s` (0-based: the first update is 0), taken after `seconds` of training and
    /// `reductions` reductions on a plateau.
    public func rate(update s: Int, seconds: Double = 0, reductions: Int = 0) -> Double {
        let base = reducesOnPlateau ? plateauRate(reductions: reductions) : self.base
        if warmup > 0 && s < warmup {
            let start = 1 / Double(warmup)
            return base * (start + (1 - start) * Double(s) / Double(warmup))
        }
        let t = s - warmup
        switch kind {
        case .constant, .plateau:
            return base
        case .step:
            return base * pow(decay, Double(t / max(decayEvery, 1)))
        case .cosine:
            if total == nil, let totalSeconds, totalSeconds > 0 {
                let spent = min(max(seconds / totalSeconds, 0), 1)
                return base * (1 + cos(Double.pi * spent)) / 2
            }
            let span = max((total ?? s + 1) - warmup, 1)
            return base * (1 + cos(Double.pi * Double(min(t, span)) / Double(span))) / 2
        }
    }

    /// The rate before warmup and cosine after `reductions` reductions on a plateau.
    func plateauRate(reductions: Int) -> Double { base * pow(decay, Double(reductions)) }
}

/// ReduceLROnPlateau's bookkeeping with PyTorch's defaults but factor and patience (mode min,
/// threshold 1e-4 relative, cooldown 0, min_lr 0, eps 1e-8): a validation loss below best * (1 - 1e-4)
/// is an improvement; the evaluation after more than `patience` without one reduces the rate and
/// starts the count again; a reduction smaller than 1e-8 is not made. Kept in the train state, so a
/// resumed run reduces where an uninterrupted one would. Its best is its own: the early stop's is any
/// decrease at all.
package struct PlateauState: Codable, Sendable, Equatable {
    public var best: Double? = nil
    public var evaluationsWithoutImprovement = 0
    public var reductions = 0

    public static let threshold = 1e-4
    public static let smallestReduction = 1e-8

    public init() {}

    /// Records one validation loss; returns whether the rate was reduced.
    @discardableResult
    public mutating func record(_ loss: Double, patience: Int, schedule: LearningRateSchedule) -> Bool {
        if loss < (best ?? .infinity) * (1 - Self.threshold) {
            best = loss
            evaluationsWithoutImprovement = 0
        } else {
            evaluationsWithoutImprovement += 1
        }
        guard evaluationsWithoutImprovement > patience else { return false }
        evaluationsWithoutImprovement = 0
        let now = schedule.plateauRate(reductions: reductions)
        guard now - schedule.plateauRate(reductions: reductions + 1) > Self.smallestReduction else { return false }
        reductions += 1
        return true
    }
}
