#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The optimizer on a device, the twin of Optimizers/Optimizer.swift with Optimizers/GradientClipping.swift:
/// the global gradient norm (KernelSource.reduction), clipping by norm or value (KernelSource.clipping) and
/// the update (KernelSource.optimizers), with the moments in device memory in the parameters' flat layout.
/// Shared by the language model's training step and the classifier's.
package final class DeviceOptimizer {
    package let update: OptimizerUpdate
    package let count: Int
    private let device: ComputeDevice
    private let first: DeviceBuffer, second: DeviceBuffer
    private let normPartial: DeviceBuffer
    /// The next update's learning rate and bias corrections (OptimizerUpdate.scalars), written by prepare.
    private let scalars: DeviceBuffer
    /// Updates applied so far (Adam's bias correction), as Optimizer.step.
    package private(set) var updates = 0

    /// `optimizer` gives the rule and its hyperparameters; the moments start at zero (see `upload`).
    package init(_ device: ComputeDevice, count: Int, optimizer: Optimizer) throws {
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
        try device.upload(update.scalars(step: updates, learningRate: learningRate), to: scalars.pointer)
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
        try update.queue(on: device, count: n, parameters: parameters, gradients: g, first: first.pointer,
                         second: second.pointer, scalars: scalars.pointer)
    }
}

/// One optimizer step as a launch of the matching kernel of KernelSource.optimizers, with the scalars
/// the CPU optimizer derives from its step number.
package struct OptimizerUpdate: Sendable {
    package let kind: OptimizerKind
    package let momentum: Float, beta1: Float, beta2: Float, epsilon: Float, alpha: Float, weightDecay: Float

    package init(optimizer o: Optimizer) {
        kind = o.kind; momentum = o.momentum; beta1 = o.beta1; beta2 = o.beta2; epsilon = o.epsilon
        alpha = o.alpha; weightDecay = o.weightDecay
    }

    static func kernelName(_ kind: OptimizerKind, momentum: Float) -> String {
        switch kind {
        case .sgd: return momentum == 0 ? "sgd_update" : "sgd_momentum_update"
        case .adam, .adamw: return "adam_update"
        case .rmsprop: return "rmsprop_update"
        case .adagrad: return "adagrad_update"
        }
    }

    /// The per-update values the update kernels read from device memory (KernelSource.optimizers) for
    /// update number `step` (1 for the first): [lr, step_size, bc2_root, shrink, first].
    package func scalars(step: Int, learningRate lr: Float) -> [Float] {
        let bc1 = 1 - powf(beta1, Float(step)), bc2 = 1 - powf(beta2, Float(step))
        let shrink: Float = kind == .adamw ? 1 - lr * weightDecay : 1
        return [lr, lr / bc1, bc2.squareRoot(), shrink, step == 1 ? 1 : 0]
    }

    /// Queues the update of `n` parameters on `device`, its scalars read from `scalars` in device memory.
    func queue(on device: ComputeDevice, count n: Int, parameters p: DevicePointer, gradients g: DevicePointer,
               first m: DevicePointer, second v: DevicePointer, scalars s: DevicePointer) throws {
        switch kind {
        case .sgd where momentum == 0:
            try device.sgdUpdate(threads: n, n: n, p: p, g: g, s: s)
        case .sgd:
            try device.sgdMomentumUpdate(threads: n, n: n, p: p, g: g, m: m, s: s, mu: momentum)
        case .adam, .adamw:
            try device.adamUpdate(threads: n, n: n, p: p, g: g, m: m, v: v, b1: beta1, b2: beta2, eps: epsilon, s: s)
        case .rmsprop:
            try device.rmspropUpdate(threads: n, n: n, p: p, g: g, m: m, s: s, alpha: alpha, eps: epsilon)
        case .adagrad:
            try device.adagradUpdate(threads: n, n: n, p: p, g: g, m: m, s: s, eps: epsilon)
        }
    }
}
