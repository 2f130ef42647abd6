/// One training step on a device, the twin of the CPU loop body in Training/Trainer.swift: loss and
/// gradients (DeviceModel), then the norm, clipping and update of DeviceOptimizer with its moments kept
/// in device memory in the flat layout. The trainer copies parameters, moments and the carried state to
/// the host only to save them.
///
/// A step copies nothing to the host: its summed loss and squared gradient norm go to the next slot of
/// a log in device memory, and `readLog` brings every unread slot back in one wait, when the trainer
/// prints or records the loss (every --log-every steps) or the log is full.
///
/// A step is a host part (the batch, the dropout seeds, the update's learning rate and the log slot
/// copied to the device) and a device part of some hundreds of launches and products (four per layer
/// and time step), whose launching costs more than the work in a small model. The device part is
/// captured once as a CUDA graph and then replayed with one launch per step, as DeviceGenerator does
/// for generation: captured after a step of the same shape has run step by step (so every workspace
/// has its size), again when a buffer has moved, and never again once a capture fails.
package final class DeviceTrainingStep {
    package let model: DeviceModel
    package let optimizer: DeviceOptimizer
    private let device: ComputeDevice
    /// [summed loss, squared norm] of each unread step, in order (doubles).
    private let log: DeviceBuffer
    /// The log row of the step being taken (an int) and its squared gradient norm (a double).
    private let slot: DeviceBuffer, normSquared: DeviceBuffer
    private var unreadRows: [Int] = []
    /// Replay captured steps where the device can capture (false: launch everything every step).
    package var useGraphs: Bool {
        get { graphs.enabled }
        set { graphs.enabled = newValue }
    }
    /// Why capturing a step failed, if it did.
    package var graphFailure: String? { graphs.failure }
    /// Steps run from a captured graph so far.
    package var replayedSteps: Int { graphs.replays }
    private var graphs = CapturedWorkCache<StepKey>()
    /// `--ema`: the average of the parameters (WeightAverage's twin) and the next update's weight (a
    /// float written by each step's host part), with the decay and updates counted on the host.
    private var average: (values: DeviceBuffer, weight: DeviceBuffer, host: WeightAverage)?
    /// Data-parallel over NCCL: each step's gradient is the mean of the ranks', and its loss their sum,
    /// before the norm and the update (so every rank takes the same update).
    var exchange: DeviceGradientExchange?

    /// What a captured step bakes in besides the buffers' addresses.
    private struct StepKey: Equatable {
        let T: Int, B: Int, state: ObjectIdentifier, clipNorm: Float?, clipValue: Float?, averaging: Bool
    }

    /// Steps whose loss and norm `readLog` can hold before it must be called.
    package static let logCapacity = 64
    /// Steps taken since the last readLog.
    package var unreadSteps: Int { unreadRows.count }
    package var logIsFull: Bool { unreadRows.count == Self.logCapacity }

    /// `optimizer` gives the rule and its hyperparameters (its moments are uploaded by `upload`).
    package init(model: DeviceModel, optimizer: Optimizer) throws {
        self.model = model
        device = model.device
        self.optimizer = try DeviceOptimizer(device, count: model.parameterCount, optimizer: optimizer)
        log = try DeviceBuffer(device, count: 2 * Self.logCapacity, elementSize: 8)
        slot = try DeviceBuffer(device, count: 1, elementSize: 4)
        normSquared = try DeviceBuffer(device, count: 1, elementSize: 8)
    }

    /// The host's parameters, optimizer moments and step count onto the device (a fresh run or a resume).
    package func upload(parameters: FloatBuffer, optimizer host: Optimizer) throws {
        try model.setParameters(parameters)
        try optimizer.upload(host)
    }

    /// The device's parameters and moments into the host's buffers, to save them.
    package func download(parameters: FloatBuffer, optimizer host: Optimizer) throws {
        try device.copy(from: model.parameters.pointer, to: parameters.pointer, bytes: model.parameterCount * 4)
        try optimizer.download(into: host)
        if let average {
            try device.copy(from: average.values.pointer, to: average.host.values.pointer, bytes: model.parameterCount * 4)
        }
    }

    /// From now on each step also updates `host`'s average, kept on the device (its values uploaded
    /// now, its updates counted on the host) and brought back by `download`.
    package func average(_ host: WeightAverage) throws {
        let values = try DeviceBuffer(device, count: model.parameterCount)
        try device.copy(to: values.pointer, from: host.values.pointer, bytes: model.parameterCount * 4)
        average = (values, try DeviceBuffer(device, count: 1), host)
    }

    /// Exchanges the parameters with their average (and back, called twice): validation runs on the average.
    package func swapAverage() throws {
        guard let average else { return }
        let n = model.parameterCount
        try device.swapFloats(threads: n, n: n, a: model.parameters.pointer, b: average.values.pointer)
    }

    /// Forward, backward, clipping and one update, queued on the device without waiting for them. The
    /// step's loss and gradient norm (before clipping) go to the log: call readLog before the log is full.
    package func step(_ inputs: [Int32], targets: [Int32], T: Int, B: Int, state: DeviceHiddenState, rng: inout RandomGenerator,
                     learningRate: Float, clipNorm: Float?, clipValue: Float?, categories: [Int32]? = nil) throws {
        precondition(!logIsFull, "readLog must be called before the log of losses is full")
        precondition(inputs.count == T * B, "batch shape does not match")
        try model.prepareStep(inputs, targets: targets, rng: &rng, categories: categories)
        try optimizer.prepare(learningRate: learningRate)
        try device.upload([Int32(unreadRows.count)], to: slot.pointer)
        if let average {
            try device.upload([average.host.nextWeight], to: average.weight.pointer)
            average.host.updates += 1
        }
        let key = StepKey(T: T, B: B, state: ObjectIdentifier(state), clipNorm: clipNorm, clipValue: clipValue,
                          averaging: average != nil)
        try graphs.run(key, on: device) { try queueStep(key, state: state) }
        unreadRows.append(T * B * (exchange?.ranks.size ?? 1))
    }

    /// The device part of a step, after its host part: nothing from or to the host.
    private func queueStep(_ key: StepKey, state: DeviceHiddenState) throws {
        try model.queueLossAndGradients(T: key.T, B: key.B, state: state)
        try exchange?.queue(gradients: model.gradients.pointer, count: model.parameterCount, lossSum: model.lastLossSumPointer)
        StepPhases.mark(.update)
        try optimizer.queue(parameters: model.parameters.pointer, gradients: model.gradients.pointer, clipNorm: key.clipNorm,
                            clipValue: key.clipValue, normSquared: normSquared.pointer)
        if let average {
            let n = model.parameterCount
            try device.lerpToward(threads: n, n: n, a: average.values.pointer, p: model.parameters.pointer,
                                  weight: average.weight.pointer)
        }
        try device.logStep(threads: 1, loss: model.lastLossSumPointer, normSquared: normSquared.pointer, slot: slot.pointer,
                           log: log.pointer)
        StepPhases.mark(.other)
    }

    /// The mean loss and the gradient norm before clipping of every step since the last call, oldest
    /// first: one copy from the device, which waits for those steps to finish.
    package func readLog() throws -> [(loss: Double, norm: Double)] {
        guard !unreadRows.isEmpty else { return [] }
        let values = try device.downloadDoubles(log.pointer, count: 2 * unreadRows.count)
        defer { unreadRows.removeAll(keepingCapacity: true) }
        return unreadRows.enumerated().map { k, rows in (values[2 * k] / Double(rows), values[2 * k + 1].squareRoot()) }
    }
}
