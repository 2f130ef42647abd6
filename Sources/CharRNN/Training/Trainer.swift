import CCharRNNKernels
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct TrainingProgress: Sendable {
    public var step: Int
    public var maxSteps: Int?
    public var epoch: Double
    public var smoothedLoss: Double
    public var lastValidationLoss: Double?
    public var learningRate: Double
    public var charactersPerSecond: Double
    /// Seconds left, when a step, epoch or time limit says when the run ends.
    public var etaSeconds: Double?
}

public enum TrainingEvent {
    case started(parameters: Int, vocabulary: Int, trainCharacters: Int, validationCharacters: Int, resumedAt: Int?)
    case progress(TrainingProgress)
    /// `reducedRate`: validation stalled and the learning rate was reduced (--lr-schedule plateau,
    /// --lr-patience); the rate of the next update.
    case evaluated(step: Int, validation: LossReport?, sample: String, improved: Bool, reducedRate: Double? = nil)
}

public enum TrainingOutcome: Sendable { case finished, interrupted }

/// Ctrl-C (or SIGTERM) arrived in the middle of a validation.
struct Interrupted: Error {}

public struct TrainingResult: Sendable {
    public var outcome: TrainingOutcome
    public var step: Int
    public var smoothedLoss: Double
    public var validation: LossReport?
    public var bestValidationLoss: Double?
    /// The step whose model best.safetensors holds.
    public var bestStep: Int?
    /// --early-stop ended the run: validation had not improved for that many evaluations.
    public var stoppedEarly: Bool
    public var charactersPerSecond: Double
    public var directory: String
}

/// Truncated backpropagation through time over minibatches, with validation, checkpoints and an
/// exact resume. Files in the output folder: latest.safetensors, best.safetensors (lowest validation
/// loss), train-state.safetensors (for --resume), loss.csv and loss.svg, committed together as one
/// CheckpointSet (checkpoint.json), under a DirectoryLock for as long as the trainer lives.
public final class Trainer {
    public private(set) var options: TrainingOptions
    package private(set) var data: TrainingData
    package let model: CharRNNModel
    let optimizer: Optimizer
    /// --ema: the average of the parameters that validation, the samples and the saved models use.
    let average: WeightAverage?
    let hidden: HiddenState
    /// Where the steps run. On a GPU, the model, optimizer and state above hold the device's values
    /// only while saving.
    let backend: TrainingBackend
    /// The device's name, or nil on the CPU.
    public var deviceName: String? { backend.deviceName }
    /// Why the GPU's steps could not be captured as a CUDA graph, if they could not (they were then
    /// launched one by one: the same numbers, more slowly).
    public var graphFailure: String? { backend.graphFailure }
    var rng: RandomGenerator
    let startCharacter: Unicode.Scalar
    var state: TrainState
    private var inputs: [Int32]
    private var targets: [Int32]
    /// Locked for as long as the trainer lives; rank 0 alone writes to it.
    private let runFolder: TrainingRunFolder
    /// A data-parallel run (mpirun): this rank's share of the batch; nil in one process.
    let share: RankShare?
    /// Rank 0 of a data-parallel run, or the only process: the one that validates, reports and saves.
    public var isLeader: Bool { share?.ranks.isLeader ?? true }
    /// The length of the learning-rate schedule, from --max-steps or --max-epochs.
    private let totalUpdates: Int?

    public var directory: String { options.outputDirectory }
    private var folder: FilePath { FilePath(directory) }
    /// The caller's stop condition for the current run.
    private var stopRequested: () -> Bool = { false }
    public var latestPath: String { folder.appending("latest.safetensors").string }
    public var bestPath: String { folder.appending("best.safetensors").string }
    public var statePath: String { folder.appending("train-state.safetensors").string }
    public var step: Int { state.step }
    /// Seconds of training so far, those of the runs this one resumes included (what --max-time counts).
    public var trainingSeconds: Double { state.trainingSeconds }

    struct Resume {
        var loaded: TrainState.Loaded
        /// nil on a rank other than 0.
        var folder: TrainingRunFolder?
    }

    /// A fresh run. `device` overrides options.device (the tests' emulated device). A folder that
    /// already holds a run is refused unless `replacing` (--overwrite): a new run never silently
    /// takes the place of one a user made. Files a run does not save are never touched.
    package convenience init(options: TrainingOptions, device: ComputeDevice? = nil, replacing: Bool = false, ranks: RankGroup? = nil) throws {
        try options.validate()
        try self.init(options: options, data: try TrainingData.load(options), resume: nil, device: device, replacing: replacing,
                      ranks: ranks)
    }

    /// A fresh run that starts from `fineTuning`'s weights (--init-from): the model's shape is the
    /// checkpoint's, whatever `options` says of it, and the vocabulary grows by the new text's characters.
    package convenience init(options: TrainingOptions, fineTuning: FineTuning, device: ComputeDevice? = nil, replacing: Bool = false,
                            ranks: RankGroup? = nil) throws {
        var options = options
        let c = fineTuning.config
        options.cell = c.cell; options.layers = c.layers; options.hidden = c.hidden; options.embed = c.embed
        options.initFrom = fineTuning.source
        try options.validate()
        let vocabulary = try fineTuning.vocabulary(withTextAt: options.textPath)
        try self.init(options: options, data: try TrainingData.load(options, vocabulary: vocabulary), resume: nil, device: device,
                      replacing: replacing, fineTuning: fineTuning, ranks: ranks)
    }

    /// Continues the run saved in `directory`. `override` may change how long it runs and how often it
    /// reports; options that change the trajectory are kept as saved. In a data-parallel run every rank
    /// reads the same folder (on a file system they share); rank 0 alone takes its lock.
    package convenience init(resumeFrom directory: String, device: ComputeDevice? = nil, ranks: RankGroup? = nil,
                            override: (inout TrainingOptions) throws -> Void = { _ in }) throws {
        let folder = FilePath(directory)
        let path = folder.appending("train-state.safetensors")
        let noState = CharRNNError.badCheckpoint(directory, "no train-state.safetensors to resume from")
        guard FileKind(folder, followingLinks: true) == .directory else { throw noState }
        // Under the lock, finish or forget a save that a kill interrupted, before reading the state.
        let runFolder = (ranks?.isLeader ?? true) ? try TrainingRunFolder.resumed(folder) : nil
        guard FileKind(path, followingLinks: true) == .regular else { throw noState }
        let loaded = try TrainState.load(path.string)
        var options = loaded.state.options
        options.outputDirectory = directory
        let saved = options
        try override(&options)
        options.cell = saved.cell; options.layers = saved.layers; options.hidden = saved.hidden
        options.embed = saved.embed; options.seqLength = saved.seqLength; options.batchSize = saved.batchSize
        try options.validate()
        options.names = saved.names
        let scalars = loaded.state.vocabulary.compactMap { $0.unicodeScalars.first }
        if !FilePath(options.textPath).isAbsolute && FileKind(FilePath(options.textPath), followingLinks: true) == .missing {
            // Runs saved before paths were stored absolute name their text from where they started.
            throw CharRNNError.invalidOption("this run's text, \(options.textPath), is not found from here (the run names it relative to "
                                             + "the folder it was started in); give it: charrnn train TEXT --resume \(directory)")
        }
        let data = try TrainingData.load(options, vocabulary: Vocabulary(scalars: scalars))
        options.textPath = AbsolutePath.of(options.textPath)
        guard String(data.fingerprint) == loaded.state.corpusFingerprint else {
            throw CharRNNError.invalidOption("\(options.textPath) is not the text this run was trained on; resume with the same file")
        }
        try self.init(options: options, data: data,
                      resume: Resume(loaded: loaded, folder: runFolder), device: device, ranks: ranks)
    }

    init(options: TrainingOptions, data: TrainingData, resume: Resume?, device: ComputeDevice?, replacing: Bool = false,
         fineTuning: FineTuning? = nil, ranks: RankGroup? = nil) throws {
        var options = options
        if resume == nil { options.textPath = AbsolutePath.of(options.textPath) }
        self.options = options
        self.data = data
        startCharacter = data.start
        totalUpdates = try RunLimits.totalUpdates(options, batchesPerEpoch: data.batchesPerEpoch)
        var config = options.modelConfig(vocabSize: data.vocabulary.count)
        config.categories = data.categoryNames?.count ?? 0
        try config.validate()
        // Before anything is written: a GPU that is not there leaves no folder behind.
        var choice = try DeviceChoice(parsing: options.device ?? "cpu")
        if let ranks { choice = choice.forRank(localRank: ranks.localRank) }
        let computeDevice = try device ?? choice.open(precision: options.precision ?? "fp32")
        if let ranks {
            if data.names {
                throw CharRNNError.invalidOption("names mode trains in one process (its batches are a few short lines); "
                                                 + "data-parallel training is for a continuous text")
            }
            if let computeDevice {
                guard computeDevice is CUDADevice else {
                    throw CharRNNError.invalidOption("data-parallel training runs on the CPU or on CUDA GPUs, not on \(computeDevice.name)")
                }
                _ = try NCCL.shared()  // found here, so that a missing NCCL is one line from rank 0
            }
            share = try RankShare(ranks: ranks, globalBatch: options.batchSize)
        } else {
            share = nil
        }
        let T = data.longestSequence, B = options.batchSize / (ranks?.size ?? 1)
        try MemoryEstimate.check(MemoryEstimate.training(config, T: T, B: B),
                                 what: "training a \(config.layers)x\(config.hidden) \(config.cell.rawValue) on \(B) x \(T) characters per step",
                                 on: computeDevice)
        // A start that fails once the folder exists (a GPU out of memory while the model is set up)
        // takes away the folder it made, as a run that fails before its first save does.
        let path = FilePath(options.outputDirectory)
        let runFolder: TrainingRunFolder
        if let resume {
            runFolder = resume.folder ?? .follower(path)
        } else {
            runFolder = (ranks?.isLeader ?? true) ? try TrainingRunFolder.fresh(path, replacing: replacing) : .follower(path)
        }
        self.runFolder = runFolder
        var started = false
        defer { if !started { runFolder.abandon() } }
        model = CharRNNModel(config: config)
        model.regularization = options.regularization
        optimizer = Optimizer(kind: options.optimizer, count: model.parameterCount)
        if let w = options.weightDecay { optimizer.weightDecay = Float(w) }
        let parameterCount = model.parameterCount
        average = options.ema.map { WeightAverage(decay: $0, count: parameterCount) }
        hidden = model.hiddenState(batch: B)
        if let device = computeDevice {
            backend = try DeviceTrainingBackend(device: device, config: config, options: options, model: model, optimizer: optimizer,
                                                average: average, hidden: hidden, share: share)
        } else {
            backend = CPUTrainingBackend(model: model, optimizer: optimizer, average: average, hidden: hidden, share: share,
                                         options: options)
        }
        inputs = [Int32](repeating: 0, count: options.batchSize * options.seqLength)
        targets = inputs
        rng = RandomGenerator(seed: options.seed)
        state = TrainState(options: options, step: 0, epoch: 0, position: 0, learningRate: options.learningRate,
                           rng: [], smoothLoss: nil, firstLoss: nil, windowLossSum: 0, windowSteps: 0,
                           bestValidationLoss: nil, lastValidationLoss: nil, history: [],
                           corpusFingerprint: String(data.fingerprint), optimizerStep: 0, trainingSeconds: 0,
                           vocabulary: data.vocabulary.scalars.map { String($0) }, startCharacter: String(data.start))
        if let resume {
            try restore(resume.loaded)
        } else {
            model.initializeParameters(rng: &rng)
            fineTuning?.transplant(into: model, vocabulary: data.vocabulary)
        }
        try backend.loadFromHost()
        started = true
    }

    private func restore(_ loaded: TrainState.Loaded) throws {
        let path = statePath
        func bad(_ why: String) -> CharRNNError { .badCheckpoint(path, why) }
        var s = loaded.state
        s.options = options
        try model.layout.load(loaded.tensors, into: model.parameters, prefix: "model.", path: path)
        guard let m = loaded.tensors["optimizer.m"], m.values.count == model.parameterCount else {
            throw bad("the optimizer state is missing or has the wrong size")
        }
        let v = loaded.tensors["optimizer.v"]
        if options.optimizer.hasSecondMoment && v?.values.count != model.parameterCount {
            throw bad("the Adam second moment is missing or has the wrong size")
        }
        optimizer.restore(step: s.optimizerStep, m: m.values, v: v?.values)
        if let average {
            guard let a = loaded.tensors["average.parameters"], a.values.count == model.parameterCount else {
                throw bad("the weight average (--ema) is missing or has the wrong size")
            }
            a.values.withUnsafeBufferPointer { average.values.pointer.update(from: $0.baseAddress!, count: $0.count) }
            average.updates = s.averageUpdates ?? 0
        }
        guard let h = loaded.tensors["hidden_state"], h.values.count == hidden.valueCount * (share?.ranks.size ?? 1) else {
            throw bad("the carried hidden state is missing or has the wrong size")
        }
        if let share {
            share.load(hidden, from: h.values, hidden: model.config.hidden, parts: model.config.cell.stateCount)
        } else {
            hidden.load(h.values)
        }
        let words = s.rng.compactMap { UInt64($0) }
        guard words.count == 4 else { throw bad("the random generator state is malformed") }
        rng = RandomGenerator(words: words)
        guard data.seek(epoch: s.epoch, position: s.position) else { throw bad("the data position is out of range") }
        state = s
    }

    // MARK: the loop

    /// Trains until a limit, the early stop, or `stop` returns true (checked between steps, during
    /// validation and while the validation sample is drawn): the run then saves and returns
    /// `.interrupted`, to be resumed exactly. The library installs no signal handler; the command-line
    /// tool passes `{ InterruptSignal.received }` for Ctrl-C.
    public func run(report: (TrainingEvent) -> Void = { _ in }, stop: @escaping () -> Bool = { false }) throws -> TrainingResult {
        stopRequested = stop
        defer { stopRequested = { false } }
        do {
            return try train(report: report)
        } catch CharRNNError.dataParallel(let why) where runFolder.savedStep != nil {
            throw CharRNNError.dataParallel(why + "; \(directory) keeps step \(runFolder.savedStep ?? 0) "
                                            + "(resume with: mpirun ... charrnn train --resume \(directory))")
        } catch {
            // A run that fails before its first save leaves no empty folder behind.
            abandon()
            throw error
        }
    }

    /// Removes the folder this run made, before its first save (a data-parallel start that failed on
    /// another rank).
    public func abandon() {
        runFolder.abandon()
    }

    private func train(report leaderReport: (TrainingEvent) -> Void) throws -> TrainingResult {
        let leader = isLeader
        func report(_ event: TrainingEvent) { if leader { leaderReport(event) } }
        try backend.prepareRun()
        BLAS.setThreads(options.threads)
        report(.started(parameters: model.parameterCount, vocabulary: data.vocabulary.count,
                        trainCharacters: data.trainCharacters, validationCharacters: data.validationCharacters,
                        resumedAt: state.step > 0 ? state.step : nil))
        var meter = ThroughputMeter(fullBatch: options.batchSize * options.seqLength)
        let limits = RunLimits(options)
        var divergence = DivergenceGuard(directory: directory,
                                         lastSavedStep: runFolder.savedStep != nil || AtomicFile.exists(statePath) ? state.step : nil)
        /// Data-parallel: a stop every rank agreed on at the last step, and rank 0's time since then
        /// that its last agreement did not include (the update after it, a device's wait).
        var agreedStop = false, leaderTail = 0.0

        let schedule = LearningRateSchedule(base: options.learningRate, kind: options.scheduleKind, decay: options.lrDecay,
                                            decayEvery: options.lrDecayEvery, warmup: options.warmup ?? 0, total: totalUpdates,
                                            totalSeconds: options.maxTime, reducesOnPlateau: options.reducesOnPlateau)

        func done() -> Bool { limits.reached(state, epochs: data.progress) }

        /// One step's loss and gradient norm into the running figures, after the divergence check.
        func account(loss: Double, norm: Double, step: Int) throws {
            try divergence.check(loss: loss, norm: norm, firstLoss: state.firstLoss, step: step)
            if state.firstLoss == nil { state.firstLoss = loss }
            state.smoothLoss = state.smoothLoss.map { 0.98 * $0 + 0.02 * loss } ?? loss
            state.windowLossSum += loss
            state.windowSteps += 1
        }

        /// Accounts the steps whose losses are still in the device's log (they end at state.step).
        func readLosses() throws {
            let entries = try backend.unreadLosses()
            for (k, entry) in entries.enumerated() {
                try account(loss: entry.loss, norm: entry.norm, step: state.step - entries.count + 1 + k)
            }
        }

        /// The history row, and at an evaluation step validation, checkpoints and the sample, of the step
        /// just taken. Validation and the sample use their own state and random numbers, so the training
        /// trajectory is the same whether or not they run. Throws Interrupted on Ctrl-C during validation.
        func record(evaluate: Bool) throws {
            if state.step % options.logEvery == 0 || evaluate { try readLosses() }
            var validation: LossReport? = nil
            if evaluate {
                SavePoints.validationStarts()
                validation = try share.map(validateOnLeader) ?? validate { if stopRequested() { throw Interrupted() } }
            }
            if state.step % options.logEvery == 0 || evaluate {
                state.history.append(LossRecord(step: state.step, epoch: data.progress,
                                                trainLoss: state.windowLossSum / Double(max(1, state.windowSteps)),
                                                validationLoss: validation?.nats, learningRate: state.learningRate))
                state.windowLossSum = 0
                state.windowSteps = 0
            }
            report(.progress(progress(meter, limits)))
            guard evaluate else { return }
            var reducedRate: Double? = nil
            if let v = validation?.nats, schedule.reducesOnPlateau {
                var plateau = state.plateau ?? PlateauState()
                if plateau.record(v, patience: options.lrPatience ?? TrainingOptions.defaultLRPatience, schedule: schedule) {
                    reducedRate = schedule.rate(update: state.step, seconds: state.trainingSeconds, reductions: plateau.reductions)
                }
                state.plateau = plateau
            }
            let improved = try saveCheckpoint(validation: validation)
            divergence.lastSavedStep = state.step
            let sampleSeed = options.seed &+ UInt64(state.step)
            let sample = isLeader ? model.withParameters(averagedBy: average) { sampleText(seed: sampleSeed) } : ""
            report(.evaluated(step: state.step, validation: validation, sample: sample, improved: improved, reducedRate: reducedRate))
        }

        /// Saves the step with its evaluation still to do, and stops.
        func stopDuringValidation() throws -> TrainingResult {
            state.pendingEvaluation = true
            try saveCheckpoint(validation: nil)
            crn_clear_interrupt()
            return result(.interrupted, rate: meter.overallRate)
        }

        if state.pendingEvaluation == true {
            state.pendingEvaluation = nil
            do { try record(evaluate: true) } catch is Interrupted { return try stopDuringValidation() }
        }

        while !done() {
            if share != nil ? agreedStop : stopRequested() {
                try readLosses()
                try saveCheckpoint(validation: nil)
                crn_clear_interrupt()
                return result(.interrupted, rate: meter.overallRate)
            }
            let t0 = monotonicSeconds()
            let batch = data.next(rng: &rng, inputs: &inputs, targets: &targets)
            state.learningRate = schedule.rate(update: state.step, seconds: state.trainingSeconds,
                                               reductions: state.plateau?.reductions ?? 0)
            var agreedAt: Double? = nil
            let agreement: (() -> [Double])? = share == nil ? nil : {
                // Data-parallel: a stop any rank was asked for, and rank 0's training time.
                let now = monotonicSeconds()
                agreedAt = now
                return [self.stopRequested() ? 1 : 0, leader ? self.state.trainingSeconds + (now - t0 + leaderTail) : 0]
            }
            let stepNumber = state.step + 1
            if let agreed = try backend.step(batch, learningRate: state.learningRate, rng: &rng,
                                            beforeUpdate: { try account(loss: $0, norm: $1, step: stepNumber) }, agreement: agreement) {
                agreedStop = agreed[0] > 0
                state.trainingSeconds = agreed[1]
            }
            state.step += 1
            if state.firstLoss == nil || state.step % options.logEvery == 0 || state.step % options.evalEvery == 0
                || backend.mustReadLosses {
                // The wait for a device's queued steps is part of their time.
                try readLosses()
            }
            // Data-parallel: what rank 0 did after the agreement (the update, a device's wait) goes into the next one.
            if let agreedAt { leaderTail = monotonicSeconds() - agreedAt }
            let dt = monotonicSeconds() - t0
            // Data-parallel: rank 0's clock, agreed in the step, so that every rank stops at the same step.
            if share == nil { state.trainingSeconds += dt }
            meter.record(seconds: dt, characters: Double(batch.T * batch.B))
            let evaluateNow = state.step % options.evalEvery == 0 || done()
            do { try record(evaluate: evaluateNow) } catch is Interrupted { return try stopDuringValidation() }
        }
        return result(.finished, rate: meter.overallRate, stoppedEarly: limits.stoppedEarly(state))
    }

    /// Data-parallel validation: rank 0 validates and the others learn its result (or that it was
    /// interrupted, or failed), so that every rank takes the same decisions after it.
    private func validateOnLeader(_ share: RankShare) throws -> LossReport? {
        var found: LossReport? = nil, interrupted = false, failure: Error? = nil
        if share.ranks.isLeader {
            do { found = try validate { if stopRequested() { throw Interrupted() } } }
            catch is Interrupted { interrupted = true }
            catch { failure = error }
        }
        let agreed = try share.ranks.sum([found?.nats ?? 0, Double(found?.characters ?? 0), found == nil ? 0 : 1,
                                          interrupted ? 1 : 0, failure == nil ? 0 : 1])
        if let failure { throw failure }
        if agreed[4] > 0 { throw RankGroup.Followed() }
        if agreed[3] > 0 { throw Interrupted() }
        guard agreed[2] > 0 else { return nil }
        state.lastValidationLoss = agreed[0]
        return LossReport(nats: agreed[0], characters: Int(agreed[1]))
    }

    /// The sample shown at each validation: text from the start character, or (names mode) a few names,
    /// one per category for a conditional model (stream i of `seed` for the i-th).
    private func sampleText(seed: UInt64) -> String {
        let sampler = Sampler(model: model, vocabulary: data.vocabulary, startCharacter: startCharacter)
        sampler.namesMode = data.names
        guard data.names else {
            guard options.sampleLength > 0 else { return "" }
            // Ctrl-C ends the sample early; the loop then saves and stops.
            let text = (try? sampler.generate(prime: "", length: options.sampleLength, options: SamplingOptions(temperature: 0.8),
                                              seed: seed, emit: { _ in !self.stopRequested() })) ?? ""
            return Sampler.opening(prime: "", startCharacter: startCharacter, namesMode: false) + text
        }
        let stop = SamplingOptions(temperature: 0.8, stop: "\n")
        if let names = data.categoryNames {
            return names.indices.prefix(8).map { c in
                names[c] + ": " + ((try? sampler.generate(prime: "", length: 30, options: stop, seed: seed, stream: c, category: Int32(c))) ?? "")
            }.joined(separator: "\n")
        }
        return (0..<5).map { i in (try? sampler.generate(prime: "", length: 30, options: stop, seed: seed, stream: i)) ?? "" }
            .joined(separator: "\n")
    }

    private func result(_ outcome: TrainingOutcome, rate: Double, stoppedEarly: Bool = false) -> TrainingResult {
        TrainingResult(outcome: outcome, step: state.step, smoothedLoss: state.smoothLoss ?? .nan,
                       validation: state.lastValidationLoss.map { LossReport(nats: $0, characters: data.validationCharacters) },
                       bestValidationLoss: state.bestValidationLoss, bestStep: state.bestStep, stoppedEarly: stoppedEarly,
                       charactersPerSecond: rate, directory: directory)
    }

    private func progress(_ meter: ThroughputMeter, _ limits: RunLimits) -> TrainingProgress {
        let rate = meter.recent
        let eta = limits.secondsLeft(state, epochs: data.progress, batchesPerEpoch: data.batchesPerEpoch,
                                     secondsPerStep: meter.charactersPerStep / max(rate, 1e-9))
        return TrainingProgress(step: state.step, maxSteps: options.maxSteps, epoch: data.progress,
                                smoothedLoss: state.smoothLoss ?? .nan, lastValidationLoss: state.lastValidationLoss,
                                learningRate: state.learningRate, charactersPerSecond: rate, etaSeconds: eta)
    }

    /// Loss on the validation part, streams as wide as the training batch, state carried through.
    /// With --ema, the loss of the average.
    public func validate(check: () throws -> Void = {}) throws -> LossReport? {
        guard let report = try backend.validationLoss(data, batch: options.batchSize, chunk: options.seqLength, check: check) else {
            return nil
        }
        state.lastValidationLoss = report.nats
        return report
    }

    /// Commits the training state, latest (and best when validation improved) and the loss history as
    /// one set. Returns whether best was written. With --ema, latest and best are the average.
    @discardableResult
    func saveCheckpoint(validation: LossReport?) throws -> Bool {
        var improved = false
        if let v = validation?.nats, v.isFinite, v < (state.bestValidationLoss ?? .infinity) {
            state.bestValidationLoss = v
            state.bestStep = state.step
            improved = true
        }
        if validation != nil { state.evaluationsWithoutImprovement = improved ? 0 : (state.evaluationsWithoutImprovement ?? 0) + 1 }
        // A device's values into the host's buffers, which are what the files are made of.
        try backend.storeToHost()
        state.epoch = data.epoch
        state.position = data.position
        state.rng = rng.words.map { String($0) }
        state.optimizerStep = optimizer.step
        state.averageUpdates = average?.updates
        var savedHidden = hidden
        if let share {
            try share.checkAgreement(model.parameters, step: state.step)
            let c = model.config
            savedHidden = model.hiddenState(batch: share.globalBatch)
            savedHidden.load(try share.gathered(hidden, hidden: c.hidden, parts: c.cell.stateCount))
        }
        guard runFolder.writes else { return improved }
        let trainState = state.encode(model: model, optimizer: optimizer, hidden: savedHidden, average: average)
        let summary = TrainingSummary(step: state.step, epoch: data.progress, trainLoss: state.smoothLoss ?? .nan,
                                      validationLoss: state.lastValidationLoss, corpus: options.textPath)
        var cp = Checkpoint(model: model, vocabulary: data.vocabulary, startCharacter: startCharacter, training: summary)
        if data.names { cp.info.names = true }
        cp.info.categoryNames = data.categoryNames
        let bytes = model.withParameters(averagedBy: average) { cp.encode() }
        let c = model.config
        let title = "\(c.cell.rawValue) \(c.layers)x\(c.hidden) on \(FilePath(options.textPath).lastComponent?.string ?? "")"
        var files: [(name: String, bytes: [UInt8])] = [("train-state.safetensors", trainState), ("latest.safetensors", bytes)]
        if improved { files.append(("best.safetensors", bytes)) }
        files.append(("loss.csv", Array(LossHistory.csv(state.history).utf8)))
        let best = state.bestStep.flatMap { step in state.bestValidationLoss.map { (step: step, loss: $0) } }
        files.append(("loss.svg", Array(LossHistory.svg(state.history, title: title, best: best).utf8)))
        try runFolder.commit(step: state.step, files: files, keep: improved ? [] : ["best.safetensors"])
        return improved
    }
}
