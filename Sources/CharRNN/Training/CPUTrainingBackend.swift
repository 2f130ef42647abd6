/// The training step on the CPU: the model's forward and backward through BLAS and the C kernels, then
/// clipping and the update on the host. Data-parallel, each rank takes its streams of the batch and MPI
/// averages the gradient.
final class CPUTrainingBackend: TrainingBackend {
    let model: CharRNNModel
    let optimizer: Optimizer
    let average: WeightAverage?
    let hidden: HiddenState
    let share: RankShare?
    let clipNorm: Double?, clipValue: Double?
    private var localInputs: [Int32] = [], localTargets: [Int32] = []

    init(model: CharRNNModel, optimizer: Optimizer, average: WeightAverage?, hidden: HiddenState, share: RankShare?,
         options: TrainingOptions) {
        self.model = model; self.optimizer = optimizer; self.average = average; self.hidden = hidden; self.share = share
        clipNorm = options.clipNorm; clipValue = options.clipValue
        if let share {
            localInputs = [Int32](repeating: 0, count: share.batch * options.seqLength)
            localTargets = localInputs
        }
    }

    var deviceName: String? { nil }
    var graphFailure: String? { nil }
    var mustReadLosses: Bool { false }
    func prepareRun() throws {}
    func unreadLosses() throws -> [(loss: Double, norm: Double)] { [] }
    func loadFromHost() throws {}
    func storeToHost() throws {}

    func step(_ batch: TrainingData.Batch, learningRate: Double, rng: inout RandomGenerator,
              beforeUpdate: (_ loss: Double, _ norm: Double) throws -> Void,
              agreement: (() -> [Double])?) throws -> [Double]? {
        let loss: Double, norm: Double
        var agreed: [Double]? = nil
        if let share {
            (loss, norm, agreed) = try dataParallelGradients(batch, share: share, rng: &rng, agreement: agreement ?? { [] })
        } else {
            // Names mode: every batch is fresh lines from the zero state, of its own size.
            let recurrent = batch.B == hidden.batch ? hidden : model.hiddenState(batch: batch.B)
            if batch.reset { recurrent.reset() }
            loss = batch.inputs.withUnsafeBufferPointer { x in
                batch.targets.withUnsafeBufferPointer { y in
                    model.lossAndGradients(x.baseAddress!, targets: y.baseAddress!, T: batch.T, B: batch.B,
                                           state: recurrent, rng: &rng, categories: batch.categories)
                }
            }
            norm = clipNorm.map { GradientClipping.clipGlobalNorm(model.gradients, maxNorm: Float($0)) }
                ?? GradientClipping.norm(model.gradients)
        }
        // A diverged step is refused before its update.
        try beforeUpdate(loss, norm)
        if let c = clipValue { GradientClipping.clipValue(model.gradients, value: Float(c)) }
        optimizer.update(parameters: model.parameters, gradients: model.gradients, learningRate: Float(learningRate))
        average?.update(from: model.parameters)
        model.thaw()
        return agreed
    }

    /// This rank's share of the step: its streams' loss and gradient, then the average over all ranks'
    /// (one all-reduce of the flat gradient), clipped by the global norm as one process would. The ranks
    /// agree on the mean loss, rank 0's gradient norm (so that every rank clips alike, whatever its thread
    /// count) and `agreement`'s values in one sum.
    private func dataParallelGradients(_ batch: TrainingData.Batch, share: RankShare, rng: inout RandomGenerator,
                                       agreement: () -> [Double]) throws -> (loss: Double, norm: Double, [Double]) {
        share.slice(batch.inputs, T: batch.T, into: &localInputs)
        share.slice(batch.targets, T: batch.T, into: &localTargets)
        if batch.reset { hidden.reset() }
        var masks = share.maskGenerator(drawingFrom: &rng)
        let local = localInputs.withUnsafeBufferPointer { x in
            localTargets.withUnsafeBufferPointer { y in
                model.lossAndGradients(x.baseAddress!, targets: y.baseAddress!, T: batch.T, B: share.batch, state: hidden, rng: &masks)
            }
        }
        try share.average(model.gradients)
        let norm = share.ranks.isLeader ? GradientClipping.norm(model.gradients) : 0
        let agreed = try share.ranks.sum([local / Double(share.ranks.size), norm] + agreement())
        if let c = clipNorm { GradientClipping.scale(model.gradients, norm: agreed[1], maxNorm: Float(c)) }
        return (agreed[0], agreed[1], Array(agreed[2...]))
    }

    func validationLoss(_ data: TrainingData, batch: Int, chunk: Int, check: () throws -> Void) throws -> LossReport? {
        try model.withParameters(averagedBy: average) {
            try data.validationLoss(model: model, batch: batch, chunk: chunk, check: check)
        }
    }
}
