import CCharRNNKernels
import Foundation

/// How the next character is chosen from the model's distribution.
public struct SamplingOptions: Sendable, Equatable {
    public var temperature: Float = 1
    /// Keep only the k most likely characters, and of equally likely ones at the k-th place the first in
    /// vocabulary order (nil: all).
    public var topK: Int? = nil
    /// Always take the most likely character.
    public var greedy = false
    /// Generation ends when this character is produced (it is not emitted).
    public var stop: Unicode.Scalar? = nil
    /// Nucleus sampling (Holtzman et al. 2020): keep the most likely characters whose probabilities,
    /// after the temperature and top-k, add up to at least p (ties at the cut in vocabulary order), and
    /// draw from them renormalised (nil or 1: all). Drawn on the host only.
    public var topP: Float? = nil
    /// OpenAI's penalties (its API reference, "parameter details"): before the temperature, each
    /// character's logit is lowered by frequency x (times it was generated so far) + presence x (1 if
    /// it was generated at all); counts cover the generated text, not the prime. In [-2, 2]; 0 is off.
    public var presencePenalty: Float = 0
    public var frequencyPenalty: Float = 0
    public var penalizes: Bool { presencePenalty != 0 || frequencyPenalty != 0 }

    public init(temperature: Float = 1, topK: Int? = nil, greedy: Bool = false, stop: Unicode.Scalar? = nil, topP: Float? = nil,
                presencePenalty: Float = 0, frequencyPenalty: Float = 0) {
        self.temperature = temperature; self.topK = topK; self.greedy = greedy; self.stop = stop; self.topP = topP
        self.presencePenalty = presencePenalty; self.frequencyPenalty = frequencyPenalty
    }

    /// A names model's generation ends at the end of a name (the line break between names) unless the
    /// caller chose another stop: the library decides this, so the CLI, the server and the page agree.
    public func endingNames(_ namesMode: Bool) -> SamplingOptions {
        guard namesMode, stop == nil else { return self }
        var o = self
        o.stop = "\n"
        return o
    }

    public func validate() throws {
        guard temperature > 0, temperature.isFinite else {
            throw CharRNNError.invalidOption("--temperature must be above 0 (got \(temperature))")
        }
        if let k = topK, k < 1 { throw CharRNNError.invalidOption("--top-k must be at least 1 (got \(k))") }
        if let p = topP, !(p > 0 && p <= 1) { throw CharRNNError.invalidOption("top-p must be above 0 and at most 1 (got \(p))") }
        for (name, v) in [("presence", presencePenalty), ("frequency", frequencyPenalty)] where !(v >= -2 && v <= 2) {
            throw CharRNNError.invalidOption("the \(name) penalty must be between -2 and 2 (got \(v))")
        }
    }

    /// Also refuses a stop character the model never saw: generation could never stop there.
    public func validate(for vocabulary: Vocabulary) throws {
        try validate()
        if let stop, vocabulary.id(of: stop) == nil {
            throw CharRNNError.invalidOption(
                "the stop character \(CharRNNError.quote(String(stop))) is not in the model's vocabulary, so generation would never stop there")
        }
    }
}

/// Generates text one character at a time from a trained model, batch 1, with no allocation per step.
package final class Sampler {
    public let model: CharRNNModel
    public let vocabulary: Vocabulary
    public let startCharacter: Unicode.Scalar
    private let state: HiddenState
    private let probabilities: FloatBuffer
    private let penalized: FloatBuffer
    private var noDropout = RandomGenerator(seed: 0)
    /// Names mode: every sample starts after the start symbol, also when a prime is given.
    public var namesMode = false

    public convenience init(checkpoint: Checkpoint) {
        self.init(model: checkpoint.model, vocabulary: checkpoint.vocabulary, startCharacter: checkpoint.startCharacter)
        namesMode = checkpoint.info.names ?? false
    }

    public init(model: CharRNNModel, vocabulary: Vocabulary, startCharacter: Unicode.Scalar) {
        self.model = model
        self.vocabulary = vocabulary
        self.startCharacter = startCharacter
        state = model.hiddenState(batch: 1)
        probabilities = FloatBuffer(count: vocabulary.count)
        penalized = FloatBuffer(count: vocabulary.count)
        model.freezeForInference()
    }

    /// The text a sample visibly begins with: the prime, or with none the start character the model is
    /// fed (the corpus's first), so an unprimed Shakespeare sample reads "First Citizen:", not "irst
    /// Citizen:". In names mode the start character is the line between names and is never shown.
    public static func opening(prime: String, startCharacter: Unicode.Scalar, namesMode: Bool) -> String {
        prime.isEmpty && !namesMode ? String(startCharacter) : prime
    }

    /// Feeds the prime text (or the start character when it is empty) from the zero state, then draws up
    /// to `length` characters with stream `stream` of `seed` (StreamDraws), calling `emit` with each;
    /// `emit` returns false to stop early. Returns the generated text (without the prime), or "" with
    /// `keep: false`, for a caller that takes it all from `emit` (an endless --length then runs in
    /// constant memory).
    ///
    /// `score`, when given, gets each character's score (its log-probability under the model at
    /// temperature 1 and the `alternatives` most likely characters) before `emit` gets the character.
    @discardableResult
    public func generate(prime: String, length: Int, options: SamplingOptions, seed: UInt64, stream: Int = 0,
                         category: Int32? = nil, keep: Bool = true, alternatives: Int = 0,
                         emit: (Unicode.Scalar) -> Bool = { _ in true }, score: ((CharacterScore) -> Void)? = nil) throws -> String {
        let options = options.endingNames(namesMode)
        try options.validate(for: vocabulary)
        try model.config.checkCategory(category)
        let categories = category.map { [$0] }
        let context = try vocabulary.generationContext(prime, startCharacter: startCharacter, namesMode: namesMode)
        state.reset()
        // All but the last prime character, a chunk of input products at a time.
        model.read(Array(context.dropLast()), state: state, categories: categories)
        var token = context[context.count - 1]
        var out = String.UnicodeScalarView()
        var counts = [Int32](repeating: 0, count: options.penalizes ? vocabulary.count : 0)
        var draws = StreamDraws(seed: seed, stream: stream)
        for _ in 0..<length {
            let logits = withUnsafePointer(to: &token) {
                model.forward($0, T: 1, B: 1, state: state, training: false, rng: &noDropout, categories: categories)
            }
            token = counts.withUnsafeBufferPointer { choose(logits: logits, options: options, draw: draws.current, counts: $0.baseAddress) }
            draws.advance()
            if options.penalizes { counts[Int(token)] += 1 }
            let ch = vocabulary.decode(token)
            if let score, ch != options.stop {
                score(CharacterScore(chosen: Int(token), logprobs: Self.logProbabilities(logits: logits, count: vocabulary.count),
                                     top: alternatives, vocabulary: vocabulary))
            }
            if let stop = options.stop, ch == stop { break }
            if keep { out.append(ch) }
            if !emit(ch) { break }
        }
        return String(out)
    }

    /// Zeroes all but the smallest set of the most likely entries of `p` (ties in index order) whose sum
    /// reaches `mass` of the whole.
    static func keepNucleus(_ p: UnsafeMutablePointer<Float>, count V: Int, mass: Float) {
        var total: Float = 0
        for j in 0..<V { total += p[j] }
        let order = (0..<V).sorted { p[$0] > p[$1] || (p[$0] == p[$1] && $0 < $1) }
        var kept: Float = 0, cut = V
        for (rank, j) in order.enumerated() {
            kept += p[j]
            if kept >= mass * total { cut = rank + 1; break }
        }
        for j in order[cut...] { p[j] = 0 }
    }

    /// log p(character) under the model (temperature 1) for every character of the vocabulary, from
    /// logits [V]: what a reply's logprobs report, whatever the sampling options.
    public static func logProbabilities(logits: UnsafePointer<Float>, count V: Int) -> [Float] {
        var peak = -Float.infinity
        for j in 0..<V { peak = max(peak, logits[j]) }
        var sum: Double = 0
        for j in 0..<V { sum += Double(expf(logits[j] - peak)) }
        let shift = peak + Float(log(sum))
        return (0..<V).map { logits[$0] - shift }
    }

    /// Picks the next id from logits [V] with the draw `u` in [0, 1) (StreamDraws.current; greedy needs
    /// none); `counts` [V], how often each character was generated so far, for the penalties.
    public func choose(logits raw: UnsafePointer<Float>, options: SamplingOptions, draw u: Float,
                       counts: UnsafePointer<Int32>? = nil) -> Int32 {
        let V = vocabulary.count
        var logits = raw
        if options.penalizes, let counts {
            let p = penalized.pointer
            p.update(from: raw, count: V)
            crn_penalize_logits(1, Int32(V), p, counts, options.presencePenalty, options.frequencyPenalty)
            logits = UnsafePointer(p)
        }
        if options.greedy {
            var best = 0
            for j in 1..<V where logits[j] > logits[best] { best = j }
            return Int32(best)
        }
        let p = probabilities.pointer
        crn_softmax_temperature(Int32(V), logits, 1 / options.temperature, p)
        // Zero all but the k largest, then draw from the rest in proportion.
        if let k = options.topK, k < V { crn_keep_top_k(Int32(V), p, Int32(k)) }
        if let nucleus = options.topP, nucleus < 1 { Self.keepNucleus(p, count: V, mass: nucleus) }
        var total: Float = 0
        for j in 0..<V { total += p[j] }
        let target = u * total
        var acc: Float = 0
        for j in 0..<V {
            acc += p[j]
            if target < acc { return Int32(j) }
        }
        for j in stride(from: V - 1, through: 0, by: -1) where p[j] > 0 { return Int32(j) }
        return Int32(V - 1)
    }
}
