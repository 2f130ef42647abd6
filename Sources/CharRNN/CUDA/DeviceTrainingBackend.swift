/// The training step on a GPU: the whole step, clipping and the update included, queued on the device
/// (DeviceTrainingStep), with the parameters, the optimizer's moments and the carried state in its
/// memory. Its losses and gradient norms wait in the device's log until they are read. Data-parallel,
/// each rank takes its streams of the batch and NCCL averages the gradient in the step.
final class DeviceTrainingBackend: TrainingBackend {
    let training: DeviceTrainingStep
    let hidden: DeviceHiddenState
    /// The host's copies, which a save is made of.
    let hostModel: CharRNNModel, hostOptimizer: Optimizer, hostAverage: WeightAverage?, hostHidden: HiddenState
    let share: RankShare?
    let clipNorm: Float?, clipValue: Float?
    private var localInputs: [Int32] = [], localTargets: [Int32] = []

    init(device: ComputeDevice, config: ModelConfig, options: TrainingOptions, model: CharRNNModel, optimizer: Optimizer,
         average: WeightAverage?, hidden: HiddenState, share: RankShare?) throws {
        let deviceModel = try DeviceModel(config: config, device: device)
        deviceModel.regularization = options.regularization
        training = try DeviceTrainingStep(model: deviceModel, optimizer: optimizer)
        self.hidden = try deviceModel.hiddenState(batch: hidden.batch)
        hostModel = model; hostOptimizer = optimizer; hostAverage = average; hostHidden = hidden; self.share = share
        clipNorm = options.clipNorm.map { Float($0) }; clipValue = options.clipValue.map { Float($0) }
        if let share {
            localInputs = [Int32](repeating: 0, count: share.batch * options.seqLength)
            localTargets = localInputs
        }
    }

    var deviceName: String? { training.model.device.name }
    var graphFailure: String? { training.graphFailure }
    var mustReadLosses: Bool { training.logIsFull }

    func prepareRun() throws {
        if let share, training.exchange == nil, let cuda = training.model.device as? CUDADevice {
            training.exchange = try DeviceGradientExchange(ranks: share.ranks, device: cuda)
        }
    }

    func step(_ batch: TrainingData.Batch, learningRate: Double, rng: inout RandomGenerator,
              beforeUpdate: (_ loss: Double, _ norm: Double) throws -> Void,
              agreement: (() -> [Double])?) throws -> [Double]? {
        let B = share?.batch ?? batch.B
        let recurrent = B == hidden.batch ? hidden : try training.model.hiddenState(batch: B)
        if batch.reset { try recurrent.reset() }
        func queue(_ x: [Int32], _ y: [Int32], _ generator: inout RandomGenerator) throws {
            try training.step(x, targets: y, T: batch.T, B: B, state: recurrent, rng: &generator, learningRate: Float(learningRate),
                              clipNorm: clipNorm, clipValue: clipValue, categories: batch.categories)
        }
        guard let share else {
            let rows = batch.T * B
            try queue(Array(batch.inputs.prefix(rows)), Array(batch.targets.prefix(rows)), &rng)
            return nil
        }
        share.slice(batch.inputs, T: batch.T, into: &localInputs)
        share.slice(batch.targets, T: batch.T, into: &localTargets)
        var masks = share.maskGenerator(drawingFrom: &rng)
        try queue(localInputs, localTargets, &masks)
        return try share.ranks.sum(agreement?() ?? [])
    }

    func unreadLosses() throws -> [(loss: Double, norm: Double)] {
        training.unreadSteps > 0 ? try training.readLog() : []
    }

    func validationLoss(_ data: TrainingData, batch: Int, chunk: Int, check: () throws -> Void) throws -> LossReport? {
        // The parameters are swapped back even when validation stops (Ctrl-C), before its error.
        try training.swapAverage()
        let outcome = Result { try data.validationLoss(model: training.model, batch: batch, chunk: chunk, check: check) }
        try training.swapAverage()
        return try outcome.get()
    }

    func loadFromHost() throws {
        try training.upload(parameters: hostModel.parameters, optimizer: hostOptimizer)
        if let hostAverage { try training.average(hostAverage) }
        try hidden.load(hostHidden.flattened)
    }

    func storeToHost() throws {
        try training.download(parameters: hostModel.parameters, optimizer: hostOptimizer)
        hostHidden.load(try hidden.flattened())
        hostModel.thaw()
    }
}
