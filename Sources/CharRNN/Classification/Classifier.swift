import Foundation

/// What predictions need from a classifier: one checkpoint, or an ensemble of checkpoints trained on
/// the same split. Prior correction, ranking and decisions are written once, here.
package protocol Classifier {
    var info: ClassifierInfo { get }
    /// log p(c | x) for each item, before any prior correction.
    func modelLogProbabilities(_ items: [String]) throws -> [[Float]]
}

extension Classifier {
    /// Bytes the forward passes of one classification of `items` hold at their peak: items of one
    /// length go through together, up to `ClassifierCheckpoint.itemsPerPass` at a time, and the longest
    /// such pass decides (passes run one after another). nil when it is beyond counting.
    package func classificationBytes(_ items: [String]) -> Int? {
        var itemsOfLength: [Int: Int] = [:]
        var total = 0, longest = 0
        for item in items {
            let n = item.unicodeScalars.count
            itemsOfLength[n, default: 0] += 1
            total += n
            longest = max(longest, n)
        }
        var peak = 0
        for (T, n) in itemsOfLength {
            guard let bytes = ClassifierCheckpoint.passBytes(info.config, T: max(T, 1), B: min(n, ClassifierCheckpoint.itemsPerPass))
            else { return nil }
            peak = max(peak, bytes)
        }
        // Beside the passes: every item's ids and text, and the normalisation of one item (Unicode
        // decomposition), measured at about 1.1 KB a character (2,000,000 characters: 2.2 GB).
        return MemoryEstimate.sum([peak, MemoryEstimate.product([total, 16]), MemoryEstimate.product([longest, 1152])])
    }

    /// Refuses, in one sentence naming the cost, a classification that would need more than `limit`
    /// bytes (nil: this machine's memory). Returns the estimate.
    @discardableResult
    package func checkClassificationMemory(_ items: [String], limit: Int? = nil, limitName: String? = nil) throws -> Int? {
        let bytes = classificationBytes(items)
        let longest = items.map { $0.unicodeScalars.count }.max() ?? 0
        let what = items.count == 1 ? "classifying an item of \(longest) characters"
            : "classifying \(items.count) items (the longest \(longest) characters)"
        guard let limit else {
            try MemoryEstimate.check(bytes, what: what)
            return bytes
        }
        guard let bytes, bytes <= limit else {
            throw CharRNNError.invalidOption("\(what) would need about \(bytes.map(MemoryEstimate.describe) ?? "more than can be counted") "
                                             + "of memory, above \(limitName ?? "the limit") of \(MemoryEstimate.describe(limit)); send shorter items")
        }
        return bytes
    }

    /// The prior correction τ to use: the one given, else the checkpoint's default, else 0. Checks
    /// that it lies in [0, 1] and that the classifier records the training counts it needs.
    package func priorCorrection(_ given: Double?) throws -> Double {
        let tau = given ?? info.priorCorrection ?? 0
        try ClassifierInfo.checkPriorCorrection(tau)
        guard tau == 0 || info.trainingCounts != nil else {
            throw CharRNNError.invalidOption("this classifier does not record its training counts, so it cannot correct for priors")
        }
        return tau
    }

    /// log π(c) of the training split (counts smoothed by 1); nil when the checkpoint does not record them.
    package var logPriors: [Float]? {
        info.trainingCounts.map { counts in
            let total = Float(counts.reduce(0, +) + counts.count)
            return counts.map { log((Float($0) + 1) / total) }
        }
    }

    /// log p(c | x) - τ log π(c), renormalised, for each item; π(c) is the category's share of the
    /// training items. τ = 0 is the model as trained, the choice with the highest expected accuracy;
    /// τ = 1 divides the priors out, as if every category were equally common, the choice with the
    /// highest expected balanced accuracy ("logit adjustment"); values between trade one for the
    /// other. `priorCorrection` nil uses the checkpoint's default.
    package func logProbabilities(_ items: [String], priorCorrection: Double? = nil) throws -> [[Float]] {
        let tau = try self.priorCorrection(priorCorrection)
        let rows = try modelLogProbabilities(items)
        guard tau > 0, let priors = logPriors else { return rows }
        return rows.map { row in Self.logSoftmax(row.indices.map { row[$0] - Float(tau) * priors[$0] }) }
    }

    /// Top-k categories with probabilities for each item.
    package func predict(_ items: [String], top k: Int, priorCorrection: Double? = nil) throws -> [[(category: String, probability: Float)]] {
        try logProbabilities(items, priorCorrection: priorCorrection).map { row in
            row.enumerated().sorted { $0.element > $1.element }.prefix(k).map { (info.categories[$0.offset], exp($0.element)) }
        }
    }

    /// Predicted category of each item.
    package func classify(_ items: [LabelledData.Item], priorCorrection: Double? = nil) throws -> [Int] {
        try logProbabilities(items.map(\.text), priorCorrection: priorCorrection).map { decide($0, priorCorrection: 0) }
    }

    /// The category chosen from uncorrected log-probabilities under prior correction τ, as
    /// `logProbabilities(_:priorCorrection: τ)` would rank it first; lets one forward pass serve many τ.
    package func decide(_ logProbabilities: [Float], priorCorrection tau: Double) -> Int {
        let priors = tau > 0 ? logPriors : nil
        var best = 0, bestScore = -Float.infinity
        for (c, lp) in logProbabilities.enumerated() {
            let score = lp - Float(tau) * (priors?[c] ?? 0)
            if score > bestScore { best = c; bestScore = score }
        }
        return best
    }

    static func logSoftmax(_ row: [Float]) -> [Float] {
        let top = row.max() ?? 0
        let logSum = log(row.reduce(0) { $0 + exp($1 - top) }) + top
        return row.map { $0 - logSum }
    }
}
