import Foundation

/// What a classifier checkpoint says about itself (metadata key "charrnn", with "kind": "classifier").
public struct ClassifierInfo: Codable, Sendable, Equatable {
    public var formatVersion: Int = CheckpointInfo.currentVersion
    public var kind = "classifier"
    public var config: ClassifierConfig
    public var vocabulary: [String]
    public var categories: [String]
    public var normalization: TextNormalization
    /// Where the data came from and how it was split, so `classify eval` can rebuild the test split.
    public var data: DataSplit?

    public init(config: ClassifierConfig, vocabulary: [String], categories: [String],
                normalization: TextNormalization, data: DataSplit? = nil) {
        self.config = config; self.vocabulary = vocabulary; self.categories = categories
        self.normalization = normalization; self.data = data
    }

    public struct DataSplit: Codable, Sendable, Equatable {
        public var directory: String
        public var deduplicate: Bool
        public var validationFraction: Double
        public var testFraction: Double
        public var seed: UInt64
        enum CodingKeys: String, CodingKey {
            case directory, deduplicate, seed
            case validationFraction = "validation_fraction", testFraction = "test_fraction"
        }
    }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", kind, config, vocabulary, categories, normalization, data
    }
}

public struct ClassifierCheckpoint {
    public let model: ClassifierModel
    public let vocabulary: Vocabulary
    public var info: ClassifierInfo

    public init(model: ClassifierModel, vocabulary: Vocabulary, info: ClassifierInfo) {
        self.model = model; self.vocabulary = vocabulary; self.info = info
    }

    public func encode() -> [UInt8] {
        SafeTensors.encode(model.layout.tensors(of: model.parameters),
                           metadata: ["charrnn": SafeTensors.json(info), "format": "pt"])
    }

    public func save(to path: String) throws { try AtomicFile.write(encode(), to: path) }

    /// A checkpoint file, or a folder holding classifier.safetensors.
    public static func load(_ path: String) throws -> ClassifierCheckpoint {
        var file = path
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            file = path + "/classifier.safetensors"
        }
        func bad(_ why: String) -> CharRNNError { .badCheckpoint(file, why) }
        let st = try SafeTensors.decode(try TextFile.readBytes(file), path: file)
        guard let json = st.metadata["charrnn"] else { throw bad("it has no charrnn metadata (a safetensors file from elsewhere?)") }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let version = obj["format_version"] as? Int else { throw bad("its charrnn metadata is not valid JSON") }
        guard version == CheckpointInfo.currentVersion else {
            throw CharRNNError.unsupportedVersion(file, found: version, supported: CheckpointInfo.currentVersion)
        }
        guard obj["kind"] as? String == "classifier" else {
            throw bad("it is a language model, not a classifier (use it with 'charrnn sample')")
        }
        let info: ClassifierInfo
        do { info = try JSONDecoder().decode(ClassifierInfo.self, from: Data(json.utf8)) } catch {
            throw bad("its charrnn metadata is incomplete")
        }
        do { try info.config.validate() } catch { throw bad("its model configuration is invalid: \(error)") }
        let scalars = info.vocabulary.compactMap { $0.unicodeScalars.count == 1 ? $0.unicodeScalars.first : nil }
        guard scalars.count == info.config.vocabSize, scalars.count == info.vocabulary.count,
              info.categories.count == info.config.categories else {
            throw bad("its vocabulary or categories do not match its configuration")
        }
        let model = ClassifierModel(config: info.config)
        try model.layout.load(st.tensors, into: model.parameters, path: file)
        return ClassifierCheckpoint(model: model, vocabulary: Vocabulary(scalars: scalars), info: info)
    }

    /// Top-k categories with probabilities for each item (normalised as in training).
    public func predict(_ items: [String], top k: Int) throws -> [[(category: String, probability: Float)]] {
        try items.map { raw in
            let text = info.normalization.apply(raw)
            let ids = try vocabulary.encode(text, what: "'\(raw)'")
            guard !ids.isEmpty else { throw CharRNNError.invalidOption("an empty item cannot be classified") }
            model.forward(ids, T: ids.count, B: 1)
            let probs = model.probabilities()[0]
            return probs.enumerated().sorted { $0.element > $1.element }.prefix(k).map { (info.categories[$0.offset], $0.element) }
        }
    }

    /// Predicted category of each item, in batches of items of equal length.
    public func classify(_ items: [LabelledData.Item]) throws -> [Int] {
        var predicted = [Int](repeating: 0, count: items.count)
        let encoded = try items.map { try vocabulary.encode($0.text, what: "'\($0.text)'") }
        var byLength: [Int: [Int]] = [:]
        for (i, ids) in encoded.enumerated() { byLength[ids.count, default: []].append(i) }
        for (T, indices) in byLength where T > 0 {
            for chunk in stride(from: 0, to: indices.count, by: 256) {
                let group = Array(indices[chunk..<min(chunk + 256, indices.count)])
                let B = group.count
                var ids = [Int32](repeating: 0, count: T * B)
                for (b, i) in group.enumerated() { for t in 0..<T { ids[t * B + b] = encoded[i][t] } }
                let logits = model.forward(ids, T: T, B: B)
                let C = info.config.categories
                for (b, i) in group.enumerated() {
                    var best = 0
                    for c in 1..<C where logits[b * C + c] > logits[b * C + best] { best = c }
                    predicted[i] = best
                }
            }
        }
        return predicted
    }
}
