import Foundation

/// What the automatic settings need to know of a training text: how much there is to learn from, how
/// many characters it uses, and whether it is read as one text or as a list of items (names mode).
package struct CorpusProfile: Sendable, Equatable {
    /// Bytes on disk (a folder: its .txt files together).
    package var bytes: Int
    /// Characters in the training part (names mode: each item's characters and its end).
    package var trainingCharacters: Int
    /// Characters in the held-out part.
    package var validationCharacters: Int
    package var vocabulary: Int
    /// Names mode: the items in the training part; nil for a text.
    package var trainingItems: Int?
    /// Names mode: the items held out.
    package var validationItems: Int?
    /// A folder of one file per category: how many; 0 for a single file.
    package var categories: Int
    /// Lines of the text (or items), and their mean length in characters.
    package var lines: Int
    package var meanLineLength: Double
    /// The characters in common use: e to the entropy of the characters' frequencies (27 for tiny
    /// Shakespeare's 65, 508 for the Tang poems' 2,574). nil: not measured, taken as few.
    package var characterPerplexity: Double?

    package init(bytes: Int, trainingCharacters: Int, validationCharacters: Int, vocabulary: Int, trainingItems: Int? = nil,
                validationItems: Int? = nil, categories: Int = 0, lines: Int, meanLineLength: Double,
                characterPerplexity: Double? = nil) {
        self.bytes = bytes
        self.trainingCharacters = trainingCharacters
        self.validationCharacters = validationCharacters
        self.vocabulary = vocabulary
        self.trainingItems = trainingItems
        self.validationItems = validationItems
        self.categories = categories
        self.lines = lines
        self.meanLineLength = meanLineLength
        self.characterPerplexity = characterPerplexity
    }

    package var names: Bool { trainingItems != nil }


    /// A text that reads as a list of short items (a name a line) though names mode was not asked for.
    package var looksLikeList: Bool { !names && lines >= 200 && meanLineLength <= 16 }

    /// Whether the held-out part says enough for early stopping to act on: in a few thousand
    /// characters, or a hundred items, one evaluation's noise is about a model's gain in many steps.
    package var validationIsMeaningful: Bool {
        if let items = validationItems { return items >= 100 }
        return validationCharacters >= 10_000
    }

    /// Reads the run's text as TrainingData will: a folder means items by category, `names` a file
    /// of items, else one text whose end (`validationFraction` of it) is held out.
    package static func measure(path: String, names: Bool, validationFraction: Double) throws -> CorpusProfile {
        var isDirectory: ObjCBool = false
        let isFolder = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
        if isFolder {
            let data = try LabelledData.load(directory: path, normalization: TextNormalization(), deduplicate: true)
            let bytes = data.categories.reduce(0) { total, name in
                let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + name + ".txt")
                return total + (attributes?[.size] as? Int ?? 0)
            }
            return items(data.items.map(\.text), bytes: bytes, categories: data.categories.count, validationFraction: validationFraction)
        }
        let text = try TextFile.read(path)
        let bytes = text.utf8.count
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        if names {
            return items(lines.map(String.init).filter { !$0.isEmpty }, bytes: bytes, categories: 0, validationFraction: validationFraction)
        }
        let count = text.unicodeScalars.count
        let held = Int((Double(count) * validationFraction).rounded())
        let lineCharacters = lines.reduce(0) { $0 + $1.unicodeScalars.count }
        var counts: [Unicode.Scalar: Int] = [:]
        for c in text.unicodeScalars { counts[c, default: 0] += 1 }
        return CorpusProfile(bytes: bytes, trainingCharacters: count - held, validationCharacters: held,
                             vocabulary: counts.count, lines: lines.count,
                             meanLineLength: Double(lineCharacters) / Double(max(1, lines.count)),
                             characterPerplexity: perplexity(counts.values))
    }

    private static func items(_ list: [String], bytes: Int, categories: Int, validationFraction: Double) -> CorpusProfile {
        var counts: [Unicode.Scalar: Int] = ["\n": list.count]
        for item in list { for c in item.unicodeScalars { counts[c, default: 0] += 1 } }
        let held = Int((Double(list.count) * validationFraction).rounded())
        let characters = list.reduce(0) { $0 + $1.unicodeScalars.count + 1 }
        // Items are shuffled before the split: the held-out part is the mean's share.
        let heldCharacters = Int((Double(characters) * Double(held) / Double(max(1, list.count))).rounded())
        return CorpusProfile(bytes: bytes, trainingCharacters: characters - heldCharacters, validationCharacters: heldCharacters,
                             vocabulary: counts.count, trainingItems: list.count - held, validationItems: held,
                             categories: categories, lines: list.count,
                             meanLineLength: Double(characters - list.count) / Double(max(1, list.count)),
                             characterPerplexity: perplexity(counts.values))
    }

    private static func perplexity(_ counts: Dictionary<Unicode.Scalar, Int>.Values) -> Double {
        let total = Double(counts.reduce(0, +))
        guard total > 0 else { return 1 }
        let entropy = counts.reduce(0.0) { h, n in
            let p = Double(n) / total
            return h - p * log(p)
        }
        return exp(entropy)
    }
}
