import CharRNN
import Foundation
import XCTest

final class ClassifierTests: XCTestCase {
    /// Finite differences through the head, the final states and (bidirectional) the reversed stack.
    func check(_ cell: CellKind, layers: Int, embed: Int, bidirectional: Bool, weighted: Bool, dropout: Double = 0,
               file: StaticString = #filePath, line: UInt = #line) {
        let V = 6, C = 3, T = 4, B = 3
        let config = ClassifierConfig(cell: cell, layers: layers, hidden: 5, embed: embed, bidirectional: bidirectional,
                                      vocabSize: V, categories: C)
        let model = ClassifierModel(config: config)
        var rng = RandomGenerator(seed: 21)
        model.initializeParameters(rng: &rng)
        for i in 0..<model.parameterCount { model.parameters[i] *= 1.5 }
        let ids = randomIds(T * B, vocab: V, seed: 22)
        let labels: [Int32] = [0, 2, 1]
        let weights: [Float]? = weighted ? [0.5, 2, 1.25] : nil
        // Dropout masks come from a generator seeded the same way every time: the same mask in each evaluation.
        func forward() { var masks = RandomGenerator(seed: 77); model.forward(ids, T: T, B: B, dropout: dropout, rng: &masks) }
        forward()
        _ = model.lossAndGradients(labels: labels, weights: weights)
        let analytic = model.gradients.array
        func loss() -> Double {
            forward()
            let p = model.probabilities()
            var total = 0.0, wsum = 0.0
            for b in 0..<B {
                let w = Double(weights?[Int(labels[b])] ?? 1)
                total -= w * log(Double(p[b][Int(labels[b])]))
                wsum += w
            }
            return total / wsum
        }
        let check = finiteDifferences(model.parameters, analytic: analytic, loss: loss)
        XCTAssertGreaterThan(check.scale, 1e-6, file: file, line: line)
        XCTAssertLessThan(check.relativeError, 3e-3, "\(cell) L\(layers) E\(embed) bi \(bidirectional)", file: file, line: line)
    }

    func testGradients() {
        check(.gru, layers: 1, embed: 3, bidirectional: true, weighted: false)
        check(.lstm, layers: 2, embed: 0, bidirectional: true, weighted: true)
        check(.lstm, layers: 2, embed: 3, bidirectional: false, weighted: false)
        check(.rnnTanh, layers: 2, embed: 3, bidirectional: true, weighted: true)
        check(.gru, layers: 2, embed: 3, bidirectional: true, weighted: false, dropout: 0.3)
        check(.lstm, layers: 1, embed: 4, bidirectional: false, weighted: true, dropout: 0.5)
    }

    func testDropoutChangesTrainingForwardOnly() {
        let config = ClassifierConfig(cell: .gru, layers: 1, hidden: 6, embed: 4, bidirectional: true, vocabSize: 5, categories: 3)
        let model = ClassifierModel(config: config)
        var rng = RandomGenerator(seed: 1)
        model.initializeParameters(rng: &rng)
        let ids = randomIds(8, vocab: 5, seed: 2)
        model.forward(ids, T: 4, B: 2)
        let plain = model.probabilities()
        var masks = RandomGenerator(seed: 3)
        model.forward(ids, T: 4, B: 2, dropout: 0.5, rng: &masks)
        XCTAssertNotEqual(model.probabilities(), plain)
        model.forward(ids, T: 4, B: 2)
        XCTAssertEqual(model.probabilities(), plain)
    }

    /// Writes a labelled folder: three categories with their own letters (some shared), lengths 3 to 8.
    static func writeSynthetic(_ dir: String, perCategory: Int = 120) throws {
        let alphabets = ["abcdx", "defgx", "ghijx"]
        var rng = RandomGenerator(seed: 5)
        for (c, letters) in alphabets.enumerated() {
            var lines: [String] = []
            for _ in 0..<perCategory {
                let n = 3 + rng.nextInt(below: 6)
                lines.append(String((0..<n).map { _ in Array(letters)[rng.nextInt(below: letters.count)] }).capitalized)
            }
            try lines.joined(separator: "\n").write(toFile: dir + "/cat\(c).txt", atomically: true, encoding: .utf8)
        }
    }

    func testLearnsASyntheticSet() throws {
        let dir = scratchDirectory()
        try Self.writeSynthetic(dir)
        var o = ClassifierOptions(dataDirectory: dir, outputDirectory: dir + "/out")
        o.hidden = 32; o.embed = 8; o.epochs = 8; o.threads = 1; o.learningRate = 1e-2; o.batchSize = 16
        let cp = try ClassifierTrainer.train(o)
        let data = try LabelledData.load(directory: dir, normalization: o.normalization, deduplicate: true)
        let test = data.split(validation: 0.1, test: 0.1, seed: 1).test
        let report = ClassificationReport(categories: data.categories, truth: test.map(\.label), predicted: try cp.classify(test))
        XCTAssertGreaterThan(report.accuracy, 0.9, report.text)
        let top = try cp.predict(["Abcab", "Fegde"], top: 2)
        XCTAssertEqual(top[0][0].category, "cat0")
        XCTAssertEqual(top[1][0].category, "cat1")
        XCTAssertEqual(Double(top[0][0].probability + top[0][1].probability), 1, accuracy: 0.2)
        XCTAssertThrowsError(try cp.predict(["Zzz"], top: 1)) { XCTAssertTrue("\($0)".contains("never saw")) }
    }

    /// τ = 0 is the model as trained; τ > 0 subtracts τ log π(c) from the log-probabilities and
    /// renormalises, and `decide` ranks the same category first as the corrected probabilities do.
    func testPriorCorrection() throws {
        let config = ClassifierConfig(cell: .gru, layers: 1, hidden: 8, embed: 4, bidirectional: false, vocabSize: 3, categories: 3)
        let model = ClassifierModel(config: config)
        var rng = RandomGenerator(seed: 4)
        model.initializeParameters(rng: &rng)
        let vocab = Vocabulary(scalars: Array("abc".unicodeScalars))
        var info = ClassifierInfo(config: config, vocabulary: ["a", "b", "c"], categories: ["x", "y", "z"], normalization: .init())
        let items = ["ab", "ca", "bbc", "a", "cab", "acca"]
        let uncounted = ClassifierCheckpoint(model: model, vocabulary: vocab, info: info)
        XCTAssertThrowsError(try uncounted.logProbabilities(items, priorCorrection: 0.5)) {
            XCTAssertTrue("\($0)".contains("training counts"))
        }
        info.trainingCounts = [999, 9, 0]
        let cp = ClassifierCheckpoint(model: model, vocabulary: vocab, info: info)
        let plain = try cp.logProbabilities(items, priorCorrection: 0)
        XCTAssertEqual(try uncounted.logProbabilities(items), plain)
        let logPrior = [log(Float(1000) / 1011), log(Float(10) / 1011), log(Float(1) / 1011)]
        XCTAssertEqual(cp.logPriors!, logPrior)
        for tau in [0.5, 1.0] {
            let corrected = try cp.logProbabilities(items, priorCorrection: tau)
            for (row, base) in zip(corrected, plain) {
                let shifted = (0..<3).map { base[$0] - Float(tau) * logPrior[$0] }
                let norm = log(shifted.map { exp($0) }.reduce(0, +))
                for c in 0..<3 { XCTAssertEqual(row[c], shifted[c] - norm, accuracy: 1e-5) }
                XCTAssertEqual(cp.decide(base, priorCorrection: tau), row.indices.max { row[$0] < row[$1] }!)
            }
        }
        // Dividing out a prior 1000 times smaller makes the rare category win everywhere.
        XCTAssertEqual(try cp.classify(items.map { .init(text: $0, label: 0) }, priorCorrection: 1), [Int](repeating: 2, count: items.count))
        XCTAssertThrowsError(try cp.logProbabilities(items, priorCorrection: 1.5))

        // The counts and the default τ travel in the checkpoint.
        var stored = cp
        stored.info.priorCorrection = 0.5
        let path = scratchDirectory() + "/c.safetensors"
        try stored.save(to: path)
        let loaded = try ClassifierCheckpoint.load(path)
        XCTAssertEqual(loaded.info.trainingCounts, [999, 9, 0])
        XCTAssertEqual(try loaded.logProbabilities(items), try cp.logProbabilities(items, priorCorrection: 0.5))
    }

    /// An ensemble predicts the log of its members' mean probability; its first member is the plain
    /// classifier of the same options; a smaller ensemble trained into the same folder (--overwrite) replaces a larger one.
    func testEnsemble() throws {
        let dir = scratchDirectory()
        try Self.writeSynthetic(dir, perCategory: 60)
        var o = ClassifierOptions(dataDirectory: dir, outputDirectory: dir + "/plain")
        o.hidden = 12; o.embed = 4; o.epochs = 3; o.threads = 1; o.learningRate = 1e-2; o.batchSize = 16
        let plain = try ClassifierTrainer.train(o)
        o.outputDirectory = dir + "/ens"; o.ensemble = 3
        let ensemble = try ClassifierTrainer.train(o)
        XCTAssertEqual(ensemble.members.count, 3)
        XCTAssertEqual(ensemble.members[0].model.parameters.array, plain.members[0].model.parameters.array)
        XCTAssertNotEqual(ensemble.members[1].model.parameters.array, ensemble.members[0].model.parameters.array)
        let items = ["Abcab", "Fegde", "Hgij", "Xax"]
        let each = try ensemble.members.map { try $0.modelLogProbabilities(items) }
        let mixed = try ensemble.modelLogProbabilities(items)
        for i in items.indices {
            for c in 0..<3 {
                XCTAssertEqual(mixed[i][c], log(each.map { exp($0[i][c]) }.reduce(0, +) / 3), accuracy: 1e-5)
            }
        }
        let loaded = try ClassifierEnsemble.load(dir + "/ens")
        XCTAssertEqual(try loaded.modelLogProbabilities(items), mixed)
        XCTAssertEqual(try ClassifierEnsemble.load(dir + "/ens/classifier-2.safetensors").members.count, 1)

        o.ensemble = 1
        _ = try ClassifierTrainer.train(o, replacing: true)
        XCTAssertEqual(try ClassifierEnsemble.load(dir + "/ens").members.count, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/ens/classifier-2.safetensors"))

        var other = ensemble.members[1]
        other.info.categories = ["a", "b", "c"]
        XCTAssertThrowsError(try ClassifierEnsemble([ensemble.members[0], other])) { XCTAssertTrue("\($0)".contains("must share")) }
    }

    func testLoaderFoldsCountsAndRejects() throws {
        let dir = scratchDirectory()
        try "Émile\nZoë\nÉmile\nAnn\n".write(toFile: dir + "/French.txt", atomically: true, encoding: .utf8)
        try "Ann\nBob\n".write(toFile: dir + "/English.txt", atomically: true, encoding: .utf8)
        let d = try LabelledData.load(directory: dir, normalization: TextNormalization(foldToASCII: true), deduplicate: true)
        XCTAssertEqual(d.categories, ["English", "French"])
        XCTAssertEqual(d.items.filter { $0.label == 1 }.map(\.text), ["Emile", "Zoe", "Ann"])
        XCTAssertEqual(d.duplicates, 1)
        XCTAssertEqual(d.ambiguous, ["Ann"])
        XCTAssertEqual(TextNormalization(foldToASCII: true, lowercase: true).apply("Ślusarski"), "slusarski")

        let empty = scratchDirectory()
        XCTAssertThrowsError(try LabelledData.load(directory: empty, normalization: .init(), deduplicate: true)) {
            XCTAssertTrue("\($0)".contains("no .txt files"))
        }
        try "A\n".write(toFile: empty + "/One.txt", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LabelledData.load(directory: empty, normalization: .init(), deduplicate: true)) {
            XCTAssertTrue("\($0)".contains("single category"))
        }
        try "\n\n".write(toFile: empty + "/Two.txt", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LabelledData.load(directory: empty, normalization: .init(), deduplicate: true)) {
            XCTAssertTrue("\($0)".contains("has no items"))
        }
    }

    func testStratifiedSplit() throws {
        let items = (0..<100).map { LabelledData.Item(text: "x\($0)", label: $0 < 80 ? 0 : 1) }
        let d = LabelledData(categories: ["a", "b"], items: items)
        let s = d.split(validation: 0.1, test: 0.2, seed: 3)
        XCTAssertEqual(s.test.filter { $0.label == 0 }.count, 16)
        XCTAssertEqual(s.test.filter { $0.label == 1 }.count, 4)
        XCTAssertEqual(s.validation.count, 10)
        XCTAssertEqual(Set(s.train + s.validation + s.test).count, 100)
        XCTAssertEqual(d.split(validation: 0.1, test: 0.2, seed: 3).test, s.test)
    }

    func testReportMetrics() {
        let r = ClassificationReport(categories: ["a", "b", "c"], truth: [0, 0, 0, 0, 1, 1, 2], predicted: [0, 0, 0, 1, 1, 0, 2])
        XCTAssertEqual(r.accuracy, 5.0 / 7, accuracy: 1e-12)
        XCTAssertEqual(r.balancedAccuracy, (0.75 + 0.5 + 1) / 3, accuracy: 1e-12)
        XCTAssertEqual(r.precision(0)!, 0.75, accuracy: 1e-12)
        XCTAssertEqual(r.confusion[1], [1, 1, 0])
        XCTAssertTrue(r.svg.contains("<rect"))
        XCTAssertTrue(r.text.contains("balanced accuracy: 0.7500"))
    }
}
