import Foundation

/// Everything a resumed run needs to continue exactly: saved as one safetensors file (parameters,
/// optimizer moments, carried hidden state) whose metadata holds this JSON. One file, written
/// atomically, so the parameters and the optimizer state can never disagree.
package struct TrainState: Codable, Sendable {
    package static let currentVersion = 1
    package var formatVersion = TrainState.currentVersion
    package var options: TrainingOptions
    package var step: Int
    package var epoch: Int
    package var position: Int
    package var learningRate: Double
    /// The training RNG's four words, as decimal strings (JSON numbers lose 64-bit precision).
    package var rng: [String]
    package var smoothLoss: Double?
    package var firstLoss: Double?
    package var windowLossSum: Double
    package var windowSteps: Int
    package var bestValidationLoss: Double?
    package var lastValidationLoss: Double?
    package var history: [LossRecord]
    package var corpusFingerprint: String
    package var optimizerStep: Int
    package var trainingSeconds: Double
    package var vocabulary: [String]
    package var startCharacter: String
    /// Ctrl-C came during this step's validation: a resumed run validates and saves this step first,
    /// so its files are those of a run never interrupted.
    package var pendingEvaluation: Bool? = nil
    /// Evaluations since validation last improved (--early-stop), and the step of the best one.
    package var evaluationsWithoutImprovement: Int? = nil
    package var bestStep: Int? = nil
    /// --lr-schedule plateau's count of evaluations and reductions.
    package var plateau: PlateauState? = nil
    /// --ema: updates averaged so far (the average itself is the tensor average.parameters).
    package var averageUpdates: Int? = nil

    static let metadataKey = "charrnn_train_state"

    func encode(model: CharRNNModel, optimizer: Optimizer, hidden: HiddenState, average: WeightAverage? = nil) -> [UInt8] {
        var tensors = model.layout.tensors(of: model.parameters, prefix: "model.")
        for (name, values) in optimizer.stateTensors {
            tensors.append(.init(name: name, shape: [values.count], values: values))
        }
        if let average { tensors.append(.init(name: "average.parameters", shape: [average.values.count], values: average.values.array)) }
        let h = hidden.flattened
        tensors.append(.init(name: "hidden_state", shape: [h.count], values: h))
        return SafeTensors.encode(tensors, metadata: [Self.metadataKey: SafeTensors.json(self)])
    }

    struct Loaded {
        var state: TrainState
        var tensors: [String: SafeTensors.Tensor]
    }

    static func load(_ path: String) throws -> Loaded {
        func bad(_ why: String) -> CharRNNError { .badCheckpoint(path, why) }
        let file = try SafeTensors.decode(try TextFile.readBytes(path), path: path)
        guard let json = file.metadata[metadataKey] else { throw bad("it is not a charrnn training state") }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let version = obj["formatVersion"] as? Int else { throw bad("its training state is not valid JSON") }
        guard version == currentVersion else {
            throw CharRNNError.unsupportedVersion(path, found: version, supported: currentVersion)
        }
        do {
            let state = try JSONDecoder().decode(TrainState.self, from: Data(json.utf8))
            return Loaded(state: state, tensors: file.tensors)
        } catch {
            throw bad("its training state is incomplete")
        }
    }
}
