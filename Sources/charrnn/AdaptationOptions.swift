import ArgumentParser
import CharRNN

/// The settings of dynamic evaluation, shared by `eval --dynamic` and `sample --adapt`.
struct AdaptationOptions: ParsableArguments {
    private static let standard = DynamicEvaluation.Settings.standard

    @Option(help: "Dynamic evaluation: characters read between two gradient steps. (default: \(standard.segment))")
    var adaptSegment: Int?
    @Option(help: "Dynamic evaluation: the step size, in units of each weight's gradient RMS on the training text. (default: \(standard.learningRate))")
    var adaptLr: Double?
    @Option(help: "Dynamic evaluation: the pull of every step back toward the trained weights (lambda). (default: \(standard.decay))")
    var adaptDecay: Double?
    @Option(help: "Text for the gradient statistics that scale the steps: its first 90% is read (default: the text the model was trained on).")
    var statisticsText: String?

    var given: Bool { adaptSegment != nil || adaptLr != nil || adaptDecay != nil || statisticsText != nil }

    var settings: DynamicEvaluation.Settings {
        var s = Self.standard
        if let adaptSegment { s.segment = adaptSegment }
        if let adaptLr { s.learningRate = adaptLr }
        if let adaptDecay { s.decay = adaptDecay }
        return s
    }

    /// Measures the gradient statistics on the statistics text (the part a run trains on by default)
    /// and returns the evaluator, with a line that says where its statistics came from.
    func evaluator(for cp: Checkpoint) throws -> (DynamicEvaluation, String) {
        let settings = settings
        try settings.validate()
        guard cp.info.names != true else {
            throw CharRNNError.invalidOption("dynamic evaluation reads a text; a names model reads each name from its start")
        }
        let path: String
        if let statisticsText {
            path = statisticsText
        } else if let corpus = cp.info.training?.corpus, !corpus.isEmpty {
            path = corpus
        } else {
            throw CharRNNError.invalidOption("the checkpoint does not name the text it was trained on: give --statistics-text FILE")
        }
        let text: String
        do {
            text = try TextFile.read(path)
        } catch {
            throw CharRNNError.invalidOption("dynamic evaluation needs a text like the model's training text for its gradient statistics, "
                                             + "and \(path) cannot be read: give --statistics-text FILE")
        }
        let ids = cp.vocabulary.encodeSkippingUnknown(text).ids
        let used = Array(ids.prefix(Int(Double(ids.count) * 0.9)))
        let statistics = try GradientStatistics.measure(cp.model, ids: used, segment: settings.segment)
        let line = "gradient statistics: \(statistics.segments) segments of \(settings.segment) characters from \(path)"
        return (try DynamicEvaluation(statistics: statistics, settings: settings), line)
    }
}
