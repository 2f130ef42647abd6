/// One training step on the device that holds the model: forward and backward over a batch, clipping,
/// the optimizer's update and the weight average. The trainer is one loop over a backend:
/// `CPUTrainingBackend` (BLAS and the C kernels) or `DeviceTrainingBackend` (a GPU's products and
/// kernels). The host's model, optimizer and carried state are what a save is made of.
protocol TrainingBackend: AnyObject {
    /// The GPU's name, or nil on the CPU.
    var deviceName: String? { get }
    /// Why the steps could not be captured as a CUDA graph, if they could not.
    var graphFailure: String? { get }

    /// Set-up that needs every rank of a data-parallel run started (a collective).
    func prepareRun() throws

    /// One update from `batch`. `beforeUpdate` gets the step's loss and gradient norm before the update
    /// where they are known then (the CPU; it may refuse the step by throwing); a device keeps them in a
    /// log that `unreadLosses` reads. Data-parallel: the ranks sum `agreement`'s values in the step (with
    /// the gradient, where the backend can), and the sums are returned; nil in one process.
    func step(_ batch: TrainingData.Batch, learningRate: Double, rng: inout RandomGenerator,
              beforeUpdate: (_ loss: Double, _ norm: Double) throws -> Void,
              agreement: (() -> [Double])?) throws -> [Double]?

    /// The losses and gradient norms of the steps taken whose figures were not given to `beforeUpdate`,
    /// oldest first (a device's log; it waits for them).
    func unreadLosses() throws -> [(loss: Double, norm: Double)]
    /// The unread losses must be read before the next step (a device's log is full).
    var mustReadLosses: Bool { get }

    /// The loss on the validation part, of the parameters' average with --ema.
    func validationLoss(_ data: TrainingData, batch: Int, chunk: Int, check: () throws -> Void) throws -> LossReport?

    /// The host's parameters, optimizer state, average and carried state, once initialised or restored,
    /// to where the steps run.
    func loadFromHost() throws
    /// The parameters, optimizer state, average and carried state back into the host's buffers.
    func storeToHost() throws
}

extension CharRNNModel {
    /// Runs `body` with the parameters exchanged for their average (--ema), then exchanges them back.
    func withParameters<R>(averagedBy average: WeightAverage?, _ body: () throws -> R) rethrows -> R {
        guard let average else { return try body() }
        average.swap(with: parameters)
        thaw()
        defer { average.swap(with: parameters); thaw() }
        return try body()
    }
}

extension RankShare {
    /// This rank's generator for a step's dropout masks. The same draw on every rank keeps the shared
    /// generator (the batches') in step; the rank mixed in gives each rank its own masks.
    func maskGenerator(drawingFrom rng: inout RandomGenerator) -> RandomGenerator {
        RandomGenerator(seed: rng.next() ^ (UInt64(ranks.rank) &* 0x9E37_79B9_7F4A_7C15))
    }
}
