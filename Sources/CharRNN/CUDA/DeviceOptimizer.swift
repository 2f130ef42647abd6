/// The optimizer on a device, the twin of Optimizers/Optimizer.swift with Optimizers/GradientClipping.swift:
/// the global gradient norm (KernelSource.reduction), clipping by norm or value (KernelSource.clipping) and
/// the update (KernelSource.optimizers), with the moments in device memory in the parameters' flat layout.
/// Shared by the language model's training step and the classifier's.
public final class DeviceOptimizer {
    public let update: OptimizerUpdate
    public let count: Int
    private let device: ComputeDevice
    private let first: DeviceBuffer, second: DeviceBuffer
    private let normPartial: DeviceBuffer
    /// The next update's learning rate and bias corrections (OptimizerUpdate.scalars), written by prepare.
    private let scalars: DeviceBuffer
    /// Updates applied so far (Adam's bias correction), as Optimizer.step.
    public private(set) var updates = 0

    /// `optimizer` gives the rule and its hyperparameters; the moments start at zero (see `upload`).
    public init(_ device: ComputeDevice, count: Int, optimizer: Optimizer) throws {
        self.device = device
        self.count = count
        update = OptimizerUpdate(optimizer: optimizer)
        first = try DeviceBuffer(device, count: count)
        second = try DeviceBuffer(device, count: optimizer.kind.hasSecondMoment ? count : 1)
        try first.zero()
        try second.zero()
        normPartial = try DeviceBuffer(device, count: DeviceModel.sumParts, elementSize: 8)
        scalars = try DeviceBuffer(device, count: 5)
    }

    /// The host optimizer's moments and step count onto the device (a fresh run or a resume).
    public func upload(_ optimizer: Optimizer) throws {
        try device.copy(to: first.pointer, from: optimizer.m.pointer, bytes: count * 4)
        if optimizer.kind.hasSecondMoment {
            try device.copy(to: second.pointer, from: optimizer.v.pointer, bytes: count * 4)
        }
        updates = optimizer.step
    }

    /// The device's moments and step count into the host optimizer, to save them.
    public func download(into optimizer: Optimizer) throws {
        let m = try device.downloadFloats(first.pointer, count: count)
        let v = optimizer.kind.hasSecondMoment ? try device.downloadFloats(second.pointer, count: count) : nil
        optimizer.restore(step: updates, m: m, v: v)
    }

    /// The squared norm of `gradients` into `normSquared` (one double in device memory), clipping, and
    /// one update of `parameters`; all queued, nothing read back.
    public func apply(parameters: DevicePointer, gradients g: DevicePointer, learningRate: Float, clipNorm: Float?,
                      clipValue: Float?, normSquared: DevicePointer) throws {
        try prepare(learningRate: learningRate)
        try queue(parameters: parameters, gradients: g, clipNorm: clipNorm, clipValue: clipValue, normSquared: normSquared)
    }

    /// The host's part of the next update: its learning rate and bias corrections copied to the device.
    public func prepare(learningRate: Float) throws {
        updates += 1
        try device.upload(update.scalars(step: updates, learningRate: learningRate), to: scalars.pointer)
    }

    /// The device's part, after prepare: the norm, clipping and the update, with nothing from the host,
    /// so it can be captured and replayed.
    public func queue(parameters: DevicePointer, gradients g: DevicePointer, clipNorm: Float?, clipValue: Float?,
                      normSquared: DevicePointer) throws {
        let n = count, parts = min(DeviceModel.sumParts, n)
        try device.launch("sum_floats", threads: parts, [.long(n), .pointer(g), .int(1), .int(parts), .pointer(normPartial.pointer)])
        try device.launch("sum_doubles", threads: 1, [.long(parts), .pointer(normPartial.pointer), .int(1), .pointer(normSquared)])
        if let clipNorm {
            try device.launch("clip_norm", threads: n, [.long(n), .pointer(g), .pointer(normSquared), .float(clipNorm)])
        }
        if let clipValue { try device.launch("clip_value", threads: n, [.long(n), .pointer(g), .float(clipValue)]) }
        let (kernel, arguments) = update.launch(count: n, parameters: parameters, gradients: g, first: first.pointer,
                                                second: second.pointer, scalars: scalars.pointer)
        try device.launch(kernel, threads: n, arguments)
    }
}
