import SystemPackage

/// `train NEW.txt --init-from CHECKPOINT`: a new run whose weights start from a trained model. Its
/// vocabulary is the checkpoint's and the new text's together; the rows of the characters the model
/// knew keep their weights (embedding and decoder rows, or layer 0's input columns for one-hot input),
/// and the new characters' rows start as a fresh model's would.
package struct FineTuning {
    package let source: String
    let checkpoint: Checkpoint

    /// Loads the starting checkpoint; a model trained by category is refused (its category inputs
    /// would have to be matched to the new data's).
    package init(from path: String) throws {
        checkpoint = try Checkpoint.load(path)
        source = AbsolutePath.of(path)
        guard checkpoint.model.config.categories == 0 else {
            throw CharRNNError.invalidOption("--init-from a model trained by category is not supported; start from a text or names model")
        }
    }

    package var config: ModelConfig { checkpoint.model.config }
    package var namesModel: Bool { checkpoint.info.names ?? false }

    /// The checkpoint's characters and those of the text at `path` (a folder of categories is refused).
    package func vocabulary(withTextAt path: String) throws -> Vocabulary {
        guard FileKind(FilePath(path), followingLinks: true) != .directory else {
            throw CharRNNError.invalidOption("--init-from takes a text or a file of names, not a folder of categories")
        }
        let text = try TextFile.read(path)
        return Vocabulary(scalars: checkpoint.vocabulary.scalars + Array(text.unicodeScalars))
    }

    /// How many characters of `vocabulary` the checkpoint did not know.
    package func added(in vocabulary: Vocabulary) -> Int { vocabulary.count - checkpoint.vocabulary.count }

    /// Copies the checkpoint's weights into `model` (already initialised as a fresh model over
    /// `vocabulary`): every tensor as it is, and the vocabulary's rows and columns to their new places.
    func transplant(into model: CharRNNModel, vocabulary: Vocabulary) {
        let old = checkpoint.model, oldVocabulary = checkpoint.vocabulary
        // New id of each old id.
        let moved = oldVocabulary.scalars.map { Int(vocabulary.id(of: $0)!) }
        for slot in model.layout.slots {
            guard let from = old.layout[slot.name] else { continue }
            let src = old.parameters.pointer + from.offset, dst = model.parameters.pointer + slot.offset
            if slot.shape == from.shape {
                dst.update(from: src, count: slot.count)
            } else if slot.name == "embedding.weight" || slot.name == "decoder.weight" || slot.name == "decoder.bias" {
                let width = slot.shape.count == 2 ? slot.shape[1] : 1
                for (i, j) in moved.enumerated() { (dst + j * width).update(from: src + i * width, count: width) }
            } else if slot.name == "rnn.weight_ih_l0" {
                // One-hot input: a column per character.
                let rows = slot.shape[0], newV = slot.shape[1], oldV = from.shape[1]
                for r in 0..<rows { for (i, j) in moved.enumerated() { dst[r * newV + j] = src[r * oldV + i] } }
            }
        }
        model.thaw()
    }
}
