/// Stops a run whose step went wrong, before its update: a loss or gradient that is not finite, or a loss
/// three times the run's first. The line says which checkpoint is kept, and what to try.
struct DivergenceGuard {
    let directory: String
    /// The step of the last save, if any (the model a diverged run leaves behind).
    var lastSavedStep: Int?

    func check(loss: Double, norm: Double, firstLoss: Double?, step: Int) throws {
        guard !loss.isFinite || !norm.isFinite || loss > 3 * (firstLoss ?? .infinity) else { return }
        let what = loss.isFinite
            ? (norm.isFinite ? "exploded to \(fmt(loss, 3)) (3 times the first loss)" : "has a non-finite gradient") : "is \(loss)"
        let kept = lastSavedStep.map { "the last good checkpoint (step \($0)) is kept in \(directory)" } ?? "no checkpoint was written"
        throw CharRNNError.trainingDiverged("training diverged at step \(step): the loss \(what); stopped, \(kept); try a lower --learning-rate")
    }
}
