import Foundation
import SystemPackage

/// What a checkpoint says about itself, stored as JSON under the safetensors metadata key "charrnn".
public struct CheckpointInfo: Codable, Sendable, Equatable {
    public static let currentVersion = 1

    public var formatVersion: Int
    public var config: ModelConfig
    /// The vocabulary, one Unicode scalar per entry, in id order.
    public var vocabulary: [String]
    /// The character fed first when sampling starts with no prime.
    public var startCharacter: String
    package var training: TrainingSummary?
    /// Names mode: trained on one item per line; sampling starts after and stops at a newline.
    public var names: Bool?
    /// Category names for a conditional model (config.categories of them), in input order.
    public var categoryNames: [String]?

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", config, vocabulary
        case startCharacter = "start_character", training, names
        case categoryNames = "categories"
    }
}

package struct TrainingSummary: Codable, Sendable, Equatable {
    public var step: Int
    public var epoch: Double
    public var trainLoss: Double
    public var validationLoss: Double?
    public var corpus: String

    public init(step: Int, epoch: Double, trainLoss: Double, validationLoss: Double?, corpus: String) {
        self.step = step; self.epoch = epoch; self.trainLoss = trainLoss
        self.validationLoss = validationLoss; self.corpus = corpus
    }

    enum CodingKeys: String, CodingKey {
        case step, epoch, corpus
        case trainLoss = "train_loss", validationLoss = "validation_loss"
    }
}

extension ModelConfig {
    enum CodingKeys: String, CodingKey {
        case cell, layers, hidden, embed, dropout, categories
        case vocabSize = "vocab_size"
    }
}

/// A trained model as one safetensors file, loadable by `safetensors.torch.load_file` into
/// Embedding -> nn.LSTM/GRU/RNN -> Linear (see ParameterLayout for the names).
public struct Checkpoint {
    package let model: CharRNNModel
    public let vocabulary: Vocabulary
    public var info: CheckpointInfo

    package init(model: CharRNNModel, vocabulary: Vocabulary, startCharacter: Unicode.Scalar, training: TrainingSummary?) {
        self.model = model
        self.vocabulary = vocabulary
        info = CheckpointInfo(formatVersion: CheckpointInfo.currentVersion, config: model.config,
                              vocabulary: vocabulary.scalars.map { String($0) },
                              startCharacter: String(startCharacter), training: training)
    }

    public var startCharacter: Unicode.Scalar { info.startCharacter.unicodeScalars.first! }

    public func encode() -> [UInt8] {
        SafeTensors.encode(model.layout.tensors(of: model.parameters),
                           metadata: ["charrnn": SafeTensors.json(info), "format": "pt"])
    }

    public func save(to path: String) throws { try AtomicFile.write(encode(), to: path) }

    /// Loads a checkpoint file, or the best (else latest) checkpoint of the committed set in a training
    /// folder (also while a run is saving there).
    public static func load(_ path: String) throws -> Checkpoint {
        let folder = FilePath(path)
        guard FileKind(folder, followingLinks: true) == .directory else {
            return try decode(try TextFile.readBytes(path), path: path)
        }
        for name in ["best.safetensors", "latest.safetensors"] {
            if let bytes = try CheckpointSet.committedBytes(of: name, in: folder) {
                return try decode(bytes, path: folder.appending(name).string)
            }
        }
        throw CharRNNError.badCheckpoint(path, "the folder has no best.safetensors or latest.safetensors")
    }

    public static func decode(_ bytes: [UInt8], path: String) throws -> Checkpoint {
        func bad(_ why: String) -> CharRNNError { .badCheckpoint(path, why) }
        let st = try SafeTensors.decode(bytes, path: path)
        guard let json = st.metadata["charrnn"] else {
            if st.metadata[TrainState.metadataKey] != nil {
                throw bad("it is a training state, for 'train --resume'; give the run's folder, or its best.safetensors or latest.safetensors")
            }
            throw bad("it has no charrnn metadata (a safetensors file from elsewhere?)")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw bad("its charrnn metadata is not valid JSON")
        }
        guard let version = obj["format_version"] as? Int else { throw bad("its metadata has no format_version") }
        guard version == CheckpointInfo.currentVersion else {
            throw CharRNNError.unsupportedVersion(path, found: version, supported: CheckpointInfo.currentVersion)
        }
        if obj["kind"] as? String == "classifier" {
            throw bad("it is a classifier, not a language model (use it with 'charrnn classify')")
        }
        let info: CheckpointInfo
        do { info = try JSONDecoder().decode(CheckpointInfo.self, from: Data(json.utf8)) } catch {
            throw bad("its charrnn metadata is incomplete")
        }
        do { try info.config.validate() } catch { throw bad("its model configuration is invalid: \(error)") }
        let scalars = info.vocabulary.compactMap { s -> Unicode.Scalar? in
            s.unicodeScalars.count == 1 ? s.unicodeScalars.first : nil
        }
        guard scalars.count == info.vocabulary.count, scalars.count == info.config.vocabSize,
              Set(scalars).count == scalars.count else {
            throw bad("its vocabulary does not match vocab_size \(info.config.vocabSize)")
        }
        guard info.startCharacter.unicodeScalars.count == 1 else { throw bad("its start character is invalid") }
        guard (info.categoryNames?.count ?? 0) == info.config.categories else {
            throw bad("it names \(info.categoryNames?.count ?? 0) categories but its model has \(info.config.categories)")
        }
        let vocabulary = Vocabulary(scalars: scalars)
        guard vocabulary.scalars == scalars else { throw bad("its vocabulary is not in code-point order") }
        // Every tensor present and of its shape before anything is allocated: metadata that claims a
        // larger model than the file holds is refused here.
        try ParameterLayout(info.config).check(st.tensors, path: path)
        let model = CharRNNModel(config: info.config)
        try model.layout.load(st.tensors, into: model.parameters, path: path)
        var cp = Checkpoint(model: model, vocabulary: vocabulary, startCharacter: info.startCharacter.unicodeScalars.first!,
                            training: info.training)
        cp.info = info
        return cp
    }
}
