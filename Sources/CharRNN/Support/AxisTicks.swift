import Foundation

/// Tick marks a reader can read at a glance: multiples of 1, 2 or 5 times a power of ten, about
/// `target` of them over a range.
package struct AxisTicks: Sendable, Equatable {
    /// The range snapped out to whole steps (the axis's ends are ticks).
    package let lower: Double, upper: Double
    package let step: Double
    package var values: [Double] {
        let n = Int(((upper - lower) / step).rounded())
        return (0...max(n, 0)).map { lower + Double($0) * step }
    }
    /// Digits after the point that show every tick exactly (0 for steps of 1 and up).
    package var decimals: Int { max(0, Int(-log10(step).rounded(.down))) }

    package init(from low: Double, to high: Double, target: Int = 5) {
        // A single value gets a little room on each side.
        let pad = high > low ? 0 : Swift.max(abs(low), 1) * 0.05
        let low = low - pad, high = high + pad
        let span = high - low
        let raw = span / Double(max(target, 1))
        let magnitude = pow(10, log10(raw).rounded(.down))
        let unit: Double
        switch raw / magnitude {
        case ..<1.5: unit = 1
        case ..<3: unit = 2
        case ..<7: unit = 5
        default: unit = 10
        }
        step = unit * magnitude
        // A hair inside, so that a bound on a tick (floating-point division) stays on it.
        lower = ((low / step) + 1e-9).rounded(.down) * step
        upper = Swift.max(((high / step) - 1e-9).rounded(.up) * step, lower + step)
    }

    package func label(_ value: Double) -> String { fmt(value, decimals) }
}
