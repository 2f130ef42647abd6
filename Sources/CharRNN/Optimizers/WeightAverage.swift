/// An exponential moving average of the parameters (`--ema DECAY`), as
/// torch.optim.swa_utils.AveragedModel with get_ema_multi_avg_fn(decay): the first update copies the
/// parameters, each later one moves the average toward them by 1 - decay (torch.lerp, written as one
/// fused multiply-add so that the CPU and the device's `lerp_toward` make the same floats).
/// Validation, the samples and the saved models (latest, best) are the average's; training goes on
/// from the raw parameters, and the train state keeps both. A running average of the weights smooths
/// the noise a high learning rate leaves in them, which a held-out loss pays for.
package final class WeightAverage {
    package let decay: Double
    /// The average, in the parameters' flat layout.
    package let values: FloatBuffer
    /// Updates averaged so far (AveragedModel's n_averaged).
    package var updates: Int

    package init(decay: Double, count: Int, updates: Int = 0) {
        self.decay = decay
        values = FloatBuffer(count: count)
        self.updates = updates
    }

    /// The weight of the next update: 1 for the first (a copy), then 1 - decay.
    package var nextWeight: Float { updates == 0 ? 1 : Float(1 - decay) }

    /// One update from the parameters after an optimizer step, split over the threads as the optimizer's
    /// update is (it runs every step, over every parameter).
    package func update(from parameters: FloatBuffer) {
        precondition(parameters.count >= values.count, "the average and the parameters differ in size")
        let w = nextWeight, v = values.pointer, p = parameters.pointer
        Parallel.forRanges(values.count) { r in
            if w == 1 {
                (v + r.lowerBound).update(from: p + r.lowerBound, count: r.count)
            } else {
                for i in r { v[i] = v[i].addingProduct(w, p[i] - v[i]) }
            }
        }
        updates += 1
    }

    /// Exchanges the average's values with the parameters' (and back again, called twice).
    package func swap(with parameters: FloatBuffer) {
        precondition(parameters.count >= values.count, "the average and the parameters differ in size")
        let v = values.pointer, p = parameters.pointer
        for i in 0..<values.count { let t = v[i]; v[i] = p[i]; p[i] = t }
    }
}
