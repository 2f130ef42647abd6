import CharRNN
import Foundation
import XCTest

final class NamesTests: XCTestCase {
    func testNamesModeLearnsAndStopsAtTheEndOfAName() throws {
        let dir = scratchDirectory()
        var rng = RandomGenerator(seed: 4)
        let syllables = ["sau", "rus", "don", "tyr", "rap", "tor", "cera", "odon", "ptero", "mega"]
        var names = Set<String>()
        while names.count < 300 {
            let n = 2 + rng.nextInt(below: 2)
            names.insert(String((0..<n).map { _ in syllables[rng.nextInt(below: syllables.count)] }.joined().capitalized))
        }
        try names.sorted().joined(separator: "\n").write(toFile: dir + "/dinos.txt", atomically: true, encoding: .utf8)
        var o = TrainingOptions(textPath: dir + "/dinos.txt", outputDirectory: dir + "/run")
        o.names = true; o.hidden = 48; o.embed = 16; o.batchSize = 16; o.learningRate = 1e-2
        o.maxSteps = 300; o.evalEvery = 100; o.threads = 1; o.validationFraction = 0.1
        let result = try Trainer(options: o).run()
        XCTAssertLessThan(result.validation!.nats, 1.6)
        let cp = try Checkpoint.load(dir + "/run")
        XCTAssertEqual(cp.info.names, true)
        let sampler = Sampler(checkpoint: cp)
        var generated: [String] = []
        for seed in 0..<40 {
            var r = RandomGenerator(seed: UInt64(seed))
            let s = try sampler.generate(prime: "", length: 40, options: SamplingOptions(temperature: 0.8, stop: "\n"), seed: r.next())
            XCTAssertFalse(s.contains("\n"))
            generated.append(s)
        }
        // Names look like the training ones: capitalised, built of the syllables.
        let capitalised = generated.filter { $0.first?.isUppercase == true && $0.dropFirst().allSatisfy(\.isLowercase) }
        XCTAssertGreaterThan(capitalised.count, 30, "\(generated)")
        XCTAssertGreaterThan(Set(generated).count, 20)
    }

    func testNamesModeResumesExactly() throws {
        let dir = scratchDirectory()
        try (0..<200).map { "name\($0 % 37)x\($0)" }.joined(separator: "\n").write(toFile: dir + "/n.txt", atomically: true, encoding: .utf8)
        var o = TrainingOptions(textPath: dir + "/n.txt", outputDirectory: dir + "/full")
        o.names = true; o.hidden = 16; o.embed = 8; o.batchSize = 8; o.maxSteps = 60; o.evalEvery = 20; o.threads = 1
        _ = try Trainer(options: o).run()
        var half = o
        half.outputDirectory = dir + "/half"; half.maxSteps = 40
        _ = try Trainer(options: half).run()
        _ = try Trainer(resumeFrom: dir + "/half") { $0.maxSteps = 60 }.run()
        XCTAssertEqual(try String(contentsOfFile: dir + "/full/loss.csv", encoding: .utf8),
                       try String(contentsOfFile: dir + "/half/loss.csv", encoding: .utf8))
    }

    func testConditionalGenerationFollowsTheCategory() throws {
        let dir = scratchDirectory()
        try writeVowelsAndStops(dir)
        var o = TrainingOptions(textPath: dir, outputDirectory: dir + "/run")
        o.hidden = 32; o.embed = 8; o.batchSize = 16; o.learningRate = 1e-2; o.maxSteps = 250; o.evalEvery = 250; o.threads = 1
        _ = try Trainer(options: o).run()
        let cp = try Checkpoint.load(dir + "/run")
        XCTAssertEqual(cp.info.categoryNames, ["Stops", "Vowels"])
        XCTAssertEqual(cp.model.config.categories, 2)
        let sampler = Sampler(checkpoint: cp)
        var r = RandomGenerator(seed: 1)
        let options = SamplingOptions(temperature: 0.7, stop: "\n")
        for _ in 0..<10 {
            let v = try sampler.generate(prime: "", length: 20, options: options, seed: r.next(), category: 1)
            let s = try sampler.generate(prime: "", length: 20, options: options, seed: r.next(), category: 0)
            XCTAssertTrue(v.allSatisfy { "aeiou".contains($0) }, v)
            XCTAssertTrue(s.allSatisfy { "kptsz".contains($0) }, s)
        }
        XCTAssertThrowsError(try sampler.generate(prime: "", length: 5, options: options, seed: r.next()))
    }

    /// Gradient check of the category input path (layer 0 reads [embedding | one-hot category]).
    func testConditionalGradients() {
        for embed in [0, 3] {
            let config = ModelConfig(cell: .gru, layers: 2, hidden: 4, embed: embed, vocabSize: 5, categories: 3)
            let model = randomModel(config, seed: 2, scale: 1.5)
            let T = 3, B = 2
            let x = randomIds(T * B, vocab: 5, seed: 3), y = randomIds(T * B, vocab: 5, seed: 4)
            let cats: [Int32] = [2, 0]
            var rng = RandomGenerator(seed: 0)
            _ = x.withUnsafeBufferPointer { xp in
                y.withUnsafeBufferPointer {
                    model.lossAndGradients(xp.baseAddress!, targets: $0.baseAddress!, T: T, B: B,
                                           state: model.hiddenState(batch: B), rng: &rng, categories: cats)
                }
            }
            let analytic = model.gradients.array
            func loss() -> Double {
                _ = x.withUnsafeBufferPointer {
                    model.forward($0.baseAddress!, T: T, B: B, state: model.hiddenState(batch: B), training: false, rng: &rng, categories: cats)
                }
                return y.withUnsafeBufferPointer { model.lossOfLastForward(targets: $0.baseAddress!) } / Double(T * B)
            }
            let check = finiteDifferences(model.parameters, analytic: analytic, loss: loss)
            XCTAssertGreaterThan(check.scale, 1e-6, "embed \(embed)")
            XCTAssertLessThan(check.relativeError, 3e-3, "embed \(embed)")
        }
    }
}
