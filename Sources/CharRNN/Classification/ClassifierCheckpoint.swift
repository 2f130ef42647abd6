import Foundation
import SystemPackage

/// What a classifier checkpoint says about itself (metadata key "charrnn", with "kind": "classifier").
package struct ClassifierInfo: Codable, Sendable, Equatable {
    package var formatVersion: Int = CheckpointInfo.currentVersion
    package var kind = "classifier"
    package var config: ClassifierConfig
    package var vocabulary: [String]
    package var categories: [String]
    package var normalization: TextNormalization
    /// Where the data came from and how it was split, so `classify eval` can rebuild the test split.
    package var data: DataSplit?
    /// Items per category in the training split: the class priors that prior correction divides out.
    package var trainingCounts: [Int]?
    /// The default prior correction τ of predictions (see `ClassifierCheckpoint.logProbabilities`); nil is 0.
    package var priorCorrection: Double?

    package init(config: ClassifierConfig, vocabulary: [String], categories: [String],
                normalization: TextNormalization, data: DataSplit? = nil) {
        self.config = config; self.vocabulary = vocabulary; self.categories = categories
        self.normalization = normalization; self.data = data
    }

    package struct DataSplit: Codable, Sendable, Equatable {
        package var directory: String
        package var deduplicate: Bool
        package var validationFraction: Double
        package var testFraction: Double
        package var seed: UInt64
        enum CodingKeys: String, CodingKey {
            case directory, deduplicate, seed
            case validationFraction = "validation_fraction", testFraction = "test_fraction"
        }
    }

    /// A prior correction τ must lie in [0, 1].
    package static func checkPriorCorrection(_ tau: Double) throws {
        guard (0...1).contains(tau) else {
            throw CharRNNError.invalidOption("--prior-correction must be between 0 and 1 (got \(tau))")
        }
    }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", kind, config, vocabulary, categories, normalization, data
        case trainingCounts = "training_counts", priorCorrection = "prior_correction"
    }
}

package struct ClassifierCheckpoint {
    package let model: ClassifierModel
    package let vocabulary: Vocabulary
    package var info: ClassifierInfo
    /// Where predictions run when not on the CPU (`placed(on:)`).
    package private(set) var onDevice: DeviceClassifierModel? = nil

    package init(model: ClassifierModel, vocabulary: Vocabulary, info: ClassifierInfo) {
        self.model = model; self.vocabulary = vocabulary; self.info = info
    }

    /// This classifier with its predictions' forward passes on `device` (nil: the CPU); the logits
    /// come back to the host, where the rest of a prediction is computed as on the CPU.
    package func placed(on device: ComputeDevice?) throws -> ClassifierCheckpoint {
        var placed = self
        placed.onDevice = nil
        if let device {
            let deviceModel = try DeviceClassifierModel(config: model.config, device: device)
            try deviceModel.setParameters(model.parameters)
            placed.onDevice = deviceModel
        }
        return placed
    }

    package func encode() -> [UInt8] {
        SafeTensors.encode(model.layout.tensors(of: model.parameters),
                           metadata: ["charrnn": SafeTensors.json(info), "format": "pt"])
    }

    package func save(to path: String) throws { try AtomicFile.write(encode(), to: path) }

    /// A checkpoint file, or a folder holding classifier.safetensors.
    package static func load(_ path: String) throws -> ClassifierCheckpoint {
        var file = path
        if FileKind(FilePath(path), followingLinks: true) == .directory {
            file = FilePath(path).appending(ClassifierEnsemble.memberFile(1)).string
        }
        func bad(_ why: String) -> CharRNNError { .badCheckpoint(file, why) }
        let st = try SafeTensors.decode(try TextFile.readBytes(file), path: file)
        guard let json = st.metadata["charrnn"] else {
            if st.metadata[TrainState.metadataKey] != nil { throw bad("it is a language model's training state, not a classifier") }
            throw bad("it has no charrnn metadata (a safetensors file from elsewhere?)")
        }
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
        if let counts = info.trainingCounts, counts.count != info.categories.count || counts.contains(where: { $0 < 0 }) {
            throw bad("its training_counts do not match its categories")
        }
        if let tau = info.priorCorrection, !(0...1).contains(tau) {
            throw bad("its prior_correction \(tau) is outside [0, 1]")
        }
        try info.config.layout.check(st.tensors, path: file)
        let model = ClassifierModel(config: info.config)
        try model.layout.load(st.tensors, into: model.parameters, path: file)
        return ClassifierCheckpoint(model: model, vocabulary: Vocabulary(scalars: scalars), info: info)
    }

    /// Items of one length that go through the model together.
    package static let itemsPerPass = 256
    /// A pass whose workspaces would be larger than this runs on a copy of the model that is freed
    /// afterwards, and the memory goes back to the system: one long item does not keep the process
    /// (a server) large for good.
    static let largePassBytes = 32 << 20

    /// Bytes of one forward pass over B items of T characters: each direction is a recurrent stack
    /// of the classifier's shape, both directions' activations kept, the parameters once.
    static func passBytes(_ c: ClassifierConfig, T: Int, B: Int) -> Int? {
        let stack = ModelConfig(cell: c.cell, layers: c.layers, hidden: c.hidden, embed: c.embed, vocabSize: c.vocabSize)
        guard let activations = MemoryEstimate.activationFloats(stack, T: T, B: B),
              let inputs = MemoryEstimate.product([c.layers, 2, T, B, c.directions * c.hidden + c.embed]),
              let all = MemoryEstimate.sum([MemoryEstimate.product([c.directions, activations]), inputs]) else { return nil }
        return MemoryEstimate.product([4, all])
    }

    /// log p(c | x) of the model as trained, for each item (normalised as in training).
    package func modelLogProbabilities(_ items: [String]) throws -> [[Float]] {
        let bytes = onDevice == nil ? try checkClassificationMemory(items) : classificationBytes(items)
        let encoded = try items.map { raw -> [Int32] in
            let ids = try vocabulary.encode(info.normalization.apply(raw), what: "'\(raw)'")
            guard !ids.isEmpty else { throw CharRNNError.invalidOption("an empty item cannot be classified") }
            return ids
        }
        let C = info.config.categories
        var out = [[Float]](repeating: [], count: items.count)
        var byLength: [Int: [Int]] = [:]
        for (i, ids) in encoded.enumerated() { byLength[ids.count, default: []].append(i) }
        // After a large classification (a long item's normalisation and passes), the freed memory
        // goes back to the system.
        let large = (bytes ?? .max) > Self.largePassBytes
        defer { if large { MemoryEstimate.returnFreedMemory() } }
        for (T, indices) in byLength {
            for chunk in stride(from: 0, to: indices.count, by: Self.itemsPerPass) {
                let group = Array(indices[chunk..<min(chunk + Self.itemsPerPass, indices.count)])
                let B = group.count
                var ids = [Int32](repeating: 0, count: T * B)
                for (b, i) in group.enumerated() { for t in 0..<T { ids[t * B + b] = encoded[i][t] } }
                // On the CPU, a large pass runs on a copy of the model that is freed after it.
                var runner: any ClassifierLogits = onDevice ?? model
                if onDevice == nil, (Self.passBytes(info.config, T: T, B: B) ?? .max) > Self.largePassBytes {
                    let scratch = ClassifierModel(config: model.config)
                    scratch.parameters.pointer.update(from: model.parameters.pointer, count: model.parameterCount)
                    runner = scratch
                }
                let logits = try runner.logits(ids, T: T, B: B)
                for (b, i) in group.enumerated() {
                    out[i] = Self.logSoftmax((0..<C).map { logits[b * C + $0] })
                }
            }
        }
        return out
    }
}

extension ClassifierCheckpoint: Classifier {}
