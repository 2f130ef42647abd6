import CharRNN
import Foundation

/// One line of `sample --logprobs`: a generated character, its log-probability and its alternatives.
struct ScoredCharacterLine: Encodable {
    var sample: Int
    var offset: Int
    var character: String
    var logprob: Float
    var top: [String: Float]

    init(sample: Int, offset: Int, score: CharacterScore, alternatives: Int) {
        self.sample = sample
        self.offset = offset
        character = String(score.character)
        logprob = score.logprob ?? 0
        top = Dictionary(score.alternatives.prefix(alternatives).map { (String($0.character), $0.logprob) }, uniquingKeysWith: { a, _ in a })
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
