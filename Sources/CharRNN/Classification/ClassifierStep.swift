/// One classifier's training step on the device it trains on, so that ClassifierTrainer's epoch is one
/// loop: the CPU's (ClassifierModel, BLAS and the C kernels) or a GPU's (DeviceClassifierStep).
protocol ClassifierStep {
    /// Before an epoch of `batches` batches.
    func startEpoch(batches: Int) throws
    /// Forward, loss, backward and update for batch `k`; its mean loss where the device has it at once
    /// (the CPU, which then skips the update of a loss that is not finite), nil where it stays on the
    /// device until finishEpoch.
    func step(ids: [Int32], T: Int, B: Int, labels: [Int32], batch k: Int, rng: inout RandomGenerator) throws -> Double?
    /// After the epoch: the losses that stayed on the device, in batch order (none on the CPU), with
    /// the weights copied back to the checkpoint's model.
    func finishEpoch(batches: Int) throws -> [Double]
}

struct CPUClassifierStep: ClassifierStep {
    let model: ClassifierModel
    let optimizer: Optimizer
    let options: ClassifierOptions
    let weights: [Float]?

    func startEpoch(batches: Int) {}

    func step(ids: [Int32], T: Int, B: Int, labels: [Int32], batch k: Int, rng: inout RandomGenerator) -> Double? {
        model.forward(ids, T: T, B: B, dropout: options.dropout, rng: &rng)
        let loss = model.lossAndGradients(labels: labels, weights: weights)
        guard loss.isFinite else { return loss }
        if let c = options.clipNorm { GradientClipping.clipGlobalNorm(model.gradients, maxNorm: Float(c)) }
        optimizer.update(parameters: model.parameters, gradients: model.gradients, learningRate: Float(options.learningRate))
        return loss
    }

    func finishEpoch(batches: Int) -> [Double] { [] }
}
