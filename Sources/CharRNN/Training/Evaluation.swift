/// Average cross-entropy, perplexity and bits per character of a model over a text.
public struct LossReport: Sendable, Equatable {
    public var nats: Double
    public var characters: Int
    public var perplexity: Double { exp(nats) }
    public var bitsPerCharacter: Double { nats / log(2.0) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What evaluation needs of a model, on whichever device it lives: a state for B streams, and the
/// summed cross-entropy of T steps read from it (the state advances).
package protocol EvaluatedModel {
    associatedtype State
    func evaluationState(batch: Int) throws -> State
    func summedLoss(_ inputs: [Int32], targets: [Int32], T: Int, B: Int, state: State, categories: [Int32]?) throws -> Double
}

extension CharRNNModel: EvaluatedModel {
    public func evaluationState(batch: Int) -> HiddenState { hiddenState(batch: batch) }

    public func summedLoss(_ inputs: [Int32], targets: [Int32], T: Int, B: Int, state: HiddenState,
                           categories: [Int32]?) -> Double {
        var rng = RandomGenerator(seed: 0)
        inputs.withUnsafeBufferPointer { x in
            _ = forward(x.baseAddress!, T: T, B: B, state: state, training: false, rng: &rng, categories: categories)
        }
        return targets.withUnsafeBufferPointer { lossOfLastForward(targets: $0.baseAddress!) }
    }
}

extension DeviceModel: EvaluatedModel {
    public func evaluationState(batch: Int) throws -> DeviceHiddenState { try hiddenState(batch: batch) }

    public func summedLoss(_ inputs: [Int32], targets: [Int32], T: Int, B: Int, state: DeviceHiddenState,
                           categories: [Int32]?) throws -> Double {
        var rng = RandomGenerator(seed: 0)
        try forward(Array(inputs.prefix(T * B)), T: T, B: B, state: state, training: false, rng: &rng, categories: categories)
        return try lossOfLastForward(targets: Array(targets.prefix(T * B)))
    }
}

package enum Evaluation {
    /// Cross-entropy of predicting ids[i+1] from ids[0...i], the text split into `streams` contiguous
    /// streams whose hidden state is carried from start to end (streams = 1: through the whole text).
    /// Each stream is processed `chunk` steps at a time, so the input projection is one product per chunk.
    /// `check` runs before each chunk; what it throws ends the evaluation (Ctrl-C in a long validation).
    public static func loss<M: EvaluatedModel>(of model: M, ids: [Int32], streams requested: Int, chunk requestedChunk: Int,
                                               check: () throws -> Void = {}) throws -> LossReport {
        guard ids.count >= 2 else { return LossReport(nats: .nan, characters: 0) }
        let chunk = max(1, min(requestedChunk, ids.count - 1))
        let streams = max(1, min(requested, (ids.count - 1) / chunk))
        let S = (ids.count - 1) / streams
        let state = try model.evaluationState(batch: streams)
        var inputs = [Int32](repeating: 0, count: chunk * streams)
        var targets = inputs
        var total = 0.0
        var pos = 0
        while pos < S {
            try check()
            let T = min(chunk, S - pos)
            for b in 0..<streams {
                for t in 0..<T {
                    inputs[t * streams + b] = ids[b * S + pos + t]
                    targets[t * streams + b] = ids[b * S + pos + t + 1]
                }
            }
            total += try model.summedLoss(inputs, targets: targets, T: T, B: streams, state: state, categories: nil)
            pos += T
        }
        let n = S * streams
        return LossReport(nats: total / Double(n), characters: n)
    }
}

extension Evaluation {
    /// log p(ids[i] | ids[..<i]) for every i from 1, the state carried through the whole text (one
    /// stream, `chunk` characters a pass): what `eval --per-char` prints, and what the loss averages.
    public static func characterLogprobs(of model: CharRNNModel, ids: [Int32], chunk requestedChunk: Int) -> [Float] {
        guard ids.count >= 2 else { return [] }
        let chunk = max(1, min(requestedChunk, ids.count - 1))
        let state = model.hiddenState(batch: 1)
        state.reset()
        var rng = RandomGenerator(seed: 0)
        let V = model.config.vocabSize
        var out: [Float] = []
        out.reserveCapacity(ids.count - 1)
        var pos = 0
        while pos < ids.count - 1 {
            let T = min(chunk, ids.count - 1 - pos)
            let logits = ids[pos..<pos + T].withContiguousStorageIfAvailable {
                model.forward($0.baseAddress!, T: T, B: 1, state: state, training: false, rng: &rng, categories: nil)
            } ?? Array(ids[pos..<pos + T]).withUnsafeBufferPointer {
                model.forward($0.baseAddress!, T: T, B: 1, state: state, training: false, rng: &rng, categories: nil)
            }
            for t in 0..<T {
                out.append(Sampler.logProbabilities(logits: logits + t * V, count: V)[Int(ids[pos + t + 1])])
            }
            pos += T
        }
        return out
    }

    /// Mean cross-entropy over lines read one by one from the zero state (names mode), including the
    /// end-of-name symbol; lines of equal length are evaluated together.
    public static func loss<M: EvaluatedModel>(of model: M, lines: [LineBatches.Line], separator: Int32, batch: Int,
                                               conditional: Bool, check: () throws -> Void = {}) throws -> LossReport {
        var byLength: [Int: [LineBatches.Line]] = [:]
        for l in lines { byLength[l.ids.count, default: []].append(l) }
        var total = 0.0, count = 0
        for length in byLength.keys.sorted() {
            let group = byLength[length]!
            for s in stride(from: 0, to: group.count, by: max(1, batch)) {
                try check()
                let part = Array(group[s..<min(s + max(1, batch), group.count)])
                let b = LineBatches.assemble(part, separator: separator)
                let state = try model.evaluationState(batch: b.B)
                total += try model.summedLoss(b.inputs, targets: b.targets, T: b.T, B: b.B, state: state,
                                              categories: conditional ? b.categories : nil)
                count += b.T * b.B
            }
        }
        return LossReport(nats: total / Double(max(count, 1)), characters: count)
    }
}
