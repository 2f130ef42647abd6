/// A trained classifier (one checkpoint or an ensemble), ready to put short texts such as surnames in
/// their categories, on the CPU or a GPU: LanguageModel's twin for `charrnn classify`'s models.
///
///     let classifier = try CategoryClassifier(contentsOf: "runs/surnames")
///     print(try classifier.classify(["Dovesky"], top: 3)[0])   // Russian 0.91, Czech 0.07, English 0.02
public final class CategoryClassifier {
    /// One category and its probability for an item.
    public struct Score: Sendable, Equatable, CustomStringConvertible {
        public let category: String
        public let probability: Float
        public var description: String { "\(category) \(probability)" }
    }

    private let ensemble: ClassifierEnsemble
    /// The GPU it runs on; nil for the CPU.
    public let device: ComputeDevice?

    /// Loads `classifier.safetensors` (and an ensemble's further members) from a folder of
    /// `charrnn classify train`, or one classifier checkpoint file. `device` nil runs on the CPU.
    public init(contentsOf path: String, device: ComputeDevice? = nil) throws {
        ensemble = try ClassifierEnsemble.load(path).placed(on: device)
        self.device = device
    }

    /// The categories, in the order the model numbers them.
    public var categories: [String] { ensemble.info.categories }

    /// The `top` most likely categories of each item, most likely first. `priorCorrection` (τ, 0 to 1)
    /// discounts categories that were common in training (nil: the value the classifier was tuned with).
    public func classify(_ items: [String], top: Int = 1, priorCorrection: Double? = nil) throws -> [[Score]] {
        guard top >= 1 else { throw CharRNNError.invalidOption("top must be at least 1 (got \(top))") }
        return try ensemble.predict(items, top: top, priorCorrection: priorCorrection).map { row in
            row.map { Score(category: $0.category, probability: $0.probability) }
        }
    }
}
