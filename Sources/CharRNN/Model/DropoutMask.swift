import CCharRNNKernels

/// Dropout masks from a counter-based generator (crn_dropout_mask, the CPU twin of the GPU's
/// dropout_mask kernel): each mask takes one seed from the run's generator, and element i is a hash of
/// (seed, i % period). The threads share out a mask's elements, and a seed gives the same mask on
/// either device, so a run with dropout draws the same masks on the CPU and on a GPU.
package enum DropoutMask {
    /// mask[0..<count] = 0 with probability p, else 1/(1-p) (as F.dropout scales), from `seed`; the
    /// values repeat every `period` elements (one mask for every step of variational dropout).
    package static func draw(_ mask: UnsafeMutablePointer<Float>, count: Int, p: Double, seed: UInt64, period: Int? = nil) {
        let p32 = Float(p), keep = Float(1 / (1 - p)), period = min(period ?? count, count)
        Parallel.forRanges(period) { r in
            crn_dropout_mask(Int64(r.lowerBound), Int64(r.upperBound), mask, p32, keep, seed, Int64(period))
        }
        // The rest repeats the first period: copied, which costs less than hashing every step's values again.
        guard count > period else { return }
        Parallel.forRanges(count - period) { r in
            var i = period + r.lowerBound
            let end = period + r.upperBound
            while i < end {
                let j = i % period, run = min(end - i, period - j)
                (mask + i).update(from: mask + j, count: run)
                i += run
            }
        }
    }

    /// y = x * mask, elementwise (y may be x), split over the threads.
    package static func apply(_ x: UnsafePointer<Float>, _ mask: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forRanges(count) { r in crn_mul(x + r.lowerBound, mask + r.lowerBound, y + r.lowerBound, r.count) }
    }
}

/// The seeds of one training forward's masks, drawn from the run's generator in one order: each layer's
/// weight drop, the embedding's, each layer's dropout, and only those that are on. CharRNNModel and
/// DeviceModel both take them from here, so the same generator gives both the same masks.
struct MaskSeeds {
    /// 2L + 1 words in that order; 0 where a mask is off.
    let words: [UInt64]

    init(words: [UInt64]) { self.words = words }

    /// nil when nothing drops (and nothing is drawn).
    init?(config: ModelConfig, regularization: CharRNNModel.Regularization, rng: inout RandomGenerator) {
        let L = config.layers
        var words = [UInt64](repeating: 0, count: 2 * L + 1), drawn = false
        if regularization.weightDrop > 0 {
            for l in 0..<L { words[Self.weightDropSlot(layer: l)] = rng.next() }
            drawn = true
        }
        if regularization.embedDropout > 0 && config.embed > 0 {
            words[Self.embeddingSlot(layers: L)] = rng.next()
            drawn = true
        }
        if config.dropout > 0 {
            for l in 0..<L { words[Self.dropoutSlot(layer: l, layers: L)] = rng.next() }
            drawn = true
        }
        guard drawn else { return nil }
        self.words = words
    }

    /// Where each seed sits in `words` (the GPU reads them from device memory there).
    static func weightDropSlot(layer l: Int) -> Int { l }
    static func embeddingSlot(layers: Int) -> Int { layers }
    static func dropoutSlot(layer l: Int, layers: Int) -> Int { layers + 1 + l }
}
