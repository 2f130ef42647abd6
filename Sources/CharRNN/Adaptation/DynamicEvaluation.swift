import CCharRNNKernels

/// Dynamic evaluation (Krause et al. 2018, "Dynamic Evaluation of Neural Sequence Models"): the text is
/// read as one stream in segments; each segment is scored with the weights as they are, then the
/// model takes one gradient step on that segment's mean loss, so what it has just read shapes how it
/// predicts what follows. A character is always scored before any step that has seen it.
///
/// The step is the paper's RMS-normalised one with decay toward the trained weights p0:
///     p <- p + decay * (p0 - p) - lr * g / (rms + epsilon * mean(rms))
///     decay = min(1, lambda * rms / mean(rms))
/// where rms is each parameter's gradient RMS on training text (GradientStatistics). Epsilon is
/// relative to the mean RMS, so no setting depends on the scale of the loss.
package struct DynamicEvaluation {
    package struct Settings: Sendable, Equatable {
        /// Characters per segment: the model steps after each.
        package var segment: Int
        /// lr: the step size, in units of the gradient's RMS.
        package var learningRate: Double
        /// lambda: how strongly each step pulls the weights back toward the trained ones.
        package var decay: Double
        /// Added to each RMS, as a fraction of the mean RMS (rarely seen parameters do not step wildly).
        package var epsilon: Double

        /// Tuned on the first half of tiny Shakespeare's validation split with the small preset's model
        /// (docs/adaptation.md has the grid).
        package static let standard = Settings(segment: 50, learningRate: 1e-3, decay: 1e-2, epsilon: 0.02)

        package init(segment: Int, learningRate: Double, decay: Double, epsilon: Double) {
            self.segment = segment; self.learningRate = learningRate; self.decay = decay; self.epsilon = epsilon
        }

        package func validate() throws {
            guard segment >= 1 else { throw CharRNNError.invalidOption("the dynamic evaluation segment must be at least 1 character (got \(segment))") }
            guard learningRate.isFinite, learningRate > 0 else {
                throw CharRNNError.invalidOption("the dynamic evaluation learning rate must be above 0 (got \(learningRate))")
            }
            guard decay.isFinite, decay >= 0 else { throw CharRNNError.invalidOption("the dynamic evaluation decay must be 0 or more (got \(decay))") }
            guard epsilon.isFinite, epsilon > 0 else { throw CharRNNError.invalidOption("the dynamic evaluation epsilon must be above 0 (got \(epsilon))") }
        }
    }

    package let statistics: GradientStatistics
    package let settings: Settings

    package init(statistics: GradientStatistics, settings: Settings = .standard) throws {
        try settings.validate()
        self.statistics = statistics
        self.settings = settings
    }

    /// The loss of predicting ids[i+1] from ids[...i] over the whole text, adapting as it reads; with
    /// `characterLogprobs`, each of those characters' log-probabilities too (as Evaluation's). The
    /// model's parameters are the trained ones again afterwards.
    package func evaluate(_ model: CharRNNModel, ids: [Int32], characterLogprobs: Bool = false,
                         check: () throws -> Void = {}) throws -> (report: LossReport, logprobs: [Float]) {
        let trained = model.parameters.array
        defer {
            trained.withUnsafeBufferPointer { model.parameters.pointer.update(from: $0.baseAddress!, count: trained.count) }
            model.thaw()
        }
        let state = model.hiddenState(batch: 1)
        return try read(ids, into: model, state: state, from: trained, characterLogprobs: characterLogprobs,
                        check: check)
    }

    /// Reads `ids` from `state` and leaves the model adapted to them and the state after them (`sample
    /// --adapt`: the prime shapes the weights that then generate). Returns the prime's mean loss.
    @discardableResult
    package func adapt(_ model: CharRNNModel, to ids: [Int32], state: HiddenState, check: () throws -> Void = {}) throws -> LossReport {
        let trained = model.parameters.array
        return try read(ids, into: model, state: state, from: trained, characterLogprobs: false,
                        check: check).report
    }

    private func read(_ ids: [Int32], into model: CharRNNModel, state: HiddenState, from trained: [Float],
                      characterLogprobs: Bool, check: () throws -> Void) throws -> (report: LossReport, logprobs: [Float]) {
        let n = model.parameterCount
        guard statistics.rms.count == n else {
            throw CharRNNError.invalidOption("the gradient statistics are of another model (\(statistics.rms.count) parameters, this one has \(n))")
        }
        guard ids.count >= 2 else { return (LossReport(nats: .nan, characters: 0), []) }
        let mean = max(statistics.meanRMS, .leastNormalMagnitude)
        let decay = statistics.rms.map { min(1, Float(settings.decay) * $0 / mean) }
        let lr = Float(settings.learningRate), eps = Float(settings.epsilon) * mean
        let V = model.config.vocabSize
        var rng = RandomGenerator(seed: 0)
        var logprobs: [Float] = []
        if characterLogprobs { logprobs.reserveCapacity(ids.count - 1) }
        var total = 0.0, pos = 0
        model.thaw()
        while pos < ids.count - 1 {
            try check()
            let T = min(settings.segment, ids.count - 1 - pos)
            let inputs = Array(ids[pos..<pos + T]), targets = Array(ids[pos + 1...pos + T])
            try inputs.withUnsafeBufferPointer { x in
                try targets.withUnsafeBufferPointer { y in
                    let logits = model.forward(x.baseAddress!, T: T, B: 1, state: state, training: false, rng: &rng)
                    if characterLogprobs {
                        for t in 0..<T { logprobs.append(Sampler.logProbabilities(logits: logits + t * V, count: V)[Int(targets[t])]) }
                    }
                    // The segment is scored (the loss kernel reads the logits) before its gradient exists.
                    total += model.softmaxCrossEntropy(rows: T, targets: y.baseAddress!, scale: 1 / Float(T), gradient: true)
                    guard total.isFinite else {
                        throw CharRNNError.invalidOption("dynamic evaluation diverged at character \(pos + 1): lower the learning rate")
                    }
                    model.backwardFromLogitGradients(x.baseAddress!, T: T, B: 1)
                }
            }
            trained.withUnsafeBufferPointer { p0 in
                statistics.rms.withUnsafeBufferPointer { rms in
                    decay.withUnsafeBufferPointer { d in
                        crn_dynamic_update(n, model.parameters.pointer, model.gradients.pointer, p0.baseAddress!,
                                           rms.baseAddress!, d.baseAddress!, lr, eps)
                    }
                }
            }
            pos += T
        }
        return (LossReport(nats: total / Double(ids.count - 1), characters: ids.count - 1), logprobs)
    }
}
