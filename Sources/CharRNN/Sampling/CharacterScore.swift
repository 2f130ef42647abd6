/// How likely the model found one character: its log-probability (natural log, temperature 1) and,
/// when asked, the most likely characters at that place with theirs.
public struct CharacterScore: Sendable, Equatable {
    public struct Alternative: Sendable, Equatable {
        public var character: Unicode.Scalar
        public var logprob: Float
    }
    public var character: Unicode.Scalar
    /// nil for a character the model had no prediction for (the first of a prompt it read from it).
    public var logprob: Float?
    public var alternatives: [Alternative]

    /// The score of `character` (id `chosen`) from the log-probabilities of a step, with the `top` most
    /// likely characters (ties in vocabulary order).
    init(chosen: Int, logprobs: [Float], top: Int, vocabulary: Vocabulary) {
        character = vocabulary.decode(Int32(chosen))
        logprob = logprobs[chosen]
        alternatives = top <= 0 ? [] : logprobs.indices.sorted { logprobs[$0] > logprobs[$1] || (logprobs[$0] == logprobs[$1] && $0 < $1) }
            .prefix(top).map { Alternative(character: vocabulary.decode(Int32($0)), logprob: logprobs[$0]) }
    }

    public init(unscored character: Unicode.Scalar) {
        self.character = character
        logprob = nil
        alternatives = []
    }
}
