import CharRNN
import Foundation
import XCTest

/// Nucleus sampling against numpy's reference distributions, stop strings cut exactly, and the
/// per-character scores that sampling and evaluation report.
final class GenerationOptionsTests: XCTestCase {
    struct Case: Decodable {
        var logits: [Float]
        var temperature: Float
        var top_k: Int?
        var top_p: Float?
        var probabilities: [Double]
        var one_more: [Double]
    }

    func chiSquare(_ counts: [Int], _ p: [Double], draws: Int) -> Double {
        var x2 = 0.0
        for (c, q) in zip(counts, p) where q > 0 {
            let expected = q * Double(draws)
            x2 += (Double(c) - expected) * (Double(c) - expected) / expected
        }
        return x2
    }

    /// Draws follow numpy's distribution (chi-square below its 0.999 quantile, never a character it
    /// gives no probability), and a cut-off one character later is told apart.
    func testNucleusSamplingMatchesTheReference() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixturesDirectory() + "/nucleus.json"))
        let cases = try JSONDecoder().decode([String: [Case]].self, from: data)["cases"]!
        let vocab = Vocabulary(scalarsOf: "abcdefgh \n".unicodeScalars)
        let model = randomModel(ModelConfig(cell: .lstm, layers: 1, hidden: 4, embed: 2, vocabSize: vocab.count), seed: 1)
        let sampler = Sampler(model: model, vocabulary: vocab, startCharacter: "\n")
        // 0.999 quantiles of chi-square with 1 to 9 degrees of freedom.
        let limit = [10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12, 27.88]
        for (k, c) in cases.enumerated() {
            XCTAssertEqual(c.logits.count, vocab.count)
            let options = SamplingOptions(temperature: c.temperature, topK: c.top_k, topP: c.top_p)
            var rng = RandomGenerator(seed: UInt64(k))
            var counts = [Int](repeating: 0, count: vocab.count)
            let draws = 40_000
            c.logits.withUnsafeBufferPointer { logits in
                for _ in 0..<draws { counts[Int(sampler.choose(logits: logits.baseAddress!, options: options, draw: rng.nextFloat()))] += 1 }
            }
            for j in 0..<vocab.count where c.probabilities[j] == 0 { XCTAssertEqual(counts[j], 0, "case \(k): character \(j) is outside the nucleus") }
            let kept = c.probabilities.filter { $0 > 0 }.count
            if kept > 1 {
                XCTAssertLessThan(chiSquare(counts, c.probabilities, draws: draws), limit[kept - 2], "case \(k)")
            }
            // The same draws against a nucleus cut one character later: that character is never drawn.
            let later = c.one_more.indices.first { c.one_more[$0] > 0 && c.probabilities[$0] == 0 }!
            XCTAssertEqual(counts[later], 0)
            XCTAssertGreaterThan(chiSquare(counts, c.one_more, draws: draws), limit[8], "case \(k): a later cut-off must be told apart")
        }
    }

    func testStopStringsAreCutExactlyAndHeldBackWhileTheyMayStillCome() {
        var filter = StopStrings(["\n\n", "ROMEO:"])
        func feed(_ s: String) -> String {
            var out = ""
            out.unicodeScalars.append(contentsOf: filter.feed(s.unicodeScalars.map { ($0, nil) }).map(\.character))
            return out
        }
        XCTAssertEqual(feed("Good day.\n"), "Good day.", "a line break may begin a blank line: held back")
        XCTAssertEqual(feed("RO"), "\n", "the held line break goes out once the next characters rule the stop out; RO is held")
        XCTAssertEqual(feed("MEO"), "")
        XCTAssertFalse(filter.stopped)
        XCTAssertEqual(feed(":and more"), "", "the stop string and everything after it are dropped")
        XCTAssertTrue(filter.stopped)
        XCTAssertEqual(filter.flush().count, 0)

        XCTAssertEqual(StopStrings.cut("one\ntwo\n\nthree", at: ["\n\n"]).text, "one\ntwo")
        XCTAssertEqual(StopStrings.cut("abcabd", at: ["abd", "ca"]).text, "ab", "the earliest stop wins")
        XCTAssertEqual(StopStrings.cut("no stop here", at: ["xyz"]).text, "no stop here")
        XCTAssertFalse(StopStrings.cut("ends with RO", at: ["ROMEO"]).stopped, "a stop's beginning at the end is kept")
        XCTAssertEqual(StopStrings.cut("ends with RO", at: ["ROMEO"]).text, "ends with RO")
    }

    /// The scores sampling reports are the model's log-probabilities, which evaluation sums: the mean
    /// of -logprob over a text is `eval`'s loss of it, and sampling the text scores it the same way.
    func testScoresAgreeWithEvaluation() throws {
        let vocab = Vocabulary(scalarsOf: "abcdefgh \n".unicodeScalars)
        let model = randomModel(ModelConfig(cell: .gru, layers: 2, hidden: 12, embed: 4, vocabSize: vocab.count), seed: 8)
        let sampler = Sampler(model: model, vocabulary: vocab, startCharacter: "\n")
        var scores: [CharacterScore] = []
        let text = try sampler.generate(prime: "ab", length: 300, options: SamplingOptions(), seed: 3, alternatives: 3,
                                        emit: { _ in true }, score: { scores.append($0) })
        XCTAssertEqual(scores.count, 300)
        XCTAssertEqual(String(String.UnicodeScalarView(scores.map(\.character))), text)
        for s in scores {
            XCTAssertEqual(s.alternatives.count, 3)
            XCTAssertGreaterThanOrEqual(s.alternatives[0].logprob, s.logprob!)
            XCTAssertLessThanOrEqual(s.logprob!, 0)
        }
        let ids = try vocab.encode("ab" + text, what: "text")
        let perCharacter = Evaluation.characterLogprobs(of: model, ids: ids, chunk: 37)
        XCTAssertEqual(perCharacter.count, ids.count - 1)
        for (k, s) in scores.enumerated() { XCTAssertEqual(perCharacter[k + 1], s.logprob!, accuracy: 1e-4, "character \(k)") }
        let loss = try Evaluation.loss(of: model, ids: ids, streams: 1, chunk: 64)
        XCTAssertEqual(-perCharacter.reduce(0.0) { $0 + Double($1) } / Double(perCharacter.count), loss.nats, accuracy: 1e-5)
    }
}

/// Beam search against an exhaustive search of every continuation, on a tiny model and vocabulary.
final class BeamSearchTests: XCTestCase {
    func testBeamSearchFindsTheMostLikelyContinuation() throws {
        let vocab = Vocabulary(scalarsOf: "ab\n".unicodeScalars)
        for (seed, cell) in [(UInt64(2), CellKind.lstm), (5, .gru), (7, .rnnTanh)] {
            let model = randomModel(ModelConfig(cell: cell, layers: 2, hidden: 6, embed: 3, vocabSize: vocab.count), seed: seed, scale: 3)
            let search = BeamSearch(model: model, vocabulary: vocab, startCharacter: "\n")
            let L = 5, V = vocab.count
            let context = try vocab.encode("ab", what: "prime")
            // Every sequence of L characters, scored by reading it after the prime from the zero state.
            var best: (score: Double, text: String) = (-.infinity, "")
            for code in 0..<Int(pow(Double(V), Double(L))) {
                var c = code
                var ids: [Int32] = []
                for _ in 0..<L { ids.append(Int32(c % V)); c /= V }
                ids.reverse()
                let lp = Evaluation.characterLogprobs(of: model, ids: context + ids, chunk: 64)
                let score = lp.suffix(L).reduce(0.0) { $0 + Double($1) }
                if score > best.score + 1e-9 { best = (score, vocab.decode(ids)) }
            }
            let exhaustive = try search.search(prime: "ab", beams: Int(pow(Double(V), Double(L - 1))), length: L)
            XCTAssertEqual(exhaustive.text, best.text, "\(cell): as many beams as sequences of L-1 characters is exhaustive")
            XCTAssertEqual(exhaustive.logprob, best.score, accuracy: 1e-4)
            // One beam is greedy decoding.
            let sampler = Sampler(model: model, vocabulary: vocab, startCharacter: "\n")
            let greedy = try sampler.generate(prime: "ab", length: L, options: SamplingOptions(greedy: true), seed: 0)
            XCTAssertEqual(try search.search(prime: "ab", beams: 1, length: L).text, greedy, "\(cell)")
            // More beams never find a less likely text; the same search gives the same text.
            var previous = -Double.infinity
            for beams in [1, 2, 4, 8, 81] {
                let found = try search.search(prime: "ab", beams: beams, length: L)
                XCTAssertGreaterThanOrEqual(found.logprob, previous - 1e-9, "\(cell): \(beams) beams")
                previous = max(previous, found.logprob)
                XCTAssertEqual(try search.search(prime: "ab", beams: beams, length: L), found)
            }
        }
    }

    func testABeamEndsAtTheStopCharacter() throws {
        let vocab = Vocabulary(scalarsOf: "ab\n".unicodeScalars)
        let model = randomModel(ModelConfig(cell: .lstm, layers: 1, hidden: 5, embed: 2, vocabSize: vocab.count), seed: 3)
        model.parameters[model.layout["decoder.bias"]!.offset] += 2  // the line break is likely
        let found = try BeamSearch(model: model, vocabulary: vocab, startCharacter: "\n").search(prime: "a", beams: 4, length: 30, stop: "\n")
        XCTAssertTrue(found.stopped)
        XCTAssertFalse(found.text.contains("\n"))
        XCTAssertLessThan(found.text.count, 30)
    }
}

/// OpenAI's presence and frequency penalties against numpy's reference distributions.
final class PenaltyTests: XCTestCase {
    struct Case: Decodable {
        var logits: [Float]
        var counts: [Int32]
        var presence: Float
        var frequency: Float
        var temperature: Float
        var probabilities: [Double]
    }

    func testPenaltiesMatchTheReference() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixturesDirectory() + "/penalties.json"))
        let cases = try JSONDecoder().decode([String: [Case]].self, from: data)["cases"]!
        let vocab = Vocabulary(scalarsOf: "abcdefgh \n".unicodeScalars)
        let sampler = Sampler(model: randomModel(ModelConfig(cell: .gru, layers: 1, hidden: 4, embed: 2, vocabSize: vocab.count), seed: 1),
                              vocabulary: vocab, startCharacter: "\n")
        let draws = 40_000
        for (k, c) in cases.enumerated() {
            let options = SamplingOptions(temperature: c.temperature, presencePenalty: c.presence, frequencyPenalty: c.frequency)
            func histogram(_ counts: [Int32]?) -> [Int] {
                var rng = RandomGenerator(seed: UInt64(k))
                var h = [Int](repeating: 0, count: vocab.count)
                c.logits.withUnsafeBufferPointer { logits in
                    (counts ?? []).withUnsafeBufferPointer { seen in
                        for _ in 0..<draws {
                            h[Int(sampler.choose(logits: logits.baseAddress!, options: options, draw: rng.nextFloat(), counts: counts == nil ? nil : seen.baseAddress))] += 1
                        }
                    }
                }
                return h
            }
            var x2 = 0.0
            for (n, q) in zip(histogram(c.counts), c.probabilities) { x2 += pow(Double(n) - q * Double(draws), 2) / (q * Double(draws)) }
            XCTAssertLessThan(x2, 27.88, "case \(k): chi-square with 9 degrees of freedom, 0.999 quantile")
            // Without the counts nothing is penalised: the draws then follow the plain softmax, which the test tells apart.
            var plain = 0.0
            for (n, q) in zip(histogram(nil), c.probabilities) { plain += pow(Double(n) - q * Double(draws), 2) / (q * Double(draws)) }
            XCTAssertGreaterThan(plain, 27.88, "case \(k): the penalties change the distribution")
        }
    }
}
