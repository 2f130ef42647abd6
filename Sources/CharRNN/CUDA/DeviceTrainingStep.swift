/// One training step on a device, the twin of the CPU loop body in Training/Trainer.swift: loss and
/// gradients (DeviceModel), the global gradient norm and clipping (KernelSource.clipping), and the
/// optimizer update (KernelSource.optimizers) with its moments kept in device memory in the flat
/// layout. The trainer copies parameters, moments and the carried state to the host only to save them.
///
/// A step copies nothing to the host: its summed loss and squared gradient norm go to the next slot of
/// a log in device memory, and `readLog` brings every unread slot back in one wait, when the trainer
/// prints or records the loss (every --log-every steps) or the log is full.
public final class DeviceTrainingStep {
    public let model: DeviceModel
    public let update: OptimizerUpdate
    private let device: ComputeDevice
    private let first: DeviceBuffer, second: DeviceBuffer
    private let normPartial: DeviceBuffer
    /// [summed loss, squared norm] of each unread step, in order (doubles).
    private let log: DeviceBuffer
    private var unreadRows: [Int] = []
    /// Updates applied so far (Adam's bias correction), as Optimizer.step.
    public private(set) var updates = 0

    /// Steps whose loss and norm `readLog` can hold before it must be called.
    public static let logCapacity = 64
    /// Steps taken since the last readLog.
    public var unreadSteps: Int { unreadRows.count }
    public var logIsFull: Bool { unreadRows.count == Self.logCapacity }

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
        log = try DeviceBuffer(device, count: 2 * Self.logCapacity, elementSize: 8)
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

    /// Forward, backward, clipping and one update, queued on the device without waiting for them. The
    /// step's loss and gradient norm (before clipping) go to the log: call readLog before the log is full.
    public func step(_ inputs: [Int32], targets: [Int32], T: Int, B: Int, state: DeviceHiddenState, rng: inout RandomGenerator,
                     learningRate: Float, clipNorm: Float?, clipValue: Float?, categories: [Int32]? = nil) throws {
        precondition(!logIsFull, "readLog must be called before the log of losses is full")
        try model.lossAndGradients(inputs, targets: targets, T: T, B: B, state: state, rng: &rng, categories: categories)
        let slot = unreadRows.count
        let lossSum = log[offset: 2 * slot], normSquared = log[offset: 2 * slot + 1]
        try device.copy(from: model.lastLossSumPointer, to: lossSum, bytes: 8)
        let n = model.parameterCount, g = model.gradients.pointer
        let parts = min(DeviceModel.sumParts, n)
        try device.launch("sum_floats", threads: parts, [.long(n), .pointer(g), .int(1), .int(parts), .pointer(normPartial.pointer)])
        try device.launch("sum_doubles", threads: 1, [.long(parts), .pointer(normPartial.pointer), .int(1), .pointer(normSquared)])
        if let clipNorm {
            try device.launch("clip_norm", threads: n, [.long(n), .pointer(g), .pointer(normSquared), .float(clipNorm)])
        }
        if let clipValue { try device.launch("clip_value", threads: n, [.long(n), .pointer(g), .float(clipValue)]) }
        updates += 1
        let (kernel, arguments) = update.launch(step: updates, learningRate: learningRate, count: n, parameters: model.parameters.pointer,
                                                gradients: g, first: first.pointer, second: second.pointer)
        try device.launch(kernel, threads: n, arguments)
        unreadRows.append(T * B)
    }

    /// The mean loss and the gradient norm before clipping of every step since the last call, oldest
    /// first: one copy from the device, which waits for those steps to finish.
    public func readLog() throws -> [(loss: Double, norm: Double)] {
        guard !unreadRows.isEmpty else { return [] }
        let values = try device.downloadDoubles(log.pointer, count: 2 * unreadRows.count)
        defer { unreadRows.removeAll(keepingCapacity: true) }
        return unreadRows.enumerated().map { k, rows in (values[2 * k] / Double(rows), values[2 * k + 1].squareRoot()) }
    }
}
