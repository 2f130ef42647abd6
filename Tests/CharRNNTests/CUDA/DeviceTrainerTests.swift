import CharRNN
import Foundation
import XCTest

/// The trainer's GPU path on the emulated device: the same losses as the CPU run, step for step, for
/// every optimizer with clipping; and a run saved on one device resumes on the other.
final class DeviceTrainerTests: XCTestCase {
    nonisolated(unsafe) static let device: EmulatedDevice = try! EmulatedDevice()

    private func losses(_ folder: String) throws -> [Double] {
        try String(contentsOfFile: folder + "/loss.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[2])! }
    }

    private func parameters(_ folder: String) throws -> [Float] {
        let cp = try Checkpoint.load(folder + "/latest.safetensors")
        return cp.model.parameters.array
    }

    func testTrainingOnTheDeviceTracksTheCPU() throws {
        let dir = temporaryDirectory()
        let text = try writeTrainingText(dir)
        for (optimizer, clipValue) in [(OptimizerKind.adam, nil), (.adamw, nil), (.sgd, 0.05), (.rmsprop, nil), (.adagrad, nil)] {
            var o = smallTrainingOptions(text, dir + "/cpu-\(optimizer)")
            o.optimizer = optimizer
            o.clipNorm = 1
            o.clipValue = clipValue
            o.maxSteps = 30
            o.logEvery = 1
            if optimizer == .sgd { o.learningRate = 0.5 }
            _ = try Trainer(options: o).run()
            var g = o
            g.outputDirectory = dir + "/device-\(optimizer)"
            let trainer = try Trainer(options: g, device: Self.device)
            XCTAssertEqual(trainer.deviceName, Self.device.name)
            let result = try trainer.run()
            XCTAssertEqual(result.step, 30)
            let cpu = try losses(o.outputDirectory), gpu = try losses(g.outputDirectory)
            XCTAssertEqual(cpu.count, gpu.count)
            for (step, (a, b)) in zip(cpu, gpu).enumerated() {
                XCTAssertEqual(b, a, accuracy: 1e-3 * a, "\(optimizer): loss at step \(step + 1)")
            }
            XCTAssertLessThan(gpu.last!, gpu.first!, "\(optimizer): the loss falls on the device")
            assertClose(try parameters(g.outputDirectory), try parameters(o.outputDirectory), rtol: 1e-2, atol: 1e-3,
                        "\(optimizer): parameters after 30 steps")
        }
    }

    /// The files are the same whichever device wrote them: stop on one, resume on the other, and the
    /// run ends where the uninterrupted CPU run does.
    func testARunResumesOnTheOtherDevice() throws {
        let dir = temporaryDirectory()
        let text = try writeTrainingText(dir)
        var o = smallTrainingOptions(text, dir + "/whole")
        o.maxSteps = 40
        _ = try Trainer(options: o).run()
        let whole = try parameters(o.outputDirectory)
        for (first, second): (ComputeDevice?, ComputeDevice?) in [(Self.device, nil), (nil, Self.device)] {
            var half = o
            half.outputDirectory = dir + "/half-\(first == nil ? "cpu" : "device")"
            half.maxSteps = 20
            _ = try Trainer(options: half, device: first).run()
            let resumed = try Trainer(resumeFrom: half.outputDirectory, device: second) { $0.maxSteps = 40 }
            XCTAssertEqual(resumed.step, 20)
            XCTAssertEqual(resumed.deviceName, second?.name)
            _ = try resumed.run()
            assertClose(try parameters(half.outputDirectory), whole, rtol: 1e-2, atol: 1e-3,
                        "first on \(first?.name ?? "cpu"), then on \(second?.name ?? "cpu")")
        }
    }
}

/// Evaluation through EvaluatedModel gives the same loss on the emulated device as on the CPU.
final class DeviceEvaluationTests: XCTestCase {
    func testConditionalModelsAreRefusedOnTheDevice() {
        let config = ModelConfig(cell: .lstm, layers: 1, hidden: 8, embed: 4, vocabSize: 9, categories: 3)
        XCTAssertThrowsError(try DeviceModel(config: config, device: DeviceTrainerTests.device)) { error in
            XCTAssertEqual("\(error)", "CUDA: category-conditional models (names by category) run on the CPU only for now; use --device cpu")
        }
    }

    func testEvaluationOnTheDeviceMatchesTheCPU() throws {
        let config = ModelConfig(cell: .gru, layers: 2, hidden: 24, embed: 8, vocabSize: 9)
        let cpu = randomModel(config, seed: 51, scale: 1)
        let gpu = try DeviceModel(config: config, device: DeviceTrainerTests.device)
        try gpu.setParameters(cpu.parameters)
        let ids = randomIds(500, vocab: 9, seed: 52)
        for (streams, chunk) in [(1, 64), (4, 16)] {
            let a = try Evaluation.loss(of: cpu, ids: ids, streams: streams, chunk: chunk)
            let b = try Evaluation.loss(of: gpu, ids: ids, streams: streams, chunk: chunk)
            XCTAssertEqual(a.characters, b.characters)
            XCTAssertEqual(b.nats, a.nats, accuracy: 1e-5 * a.nats, "streams \(streams), chunk \(chunk)")
        }
    }
}
