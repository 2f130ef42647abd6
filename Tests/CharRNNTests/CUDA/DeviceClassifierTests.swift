import CharRNN
import Foundation
import XCTest

/// The classifier on the emulated device: dropout's gradients by finite differences (ModelChecks
/// compares the rest with the CPU model), and `classify train` on the device against the CPU run.
final class DeviceClassifierTests: XCTestCase {
    func testDropoutGradientsMatchFiniteDifferences() throws {
        for (cell, bidirectional) in [(CellKind.gru, true), (.lstm, false)] {
            let config = ClassifierConfig(cell: cell, layers: 2, hidden: 5, embed: 4, bidirectional: bidirectional, vocabSize: 7,
                                          categories: 3)
            let host = ClassifierModel(config: config)
            var init_ = RandomGenerator(seed: 91)
            host.initializeParameters(rng: &init_)
            let gpu = try DeviceClassifierModel(config: config, device: DeviceTrainerTests.device)
            let lossOut = try DeviceBuffer(DeviceTrainerTests.device, count: 1, elementSize: 8)
            let T = 4, B = 3
            let ids = randomIds(T * B, vocab: 7, seed: 92)
            func loss() throws -> Double {
                try gpu.setParameters(host.parameters)
                var rng = RandomGenerator(seed: 93)
                try gpu.forward(ids, T: T, B: B, dropout: 0.3, rng: &rng)
                try gpu.lossAndGradients(labels: [1, 0, 2], weights: [1, 2, 0.5], lossOut: lossOut.pointer)
                return try DeviceTrainerTests.device.downloadDoubles(lossOut.pointer, count: 1)[0]
            }
            _ = try loss()
            let analytic = try gpu.gradientValues()
            let check = finiteDifferences(host.parameters, analytic: analytic, step: 1e-2) { try! loss() }
            XCTAssertGreaterThan(check.scale, 1e-6)
            XCTAssertLessThan(check.relativeError, 2e-3, "\(cell) bidirectional \(bidirectional)")
            // The masks act: some embedding gradients are exactly zero where a character's value was dropped.
            let embedding = gpu.layout["embedding.weight"]!
            XCTAssertTrue(analytic[embedding.offset..<(embedding.offset + embedding.count)].contains(0))
        }
    }

    /// A labelled folder of three categories, each with its own letters.
    private func labelledFolder(_ dir: String) throws -> String {
        let folder = dir + "/labelled"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var rng = RandomGenerator(seed: 5)
        for (letters, name, count) in [("abcdx", "Alpha", 150), ("defgx", "Delta", 90), ("ghijx", "Gamma", 60)] {
            let lines = (0..<count).map { _ in
                String((0..<(3 + rng.nextInt(below: 5))).map { _ in Array(letters)[rng.nextInt(below: letters.count)] })
            }
            try lines.joined(separator: "\n").write(toFile: folder + "/\(name).txt", atomically: true, encoding: .utf8)
        }
        return folder
    }

    func testClassifierTrainsOnTheDeviceAsOnTheCPU() throws {
        let dir = scratchDirectory()
        var o = ClassifierOptions(dataDirectory: try labelledFolder(dir), outputDirectory: dir + "/cpu")
        o.hidden = 16; o.embed = 8; o.batchSize = 16; o.epochs = 4; o.learningRate = 0.01; o.threads = 1
        o.balanceClasses = true
        func run(_ o: ClassifierOptions, _ device: ComputeDevice?) throws -> (losses: [Double], accuracy: [Double], test: Double) {
            var losses: [Double] = [], accuracy: [Double] = [], test = 0.0
            _ = try ClassifierTrainer.train(o, device: device) { event in
                if case .epoch(_, let loss, let validation, _, _) = event {
                    losses.append(loss)
                    accuracy.append(validation?.accuracy ?? .nan)
                }
                if case .tested(let report) = event { test = report.accuracy }
            }
            return (losses, accuracy, test)
        }
        let cpu = try run(o, nil)
        var g = o
        g.outputDirectory = dir + "/device"
        let gpu = try run(g, DeviceTrainerTests.device)
        XCTAssertEqual(gpu.losses.count, 4)
        for (epoch, (a, b)) in zip(cpu.losses, gpu.losses).enumerated() {
            XCTAssertEqual(b, a, accuracy: 1e-3 * a, "training loss of epoch \(epoch + 1)")
        }
        XCTAssertEqual(gpu.accuracy, cpu.accuracy, "validation accuracy, epoch by epoch")
        XCTAssertLessThan(gpu.losses.last!, gpu.losses.first!)
        let a = try ClassifierCheckpoint.load(o.outputDirectory + "/classifier.safetensors").model.parameters.array
        let b = try ClassifierCheckpoint.load(g.outputDirectory + "/classifier.safetensors").model.parameters.array
        assertClose(b, a, rtol: 1e-2, atol: 1e-3, "the kept classifier")

        // Predictions with the forward passes on the device: the CPU's log-probabilities.
        let folder = g.outputDirectory
        let ensemble = try ClassifierEnsemble.load(folder)
        let items = ["abcab", "fedgx", "hijg", "xx", "dcba"]
        let onDevice = try ensemble.placed(on: DeviceTrainerTests.device).modelLogProbabilities(items)
        for (a, b) in zip(try ensemble.modelLogProbabilities(items), onDevice) { assertClose(b, a, rtol: 1e-5, atol: 1e-5, "log p(c|x)") }
        XCTAssertEqual(try ensemble.placed(on: DeviceTrainerTests.device).predict(items, top: 1).map { $0[0].category },
                       try ensemble.predict(items, top: 1).map { $0[0].category })
        XCTAssertEqual(try ensemble.predict(Array(items.prefix(3)), top: 1).map { $0[0].category }, ["Alpha", "Delta", "Gamma"])

        // With dropout (the CPU's masks) it still learns the letters.
        g.outputDirectory = dir + "/dropout"
        g.dropout = 0.2
        g.epochs = 8
        let dropped = try run(g, DeviceTrainerTests.device)
        XCTAssertGreaterThan(dropped.test, 0.85, "test accuracy with dropout on the device")
    }
}
