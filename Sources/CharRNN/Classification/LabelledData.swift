import Foundation
import SystemPackage

/// How item text is normalised before it is encoded (stored in the checkpoint, applied again at prediction).
package struct TextNormalization: Codable, Sendable, Equatable {
    /// Unicode to ASCII folding as the PyTorch tutorial's unicode_to_ascii: decompose, drop combining marks.
    package var foldToASCII = false
    package var lowercase = false

    package init(foldToASCII: Bool = false, lowercase: Bool = false) {
        self.foldToASCII = foldToASCII
        self.lowercase = lowercase
    }

    enum CodingKeys: String, CodingKey { case foldToASCII = "fold_to_ascii", lowercase }

    package func apply(_ s: String) -> String {
        var t = s
        if foldToASCII {
            var out = String.UnicodeScalarView()
            for u in t.decomposedStringWithCanonicalMapping.unicodeScalars
            where u.properties.generalCategory != .nonspacingMark {
                out.append(u)
            }
            t = String(out)
        }
        if lowercase { t = t.lowercased() }
        return t
    }
}

/// A labelled data set: a folder of UTF-8 text files, one per category (the file name without its
/// extension), one item per line, as the PyTorch tutorial's data/names/*.txt.
package struct LabelledData: Sendable {
    package struct Item: Sendable, Equatable, Hashable {
        package var text: String
        package var label: Int
        package init(text: String, label: Int) { self.text = text; self.label = label }
    }

    package let categories: [String]
    package let items: [Item]
    /// Repeated items (same text, same category) dropped by deduplication, or kept when it is off.
    package let duplicates: Int
    /// Items that occur in more than one category.
    package let ambiguous: [String]

    /// `minimumCategories`: 2 to train a classifier; evaluating a model of names by category takes 1.
    package static func load(directory: String, normalization: TextNormalization, deduplicate: Bool,
                            minimumCategories: Int = 2) throws -> LabelledData {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) else {
            throw CharRNNError.fileNotFound(directory)
        }
        guard isDir.boolValue else { throw CharRNNError.invalidOption("\(directory) is not a folder of one text file per category") }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { !$0.hasPrefix(".") && $0.hasSuffix(".txt") }.sorted()
        guard !files.isEmpty else {
            throw CharRNNError.invalidOption("\(directory) has no .txt files (one file per category, one item per line)")
        }
        guard files.count >= minimumCategories else {
            throw CharRNNError.invalidOption("\(directory) has a single category (\(files[0])); classification needs at least two")
        }
        var categories: [String] = []
        var items: [Item] = []
        var duplicates = 0
        var seenIn: [String: Set<Int>] = [:]
        for (label, file) in files.enumerated() {
            let path = FilePath(directory).appending(file).string
            let text = try TextFile.read(path)
            var seen = Set<String>()
            var count = 0
            for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
                let item = normalization.apply(String(line).trimmingCharacters(in: .whitespaces))
                if item.isEmpty { continue }
                if !seen.insert(item).inserted {
                    duplicates += 1
                    if deduplicate { continue }
                }
                items.append(Item(text: item, label: label))
                seenIn[item, default: []].insert(label)
                count += 1
            }
            guard count > 0 else { throw CharRNNError.invalidOption("\(path) has no items (no non-empty lines)") }
            categories.append(String(file.dropLast(4)))
        }
        let ambiguous = seenIn.filter { $0.value.count > 1 }.map(\.key).sorted()
        return LabelledData(categories: categories, items: items, duplicates: duplicates, ambiguous: ambiguous)
    }

    package init(categories: [String], items: [Item], duplicates: Int = 0, ambiguous: [String] = []) {
        self.categories = categories
        self.items = items
        self.duplicates = duplicates
        self.ambiguous = ambiguous
    }

    package func count(of label: Int) -> Int { items.reduce(0) { $0 + ($1.label == label ? 1 : 0) } }

    /// A stratified split: in every category, the given fractions (rounded) go to validation and test.
    package func split(validation: Double, test: Double, seed: UInt64) -> (train: [Item], validation: [Item], test: [Item]) {
        var rng = RandomGenerator(seed: seed)
        var train: [Item] = [], val: [Item] = [], tst: [Item] = []
        for label in categories.indices {
            var group = items.filter { $0.label == label }
            group.shuffle(using: &rng)
            let nTest = Int((Double(group.count) * test).rounded()), nVal = Int((Double(group.count) * validation).rounded())
            tst += group.prefix(nTest)
            val += group.dropFirst(nTest).prefix(nVal)
            train += group.dropFirst(nTest + nVal)
        }
        return (train, val, tst)
    }
}
