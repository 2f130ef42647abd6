/// The characters a model knows: Unicode scalars, sorted by code point (as Python's sorted(set(text))).
public struct Vocabulary: Sendable, Equatable {
    public let scalars: [Unicode.Scalar]
    private let index: [Unicode.Scalar: Int32]

    public init<S: Sequence>(scalarsOf text: S) where S.Element == Unicode.Scalar {
        self.init(scalars: Array(Set(text)))
    }

    public init(scalars: [Unicode.Scalar]) {
        let sorted = Array(Set(scalars)).sorted { $0.value < $1.value }
        self.scalars = sorted
        var index: [Unicode.Scalar: Int32] = [:]
        for (i, s) in sorted.enumerated() { index[s] = Int32(i) }
        self.index = index
    }

    public var count: Int { scalars.count }

    public func id(of s: Unicode.Scalar) -> Int32? { index[s] }

    public func contains(_ s: Unicode.Scalar) -> Bool { index[s] != nil }

    /// The ids of `text`; throws naming every character outside the vocabulary.
    public func encode(_ text: String, what: String) throws -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.unicodeScalars.count)
        var unknown: [Unicode.Scalar] = []
        for s in text.unicodeScalars {
            if let i = index[s] { ids.append(i) } else if !unknown.contains(s) { unknown.append(s) }
        }
        if !unknown.isEmpty {
            throw CharRNNError.unknownCharacters(what: what, chars: unknown.map { String($0) })
        }
        return ids
    }

    /// The ids of `text`, dropping characters outside the vocabulary; also returns how many were dropped.
    public func encodeSkippingUnknown(_ text: String) -> (ids: [Int32], skipped: Int) {
        var ids: [Int32] = []
        var skipped = 0
        for s in text.unicodeScalars {
            if let i = index[s] { ids.append(i) } else { skipped += 1 }
        }
        return (ids, skipped)
    }

    public func decode(_ id: Int32) -> Unicode.Scalar { scalars[Int(id)] }

    public func decode<S: Sequence>(_ ids: S) -> String where S.Element == Int32 {
        var s = String.UnicodeScalarView()
        for i in ids { s.append(scalars[Int(i)]) }
        return String(s)
    }

    public static func == (a: Vocabulary, b: Vocabulary) -> Bool { a.scalars == b.scalars }

    /// The ids a generation reads before its first draw: `prime`, after the start character when the
    /// prime is empty or the model reads names (each name starts after it).
    package func generationContext(_ prime: String, startCharacter: Unicode.Scalar, namesMode: Bool,
                                   what: String = "the prime text") throws -> [Int32] {
        var context = try encode(prime, what: what)
        if context.isEmpty || namesMode { context.insert(id(of: startCharacter) ?? 0, at: 0) }
        return context
    }
}
