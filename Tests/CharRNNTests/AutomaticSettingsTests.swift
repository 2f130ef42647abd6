import CharRNN
import XCTest

/// The settings chosen from the text, the budget and the machine: the rules of docs/training.md, with a
/// throughput that scales with the model's multiply-adds as this project's 2-core machine measured
/// (about 120 GFLOP/s for LSTMs from 2x128 to 2x512).
final class AutomaticSettingsTests: XCTestCase {
    let flopsPerSecond = 1.2e11
    var probes: [Int] = []

    func throughput(_ c: ModelConfig, _ batch: Int, _ steps: Int) -> Double {
        probes.append(c.hidden)
        return flopsPerSecond / Double(3 * c.forwardFlopsPerCharacter)
    }

    func text(_ megabytes: Double, vocabulary: Int = 65) -> CorpusProfile {
        let n = Int(megabytes * 1e6)
        return CorpusProfile(bytes: n, trainingCharacters: n * 9 / 10, validationCharacters: n / 10, vocabulary: vocabulary,
                             lines: n / 27, meanLineLength: 26)
    }

    func options(seconds: Double? = nil, steps: Int? = nil) -> TrainingOptions {
        var o = TrainingOptions(textPath: "t.txt", outputDirectory: "runs/t")
        o.maxTime = seconds
        o.maxSteps = steps
        o.threads = 2
        return o
    }

    func weights(_ o: TrainingOptions, vocabulary: Int = 65) -> Double {
        Double(AutomaticSettings.recurrentWeights(o.modelConfig(vocabSize: vocabulary)))
    }

    /// 1.1 MB of text on this throughput: 2 minutes train 17M characters on a 2x96 (125 a weight; a
    /// 2x128 gets 44, under the 50 a run its budget limits needs), read 17 times by a model of 0.14
    /// weights a character: no dropout, a constant rate. 10 minutes press any size 5 times harder:
    /// regularised, 10 characters a weight suffice (2x256: 16; 2x384: 3.4), dropout 0.25 for a pressure
    /// of 12. An hour: 2x384 (20 a weight) at a pressure of 72: dropout and weight drop 0.2.
    func testTheModelAndItsRegularisationFollowTheBudget() throws {
        let expected: [(minutes: Double, hidden: Int, dropout: Double, weightDrop: Double?, schedule: LRScheduleKind)] = [
            (2, 96, 0, nil, .constant), (10, 256, 0.25, nil, .cosine), (60, 384, 0.2, 0.2, .cosine)]
        for e in expected {
            probes = []
            let c = try AutomaticSettings.choose(for: text(1.1), options: options(seconds: 60 * e.minutes), given: TrainingChoices(),
                                                 throughput: throughput)
            let o = c.options
            XCTAssertEqual(o.hidden, e.hidden, "\(e.minutes) min: \(c.summary)")
            XCTAssertEqual(o.dropout, e.dropout, "\(e.minutes) min")
            XCTAssertEqual(o.weightDrop, e.weightDrop, "\(e.minutes) min")
            XCTAssertEqual(o.lrSchedule, e.schedule, "\(e.minutes) min")
            XCTAssertEqual(o.optimizer, e.schedule == .constant ? .adam : .adamw)
            XCTAssertEqual(o.batchSize, 32)
            XCTAssertEqual(o.seqLength, 100)
            XCTAssertLessThanOrEqual(probes.count, 3, "a few probes, not one per size: \(probes)")
            XCTAssertEqual(probes.first, 256, "the reference size first")
            XCTAssertTrue(c.summary.contains("\(Int(e.minutes)) min on 2 threads: LSTM 2x\(e.hidden)"), c.summary)
            XCTAssertGreaterThanOrEqual(c.plannedCharacters / weights(o), AutomaticSettings.charactersPerWeightRegularised)
        }
    }

    /// The Tang poems: 24,620 training characters of 2,574, 508 in common use (scaled by (64 / 508)^3).
    /// 2 minutes (about 4.3M characters) read them 174 times: not regularised, as measured best; 10
    /// minutes 872 times: dropout and weight drop 0.3. Counted as a small alphabet (no perplexity
    /// measured), the same 2 minutes would be regularised by the pressure (1,640): 0.3.
    func testALargeAlphabetIsLearntSlowlyAndRegularisedLater() throws {
        let tang = CorpusProfile(bytes: 77_000, trainingCharacters: 24_620, validationCharacters: 2_736, vocabulary: 2_574,
                                 lines: 1_280, meanLineLength: 20, characterPerplexity: 508)
        XCTAssertEqual(AutomaticSettings.familiarity(tang), 0.0020, accuracy: 0.0001)
        let short = try AutomaticSettings.choose(for: tang, options: options(seconds: 120), given: TrainingChoices(), throughput: throughput)
        XCTAssertEqual(short.options.hidden, 128, short.summary)
        XCTAssertEqual(short.options.dropout, 0)
        XCTAssertNil(short.options.weightDrop)
        XCTAssertEqual(short.options.lrSchedule, .constant)
        XCTAssertEqual(short.options.batchSize, 16)
        XCTAssertTrue(short.summary.contains("a large alphabet (508 characters in common use) is learnt slowly"), short.summary)
        XCTAssertTrue(short.summary.contains("not regularised, as 174 epochs would not learn it by heart (200 would)"), short.summary)
        let long = try AutomaticSettings.choose(for: tang, options: options(seconds: 600), given: TrainingChoices(), throughput: throughput)
        XCTAssertEqual(long.options.hidden, 128, long.summary)
        XCTAssertEqual(long.options.dropout, 0.3)
        XCTAssertEqual(long.options.weightDrop, 0.3)
        XCTAssertEqual(long.options.lrSchedule, .cosine)
        XCTAssertTrue(long.summary.contains("regularised, as 872 epochs would learn it by heart (over 200)"), long.summary)
        var unmeasured = tang
        unmeasured.characterPerplexity = nil
        let plain = try AutomaticSettings.choose(for: unmeasured, options: options(seconds: 120), given: TrainingChoices(), throughput: throughput)
        XCTAssertEqual(plain.options.dropout, 0.3, plain.summary)
        XCTAssertFalse(plain.summary.contains("in common use"))
    }

    func testOnAGPUTheBatchIsWiderAndTheLineNamesIt() throws {
        let c = try AutomaticSettings.choose(for: text(1.1), options: options(seconds: 120), given: TrainingChoices(),
                                             gpu: "NVIDIA H100 80GB HBM3", throughput: throughput)
        XCTAssertEqual(c.options.batchSize, 128)
        XCTAssertTrue(c.summary.contains("2 min on NVIDIA H100 80GB HBM3: LSTM"), c.summary)
        var auto = options(seconds: 120)
        auto.device = "auto"
        let cpu = try AutomaticSettings.choose(for: text(1.1), options: auto, given: TrainingChoices(), throughput: throughput)
        XCTAssertEqual(cpu.options.batchSize, 32, "a device option alone (auto, with no GPU found) is the CPU")
    }

    func testASmallListIsHeldBackByItsSizeAndHeavilyRegularised() throws {
        let names = CorpusProfile(bytes: 19_909, trainingCharacters: 18_000, validationCharacters: 2_000, vocabulary: 53,
                                  trainingItems: 1_382, validationItems: 154, lines: 1_536, meanLineLength: 12)
        var o = options(seconds: 600)
        o.names = true
        let c = try AutomaticSettings.choose(for: names, options: o, given: TrainingChoices(), throughput: throughput)
        XCTAssertLessThanOrEqual(weights(c.options, vocabulary: 53), AutomaticSettings.weightsPerCharacter * 18_000)
        XCTAssertEqual(c.options.hidden, 128, "the largest under 16 weights a character")
        XCTAssertEqual(c.options.dropout, 0.3)
        XCTAssertEqual(c.options.weightDrop, 0.3)
        XCTAssertEqual(c.options.batchSize, 32)
        let batchesPerEpoch = 18_000 / (13.0 * Double(c.options.batchSize))
        XCTAssertLessThanOrEqual(Double(c.options.evalEvery), batchesPerEpoch, "a short list is validated at least once an epoch")
        XCTAssertEqual(c.options.earlyStop, 10, "154 held-out names are enough to stop on; validated each epoch, patience is capped")
        XCTAssertTrue(c.summary.contains("1536 items"), c.summary)
    }

    func testAStepBudgetNeedsNoMeasurementAndGivenShapesArePlannedWith() throws {
        var given = TrainingChoices()
        given.batchSize = 8
        given.seqLength = 64
        let c = try AutomaticSettings.choose(for: text(1.1), options: options(steps: 300), given: given) { _, _, _ in
            XCTFail("a step budget is known without timing the machine")
            return 1
        }
        XCTAssertEqual(c.plannedCharacters, 300 * 8 * 64)
        XCTAssertEqual(c.options.batchSize, 8)
        XCTAssertEqual(c.options.seqLength, 64)
        XCTAssertEqual(c.options.hidden, 64, "150k characters train the smallest size")
        XCTAssertEqual(c.options.dropout, 0, "a fraction of an epoch: nothing to regularise")
        XCTAssertEqual(c.options.evalEvery, 10, "about 30 evaluations")
    }

    func testALargeCorpusIsValidatedRarelyAndATinyHeldOutPartDoesNotStopARun() throws {
        let big = try AutomaticSettings.choose(for: text(100), options: options(seconds: 3600), given: TrainingChoices(), throughput: throughput)
        let steps = big.plannedCharacters / Double(32 * 100)
        XCTAssertEqual(Double(big.options.evalEvery), steps / 30, accuracy: steps / 30 * 0.1)
        XCTAssertLessThan(big.epochs, 1)
        XCTAssertEqual(big.options.dropout, 0)
        XCTAssertNotNil(big.options.earlyStop)
        XCTAssertEqual(big.options.validationLimit, Int(big.plannedCharacters / 100), "10M held-out characters: validated on a sample")
        XCTAssertTrue(big.summary.contains("LSTM 2x256"), big.summary)
        XCTAssertTrue(big.summary.contains("of 10.0M held-out characters"), big.summary)
        let tiny = try AutomaticSettings.choose(for: text(0.02), options: options(seconds: 60), given: TrainingChoices(), throughput: throughput)
        XCTAssertNil(tiny.options.earlyStop, "2,000 held-out characters")
        XCTAssertLessThan(tiny.options.batchSize, 32, "at least 20 batches an epoch")
    }

    func testTheProfileReadsATextAListAndAFolder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("profile-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir + "/names", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = String(repeating: "to be or not to be\n", count: 100)
        try text.write(toFile: dir + "/t.txt", atomically: true, encoding: .utf8)
        let p = try CorpusProfile.measure(path: dir + "/t.txt", names: false, validationFraction: 0.1)
        XCTAssertEqual(p.trainingCharacters + p.validationCharacters, 1900)
        XCTAssertEqual(p.validationCharacters, 190)
        XCTAssertEqual(p.vocabulary, 8)
        // e to the entropy of t 3, o 4, space 5, b 2, e 2, r, n and the line end 1 of every 19.
        XCTAssertEqual(p.characterPerplexity ?? 0, 6.7508, accuracy: 1e-4)
        XCTAssertEqual(p.lines, 100)
        XCTAssertFalse(p.names)
        let list = (0..<300).map { "Name\($0 % 50)" }.joined(separator: "\n")
        try list.write(toFile: dir + "/l.txt", atomically: true, encoding: .utf8)
        XCTAssertTrue(try CorpusProfile.measure(path: dir + "/l.txt", names: false, validationFraction: 0.1).looksLikeList)
        let items = try CorpusProfile.measure(path: dir + "/l.txt", names: true, validationFraction: 0.1)
        XCTAssertEqual(items.trainingItems, 270)
        XCTAssertEqual(items.validationItems, 30)
        try "Abe\nBo\n".write(toFile: dir + "/names/A.txt", atomically: true, encoding: .utf8)
        try "Cy\n".write(toFile: dir + "/names/B.txt", atomically: true, encoding: .utf8)
        let folder = try CorpusProfile.measure(path: dir + "/names", names: false, validationFraction: 0)
        XCTAssertEqual(folder.categories, 2)
        XCTAssertEqual(folder.trainingItems, 3)
        XCTAssertEqual(folder.trainingCharacters, 4 + 3 + 3)
        XCTAssertEqual(folder.bytes, 10)
        XCTAssertEqual(folder.characterPerplexity ?? 0, 7.1922, accuracy: 1e-4, "seven letters once, the items' ends three times")
    }
}
