/// A text as ids over its vocabulary, split into a training and a validation part (the validation
/// part is the end of the text, as char-rnn does).
package struct Corpus: Sendable {
    package let vocabulary: Vocabulary
    package let train: [Int32]
    package let validation: [Int32]

    package init(text: String, vocabulary: Vocabulary? = nil, validationFraction: Double) throws {
        let vocab = vocabulary ?? Vocabulary(scalarsOf: text.unicodeScalars)
        let ids = try vocab.encode(text, what: "the training text")
        let nVal = Int((Double(ids.count) * validationFraction).rounded())
        self.vocabulary = vocab
        self.train = Array(ids[0..<(ids.count - nVal)])
        self.validation = Array(ids[(ids.count - nVal)...])
    }

    /// A 64-bit FNV-1a hash of the training ids and the vocabulary, to tell whether a resumed run sees the same text.
    package var fingerprint: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for s in vocabulary.scalars { h = (h ^ UInt64(s.value)) &* 0x100_0000_01b3 }
        for i in train { h = (h ^ UInt64(UInt32(bitPattern: i))) &* 0x100_0000_01b3 }
        for i in validation { h = (h ^ UInt64(UInt32(bitPattern: i))) &* 0x100_0000_01b3 }
        return h
    }
}
