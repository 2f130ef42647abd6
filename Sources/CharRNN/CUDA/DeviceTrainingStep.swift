/// One training step on a device, the twin of the CPU loop body in Training/Trainer.swift: loss and
/// gradients (DeviceModel), the global gradient norm and clipping (KernelSource.clipping), and the
/// optimizer update (KernelSource.optimizers) with its moments kept in device memory in the flat
/// layout. The trainer copies parameters, moments and the carried state to the host only to save them.
public final class DeviceTrainingStep {
    public let model: DeviceModel
    public let update: OptimizerUpdate
    private let device: ComputeDevice
    private let first: DeviceBuffer, second: DeviceBuffer
    private let normPartial: DeviceBuffer, normSquared: DeviceBuffer
    /// Updates applied so far (Adam's bias correction), as Optimizer.step.
    public private(set) var updates = 0

    /// `optimizer` gives the rule and its hyperparameters (its moments are uploaded by `upload`).
    public init(model: DeviceModel, optimizer: Optimizer) throws {
        self.model = model
        device = model.device
        update = OptimizerUpdate(optimizer: optimizer)
        first = try DeviceBuffer(device, count: model.parameterCount)
        second = try DeviceBuffer(device, count: optimizer.kind.hasSecondMoment ? model.parameterCount : 1)
        try first.zero()
        try second.zero()
        normPartial = try DeviceBuffer(device, count: DeviceModel.sumParts, elementSize: 8)
        normSquared = try DeviceBuffer(device, count: 1, elementSize: 8)
    }

    /// The host's parameters, optimizer moments and step count onto the device (a fresh run or a resume).
    public func upload(parameters: FloatBuffer, optimizer: Optimizer) throws {
        try model.setParameters(parameters)
        try device.copy(to: first.pointer, from: optimizer.m.pointer, bytes: model.parameterCount * 4)
        if optimizer.kind.hasSecondMoment {
            try device.copy(to: second.pointer, from: optimizer.v.pointer, bytes: model.parameterCount * 4)
        }
        updates = optimizer.step
    }

    /// The device's parameters and moments into the host's buffers, to save them.
    public func download(parameters: FloatBuffer, optimizer: Optimizer) throws {
        let n = model.parameterCount
        try device.copy(from: model.parameters.pointer, to: parameters.pointer, bytes: n * 4)
        let m = try device.downloadFloats(first.pointer, count: n)
        let v = optimizer.kind.hasSecondMoment ? try device.downloadFloats(second.pointer, count: n) : nil
        optimizer.restore(step: updates, m: m, v: v)
    }

    /// Forward, backward, clipping and one update. Returns the mean loss and the gradient norm before
    /// clipping, read back from the device (the trainer checks them for divergence).
    public func step(_ inputs: [Int32], targets: [Int32], T: Int, B: Int, state: DeviceHiddenState, rng: inout RandomGenerator,
                     learningRate: Float, clipNorm: Float?, clipValue: Float?) throws -> (loss: Double, norm: Double) {
        try model.lossAndGradients(inputs, targets: targets, T: T, B: B, state: state, rng: &rng)
        let n = model.parameterCount, g = model.gradients.pointer
        let parts = min(DeviceModel.sumParts, n)
        try device.launch("sum_floats", threads: parts, [.long(n), .pointer(g), .int(1), .int(parts), .pointer(normPartial.pointer)])
        try device.launch("sum_doubles", threads: 1, [.long(parts), .pointer(normPartial.pointer), .int(1), .pointer(normSquared.pointer)])
        if let clipNorm {
            try device.launch("clip_norm", threads: n, [.long(n), .pointer(g), .pointer(normSquared.pointer), .float(clipNorm)])
        }
        if let clipValue { try device.launch("clip_value", threads: n, [.long(n), .pointer(g), .float(clipValue)]) }
        updates += 1
        let (kernel, arguments) = update.launch(step: updates, learningRate: learningRate, count: n, parameters: model.parameters.pointer,
                                                gradients: g, first: first.pointer, second: second.pointer)
        try device.launch(kernel, threads: n, arguments)
        let loss = try model.lastLossSum() / Double(T * B)
        let norm = try device.downloadDoubles(normSquared.pointer, count: 1)[0].squareRoot()
        return (loss, norm)
    }
}
