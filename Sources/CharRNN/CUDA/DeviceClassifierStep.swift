/// A classifier's training step on a GPU: the batch's forward, loss, backward and update are queued
/// there, and each batch's loss stays in device memory until the epoch ends (one copy an epoch).
struct DeviceClassifierStep: ClassifierStep {
    let model: DeviceClassifierModel
    let hostModel: ClassifierModel
    let optimizer: DeviceOptimizer
    let options: ClassifierOptions
    let weights: [Float]?
    private let losses: DeviceBuffer, norm: DeviceBuffer

    init(_ device: ComputeDevice, model hostModel: ClassifierModel, optimizer: Optimizer, options: ClassifierOptions, weights: [Float]?) throws {
        model = try DeviceClassifierModel(config: hostModel.config, device: device)
        try model.setParameters(hostModel.parameters)
        self.hostModel = hostModel
        self.optimizer = try DeviceOptimizer(device, count: hostModel.parameterCount, optimizer: optimizer)
        self.options = options
        self.weights = weights
        losses = try DeviceBuffer(device, count: 0, elementSize: 8)
        norm = try DeviceBuffer(device, count: 1, elementSize: 8)
    }

    func startEpoch(batches: Int) throws { try losses.reserve(batches) }

    func step(ids: [Int32], T: Int, B: Int, labels: [Int32], batch k: Int, rng: inout RandomGenerator) throws -> Double? {
        try model.forward(ids, T: T, B: B, dropout: options.dropout, rng: &rng)
        try model.lossAndGradients(labels: labels, weights: weights, lossOut: losses[offset: k])
        try optimizer.apply(parameters: model.parameters.pointer, gradients: model.gradients.pointer,
                            learningRate: Float(options.learningRate), clipNorm: options.clipNorm.map { Float($0) },
                            clipValue: nil, normSquared: norm.pointer)
        return nil
    }

    func finishEpoch(batches: Int) throws -> [Double] {
        let values = try model.device.downloadDoubles(losses.pointer, count: batches)
        try model.copyParameters(into: hostModel.parameters)
        return values
    }
}
