import CharRNN
import XCTest

/// The app-facing CategoryClassifier: its scores are the ensemble's predictions, on the CPU and the
/// emulated device alike, and a wrong request is an error.
final class CategoryClassifierTests: XCTestCase {
    func testClassifiesAsTheEnsembleOnEitherDevice() throws {
        let dir = scratchDirectory()
        try ClassifierTests.writeSynthetic(dir)
        var o = ClassifierOptions(dataDirectory: dir, outputDirectory: dir + "/out")
        o.hidden = 16; o.embed = 8; o.epochs = 4; o.threads = 1; o.learningRate = 1e-2; o.batchSize = 16
        _ = try ClassifierTrainer.train(o)

        let classifier = try CategoryClassifier(contentsOf: dir + "/out")
        XCTAssertEqual(classifier.categories, ["cat0", "cat1", "cat2"])
        let scores = try classifier.classify(["Abcab", "Fegde", "Hijig"], top: 3)
        XCTAssertEqual(scores.map { $0[0].category }, ["cat0", "cat1", "cat2"])
        for row in scores {
            XCTAssertEqual(row.count, 3)
            XCTAssertEqual(Double(row.map(\.probability).reduce(0, +)), 1, accuracy: 1e-4)
            XCTAssertEqual(row.map(\.probability), row.map(\.probability).sorted(by: >))
        }
        let want = try ClassifierEnsemble.load(dir + "/out").predict(["Abcab", "Fegde", "Hijig"], top: 3)
        XCTAssertEqual(scores.map { $0.map(\.category) }, want.map { $0.map(\.category) })
        XCTAssertEqual(scores.map { $0.map(\.probability) }, want.map { $0.map(\.probability) })

        let onDevice = try CategoryClassifier(contentsOf: dir + "/out", device: DeviceTrainerTests.device)
        let deviceScores = try onDevice.classify(["Abcab", "Fegde", "Hijig"], top: 3)
        XCTAssertEqual(deviceScores.map { $0.map(\.category) }, want.map { $0.map(\.category) })
        for (a, b) in zip(deviceScores.joined(), scores.joined()) { XCTAssertEqual(a.probability, b.probability, accuracy: 1e-4) }

        XCTAssertThrowsError(try classifier.classify(["Zzz"])) { XCTAssertTrue("\($0)".contains("never saw"), "\($0)") }
        XCTAssertThrowsError(try classifier.classify(["Abc"], top: 0)) { XCTAssertEqual("\($0)", "top must be at least 1 (got 0)") }
    }
}
