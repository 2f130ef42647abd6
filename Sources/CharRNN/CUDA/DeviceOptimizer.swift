/// The optimizer on a device, the twin of Optimizers/Optimizer.swift with Optimizers/GradientClipping.swift:
/// the global gradient norm (KernelSource.reduction), clipping by norm or value (KernelSource.clipping) and
/// the update (the optimizer's UpdateRule), with the moments in device memory in the parameters' flat layout.
/// Shared by the language model's training step and the classifier's.
package final class DeviceOptimizer {
    let rule: any UpdateRule
    let scalarValues: UpdateScalars
    package let count: Int
    private let device: ComputeDevice
    private let first: DeviceBuffer, second: DeviceBuffer
    private let normPartial: DeviceBuffer
    /// The next update's learning rate and bias corrections (UpdateScalars), written by prepare.
    private let scalars: DeviceBuffer
    /// Updates applied so far (Adam's bias correction), as Optimizer.step.
    package private(set) var updates = 0

    /// `optimizer` gives the rule and its hyperparameters; the moments start at zero (see `upload`).
    package init(_ device: ComputeDevice, count: Int, optimizer: Optimizer) throws {
        self.device = device
        self.count = count
        rule = optimizer.kind.rule.init(optimizer)
        scalarValues = UpdateScalars(optimizer)
        first = try DeviceBuffer(device, count: count)
        second = try DeviceBuffer(device, count: optimizer.kind.hasSecondMoment ? count : 1)
        try first.zero()
        try second.zero()
        normPartial = try DeviceBuffer(device, count: DeviceModel.sumParts, elementSize: 8)
        scalars = try DeviceBuffer(device, count: 5)
    }

    /// The host optimizer's moments and step count onto the device (a fresh run or a resume).
    package func upload(_ optimizer: Optimizer) throws {
        try device.copy(to: first.pointer, from: optimizer.m.pointer, bytes: count * 4)
        if optimizer.kind.hasSecondMoment {
            try device.copy(to: second.pointer, from: optimizer.v.pointer, bytes: count * 4)
        }
        updates = optimizer.step
    }

    /// The device's moments and step count into the host optimizer, to save them.
    package func download(into optimizer: Optimizer) throws {
        let m = try device.downloadFloats(first.pointer, count: count)
        let v = optimizer.kind.hasSecondMoment ? try device.downloadFloats(second.pointer, count: count) : nil
        optimizer.restore(step: updates, m: m, v: v)
    }

    /// The squared norm of `gradients` into `normSquared` (one double in device memory), clipping, and
    /// one update of `parameters`; all queued, nothing read back.
    package func apply(parameters: DevicePointer, gradients g: DevicePointer, learningRate: Float, clipNorm: Float?,
                      clipValue: Float?, normSquared: DevicePointer) throws {
        try prepare(learningRate: learningRate)
        try queue(parameters: parameters, gradients: g, clipNorm: clipNorm, clipValue: clipValue, normSquared: normSquared)
    }

    /// The host's part of the next update: its learning rate and bias corrections copied to the device.
    package func prepare(learningRate: Float) throws {
        updates += 1
        try device.upload(scalarValues.values(step: updates, learningRate: learningRate), to: scalars.pointer)
    }

    /// The device's part, after prepare: the norm, clipping and the update, with nothing from the host,
    /// so it can be captured and replayed.
    package func queue(parameters: DevicePointer, gradients g: DevicePointer, clipNorm: Float?, clipValue: Float?,
                      normSquared: DevicePointer) throws {
        let n = count, parts = min(DeviceModel.sumParts, n)
        try device.sumFloats(threads: parts, n: n, x: g, square: 1, parts: parts, out: normPartial.pointer)
        try device.sumDoubles(threads: 1, n: parts, x: normPartial.pointer, parts: 1, out: normSquared)
        if let clipNorm {
            try device.clipNorm(threads: n, n: n, g: g, sumSquares: normSquared, maxNorm: clipNorm)
        }
        if let clipValue { try device.clipValue(threads: n, n: n, g: g, v: clipValue) }
        try rule.queue(on: device, count: n, p: parameters, g: g, m: first.pointer, v: second.pointer, scalars: scalars.pointer)
    }
}
