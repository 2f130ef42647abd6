import SystemPackage
import Foundation

/// What `GET /v1/models` says about a loaded model, and what a request is checked against.
public struct ModelSummary: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case generator, classifier }

    public var name: String
    public var kind: Kind
    public var cell: String
    public var layers: Int
    public var hidden: Int
    public var vocabularySize: Int
    public var trainingLoss: Double?
    public var validationLoss: Double?
    public var trainingSteps: Int?
    /// Categories a classifier predicts, or a conditional generator generates in.
    public var categories: [String]?
    public var bidirectional: Bool?
    /// A classifier's members: several when a training folder holds an ensemble (their probabilities are
    /// averaged).
    public var members: Int?
    /// One name per line: generation stops at the end of a name.
    public var namesMode: Bool?
    /// What an empty prompt starts from: the corpus's first character (not part of the reply's text, as
    /// a prompt is not), or for a names model the newline between names.
    public var startCharacter: String?

    enum CodingKeys: String, CodingKey {
        case name, kind, cell, layers, hidden, categories, bidirectional, members
        case vocabularySize = "vocabulary_size"
        case trainingLoss = "training_loss"
        case validationLoss = "validation_loss"
        case trainingSteps = "training_steps"
        case namesMode = "names_mode"
        case startCharacter = "start_character"
    }

    init(name: String, generator cp: Checkpoint) {
        let c = cp.model.config
        self.name = name
        kind = .generator
        cell = c.cell.rawValue
        layers = c.layers
        hidden = c.hidden
        vocabularySize = c.vocabSize
        trainingLoss = cp.info.training?.trainLoss
        validationLoss = cp.info.training?.validationLoss
        trainingSteps = cp.info.training?.step
        categories = cp.info.categoryNames
        namesMode = cp.info.names ?? false
        startCharacter = String(cp.startCharacter)
    }

    init(name: String, classifier cp: ClassifierEnsemble) {
        let c = cp.info.config
        self.name = name
        kind = .classifier
        cell = c.cell.rawValue
        layers = c.layers
        hidden = c.hidden
        vocabularySize = c.vocabSize
        categories = cp.info.categories
        bidirectional = c.bidirectional
        members = cp.members.count
    }

    /// Whether a checkpoint path (file or training folder) holds a classifier, from its metadata.
    static func isClassifier(_ path: String) throws -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CharRNNError.invalidOption("no checkpoint at '\(path)'")
        }
        if isDirectory.boolValue {
            return FileKind(FilePath(path).appending(ClassifierEnsemble.memberFile(1)), followingLinks: true) != .missing
        }
        let file = try SafeTensors.decode(try TextFile.readBytes(path), path: path)
        guard let json = file.metadata["charrnn"],
              let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            return false  // the language-model loader names what is wrong with it
        }
        return object["kind"] as? String == "classifier"
    }

    /// The name a model is served under: NAME=PATH names it, else the file or folder name.
    /// NAME=PATH, or a path whose model is named after its file or folder. A path that exists, or
    /// whose part before "=" has a "/", is a path even when it holds "=" (./lr=0.002).
    public static func parse(_ argument: String) -> (name: String, path: String) {
        if let eq = argument.firstIndex(of: "="), eq != argument.startIndex, !argument[..<eq].contains("/"),
           FileKind(FilePath(argument), followingLinks: true) == .missing {
            return (String(argument[..<eq]), String(argument[argument.index(after: eq)...]))
        }
        var url = URL(fileURLWithPath: argument)
        if ["best", "latest", "classifier"].contains(url.deletingPathExtension().lastPathComponent) {
            url = url.deletingLastPathComponent()
        }
        return (url.deletingPathExtension().lastPathComponent, argument)
    }
}
