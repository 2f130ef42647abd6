import CharRNN
import XCTest

final class SamplingTests: XCTestCase {
    func sampler() -> Sampler {
        let vocab = Vocabulary(scalarsOf: "abcdefgh \n".unicodeScalars)
        let model = randomModel(ModelConfig(cell: .lstm, layers: 2, hidden: 16, embed: 8, vocabSize: vocab.count), seed: 3)
        return Sampler(model: model, vocabulary: vocab, startCharacter: "\n")
    }

    func testSameSeedSameText() throws {
        let s = sampler()
        var r1 = RandomGenerator(seed: 42), r2 = RandomGenerator(seed: 42), r3 = RandomGenerator(seed: 43)
        let a = try s.generate(prime: "abc", length: 200, options: SamplingOptions(temperature: 0.9), rng: &r1)
        let b = try s.generate(prime: "abc", length: 200, options: SamplingOptions(temperature: 0.9), rng: &r2)
        let c = try s.generate(prime: "abc", length: 200, options: SamplingOptions(temperature: 0.9), rng: &r3)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertEqual(a.unicodeScalars.count, 200)
    }

    func testTopOneIsGreedy() throws {
        let s = sampler()
        var r1 = RandomGenerator(seed: 1), r2 = RandomGenerator(seed: 2)
        let greedy = try s.generate(prime: "", length: 50, options: SamplingOptions(greedy: true), rng: &r1)
        let top1 = try s.generate(prime: "", length: 50, options: SamplingOptions(temperature: 1.5, topK: 1), rng: &r2)
        XCTAssertEqual(greedy, top1)
    }

    func testTopKRestrictsTheChoice() throws {
        let s = sampler()
        // At a hot temperature, many draws after the same prefix must land on at most two characters,
        // one of which is the greedy choice.
        for prefix in ["ab", "hg", "c d"] {
            var g = RandomGenerator(seed: 0)
            let best = try s.generate(prime: prefix, length: 1, options: SamplingOptions(greedy: true), rng: &g)
            var seen = Set<Unicode.Scalar>()
            var unrestricted = Set<Unicode.Scalar>()
            for seed in 0..<60 {
                var r = RandomGenerator(seed: UInt64(seed))
                seen.formUnion(try s.generate(prime: prefix, length: 1, options: SamplingOptions(temperature: 3, topK: 2), rng: &r).unicodeScalars)
                var r2 = RandomGenerator(seed: UInt64(seed))
                unrestricted.formUnion(try s.generate(prime: prefix, length: 1, options: SamplingOptions(temperature: 3), rng: &r2).unicodeScalars)
            }
            XCTAssertEqual(seen.count, 2, prefix)
            XCTAssertTrue(seen.contains(best.unicodeScalars.first!), prefix)
            XCTAssertGreaterThan(unrestricted.count, 2, "without top-k the draws spread wider")
        }
    }

    func testStopCharacterEndsTheSample() throws {
        let s = sampler()
        var rng = RandomGenerator(seed: 9)
        let text = try s.generate(prime: "", length: 500, options: SamplingOptions(temperature: 1, stop: " "), rng: &rng)
        XCTAssertFalse(text.contains(" "))
        XCTAssertLessThan(text.count, 500)
    }

    func testUnknownPrimeAndBadOptionsAreErrors() {
        let s = sampler()
        var rng = RandomGenerator(seed: 1)
        XCTAssertThrowsError(try s.generate(prime: "abz", length: 5, options: SamplingOptions(), rng: &rng)) {
            XCTAssertEqual("\($0)", "the prime text has characters the model never saw: 'z'")
        }
        XCTAssertThrowsError(try s.generate(prime: "a", length: 5, options: SamplingOptions(temperature: 0), rng: &rng))
        XCTAssertThrowsError(try s.generate(prime: "a", length: 5, options: SamplingOptions(topK: 0), rng: &rng))
    }
}
