/// When a run stops: a step, epoch or time limit, or validation that has stopped improving (early
/// stopping); and how long it has left.
struct RunLimits {
    let maxSteps: Int?
    let maxEpochs: Double?
    let maxTime: Double?
    let earlyStop: Int?

    init(_ o: TrainingOptions) {
        maxSteps = o.maxSteps; maxEpochs = Self.epochLimit(o); maxTime = o.maxTime; earlyStop = o.earlyStop
    }

    /// --max-epochs, or 50 when no limit at all is given.
    static func epochLimit(_ o: TrainingOptions) -> Double? {
        o.maxEpochs ?? ((o.maxSteps == nil && o.maxTime == nil) ? 50 : nil)
    }

    /// The updates the run will take when a step or epoch limit says (the schedule's length). An epoch
    /// limit beyond what a step counter can hold is refused here, before the folder is touched.
    static func totalUpdates(_ o: TrainingOptions, batchesPerEpoch: Int) throws -> Int? {
        if let s = o.maxSteps { return s }
        guard let e = epochLimit(o) else { return nil }
        let steps = (e * Double(batchesPerEpoch)).rounded(.up)
        guard steps < 1e15, let n = Int(exactly: steps) else {
            throw CharRNNError.invalidOption(
                "--max-epochs \(e) is about \(steps) steps (\(batchesPerEpoch) an epoch), more than a run can take; give fewer epochs, or --max-time")
        }
        return n
    }

    func stoppedEarly(_ state: TrainState) -> Bool {
        guard let n = earlyStop else { return false }
        return (state.evaluationsWithoutImprovement ?? 0) >= n
    }

    /// `epochs`: how far through the data the run is.
    func reached(_ state: TrainState, epochs: Double) -> Bool {
        if stoppedEarly(state) { return true }
        if let s = maxSteps, state.step >= s { return true }
        if let e = maxEpochs, epochs >= e { return true }
        if let t = maxTime, state.trainingSeconds >= t { return true }
        return false
    }

    /// Seconds left at `secondsPerStep`, when a limit says when the run ends.
    func secondsLeft(_ state: TrainState, epochs: Double, batchesPerEpoch: Int, secondsPerStep: Double) -> Double? {
        var eta: Double? = nil
        if let s = maxSteps { eta = Double(max(0, s - state.step)) * secondsPerStep }
        if let e = maxEpochs {
            let left = (e - epochs) * Double(batchesPerEpoch) * secondsPerStep
            eta = min(eta ?? left, left)
        }
        if let t = maxTime { eta = min(eta ?? .infinity, max(0, t - state.trainingSeconds)) }
        return eta
    }
}
