/// The most likely continuation of a prime under the model, by beam search: at each step every beam
/// is extended by every character and the `beams` most likely extensions (by their total
/// log-probability, temperature 1) are kept. A beam that generates the stop character ends there
/// (the stop is not part of its text); the search ends when `length` characters were generated or
/// every beam ended, and the most likely of the ended and full-length beams wins. Ties go to the
/// earlier beam, then the character first in vocabulary order, so the search is deterministic.
/// With `beams` at least V^(length-1) it is exhaustive; with 1 it is greedy decoding.
package struct BeamSearch {
    package let model: CharRNNModel
    package let vocabulary: Vocabulary
    package let startCharacter: Unicode.Scalar
    package let namesMode: Bool

    package init(checkpoint: Checkpoint) {
        model = checkpoint.model
        vocabulary = checkpoint.vocabulary
        startCharacter = checkpoint.startCharacter
        namesMode = checkpoint.info.names ?? false
        model.freezeForInference()
    }

    package init(model: CharRNNModel, vocabulary: Vocabulary, startCharacter: Unicode.Scalar, namesMode: Bool = false) {
        self.model = model; self.vocabulary = vocabulary; self.startCharacter = startCharacter; self.namesMode = namesMode
        model.freezeForInference()
    }

    package struct Result: Sendable, Equatable {
        package var text: String
        /// The sum of the generated characters' log-probabilities (the stop's included when it ended one).
        package var logprob: Double
        package var stopped: Bool
    }

    private struct Beam {
        var ids: [Int32]
        var score: Double
        var stopped: Bool
    }

    package func search(prime: String, beams: Int, length: Int, stop: Unicode.Scalar? = nil, category: Int32? = nil) throws -> Result {
        guard beams >= 1 else { throw CharRNNError.invalidOption("--beam must be at least 1 (got \(beams))") }
        guard length >= 0 else { throw CharRNNError.invalidOption("--length must be 0 or more (got \(length))") }
        let stopId = try stop.map { s -> Int32 in
            guard let id = vocabulary.id(of: s) else {
                throw CharRNNError.invalidOption("the stop character \(CharRNNError.quote(String(s))) is not in the model's vocabulary")
            }
            return id
        }
        try model.config.checkCategory(category)
        let context = try vocabulary.generationContext(prime, startCharacter: startCharacter, namesMode: namesMode)
        let V = vocabulary.count, H = model.config.hidden, S = model.config.cell.stateCount
        var state = model.hiddenState(batch: 1)
        state.reset()
        model.read(Array(context.dropLast()), state: state, categories: category.map { [$0] })
        var active = [Beam(ids: [], score: 0, stopped: false)]
        var lastTokens: [Int32] = [context[context.count - 1]]
        var ended: [Beam] = []
        var noDropout = RandomGenerator(seed: 0)
        for _ in 0..<length where !active.isEmpty {
            let B = active.count
            let logits = lastTokens.withUnsafeBufferPointer {
                model.forward($0.baseAddress!, T: 1, B: B, state: state, training: false, rng: &noDropout,
                              categories: category.map { [Int32](repeating: $0, count: B) })
            }
            // Every extension of every active beam, and the beams that ended, ranked together: the
            // best `beams` of them go on (ties: ended beams first, then by beam, then by character).
            var pool: [(score: Double, rank: (Int, Int, Int32))] = ended.enumerated().map { ($0.element.score, (0, $0.offset, 0)) }
            pool.reserveCapacity(ended.count + B * V)
            for b in 0..<B {
                let lp = Sampler.logProbabilities(logits: logits + b * V, count: V)
                for j in 0..<V { pool.append((active[b].score + Double(lp[j]), (1, b, Int32(j)))) }
            }
            pool.sort { $0.score > $1.score || ($0.score == $1.score && $0.rank < $1.rank) }
            var stillEnded: [Beam] = [], next: [Beam] = [], parents: [Int] = []
            for p in pool.prefix(beams) {
                let (kind, b, id) = p.rank
                if kind == 0 {
                    stillEnded.append(ended[b])
                } else if id == stopId {
                    stillEnded.append(Beam(ids: active[b].ids, score: p.score, stopped: true))
                } else {
                    next.append(Beam(ids: active[b].ids + [id], score: p.score, stopped: false))
                    parents.append(b)
                }
            }
            ended = stillEnded
            // The new beams' states: each its parent's row after this step.
            let nextState = model.hiddenState(batch: max(next.count, 1))
            for (l, block) in state.blocks.enumerated() {
                let to = nextState.blocks[l]
                for (i, parent) in parents.enumerated() {
                    for s in 0..<S { (to.pointer + (s * next.count + i) * H).update(from: block.pointer + (s * B + parent) * H, count: H) }
                }
            }
            state = nextState
            active = next
            lastTokens = next.map { $0.ids.last! }
        }
        let finalists = ended + active
        let best = finalists.enumerated().max { a, b in
            a.element.score < b.element.score || (a.element.score == b.element.score && a.offset > b.offset)
        }!.element
        return Result(text: vocabulary.decode(best.ids), logprob: best.score, stopped: best.stopped)
    }
}
