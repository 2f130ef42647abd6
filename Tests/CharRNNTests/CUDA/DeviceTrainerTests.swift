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

    /// Trains with `o` on the CPU, then with the same options on the device (into the same folder's
    /// name + "-device"); the two loss histories.
    private func lossesOnBoth(_ o: TrainingOptions) throws -> (cpu: [Double], device: [Double]) {
        _ = try Trainer(options: o).run()
        var g = o
        g.outputDirectory = o.outputDirectory + "-device"
        _ = try Trainer(options: g, device: Self.device).run()
        return (try losses(o.outputDirectory), try losses(g.outputDirectory))
    }

    private func parameters(_ folder: String) throws -> [Float] {
        let cp = try Checkpoint.load(folder + "/latest.safetensors")
        return cp.model.parameters.array
    }

    func testTrainingOnTheDeviceTracksTheCPU() throws {
        let dir = scratchDirectory()
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

    /// Dropout (ordinary and variational), weight drop and embedding dropout: the device draws the CPU's
    /// masks from the same seeds, so the losses still track the CPU run's step for step.
    func testRegularisedTrainingOnTheDeviceTracksTheCPU() throws {
        let dir = scratchDirectory()
        let text = try writeTrainingText(dir)
        for variational in [false, true] {
            var o = smallTrainingOptions(text, dir + "/variational-\(variational)")
            o.dropout = 0.3
            o.weightDrop = 0.3
            o.embedDropout = 0.2
            o.variationalDropout = variational
            o.maxSteps = 30
            o.logEvery = 1
            let (cpu, gpu) = try lossesOnBoth(o)
            XCTAssertEqual(cpu.count, 30)
            XCTAssertEqual(cpu.count, gpu.count)
            for (step, (a, b)) in zip(cpu, gpu).enumerated() {
                XCTAssertEqual(b, a, accuracy: 1e-3 * a, "variational \(variational): loss at step \(step + 1)")
            }
        }
    }

    /// A step queues its work and copies nothing back: the losses and norms of many steps come back in
    /// one copy, each the CPU step's.
    func testStepsCopyNothingToTheHostUntilTheLogIsRead() throws {
        let config = ModelConfig(cell: .lstm, layers: 2, hidden: 16, embed: 6, vocabSize: 11)
        let cpu = randomModel(config, seed: 61, scale: 1)
        let cpuOptimizer = Optimizer(kind: .adam, count: cpu.parameterCount)
        let gpu = try DeviceModel(config: config, device: Self.device)
        let training = try DeviceTrainingStep(model: gpu, optimizer: Optimizer(kind: .adam, count: cpu.parameterCount))
        try training.upload(parameters: cpu.parameters, optimizer: cpuOptimizer)
        let T = 7, B = 3
        let cpuState = cpu.hiddenState(batch: B), gpuState = try gpu.hiddenState(batch: B)
        var expected: [(loss: Double, norm: Double)] = []
        let copies = Self.device.copiesToHost
        var allocations = 0
        for step in 0..<12 {
            if step == 1 { allocations = Self.device.allocationCount }
            let inputs = randomIds(T * B, vocab: 11, seed: 100 + UInt64(step))
            let targets = randomIds(T * B, vocab: 11, seed: 200 + UInt64(step))
            var none = RandomGenerator(seed: 0)
            let loss = inputs.withUnsafeBufferPointer { x in
                targets.withUnsafeBufferPointer { y in
                    cpu.lossAndGradients(x.baseAddress!, targets: y.baseAddress!, T: T, B: B, state: cpuState, rng: &none)
                }
            }
            expected.append((loss, GradientClipping.clipGlobalNorm(cpu.gradients, maxNorm: 0.2)))
            cpuOptimizer.update(parameters: cpu.parameters, gradients: cpu.gradients, learningRate: 0.01)
            cpu.thaw()
            try training.step(inputs, targets: targets, T: T, B: B, state: gpuState, rng: &none, learningRate: 0.01, clipNorm: 0.2,
                              clipValue: nil)
        }
        XCTAssertEqual(Self.device.copiesToHost, copies, "twelve steps copied nothing to the host")
        XCTAssertEqual(Self.device.allocationCount, allocations, "the steps after the first allocated no device memory")
        XCTAssertEqual(training.unreadSteps, 12)
        let log = try training.readLog()
        XCTAssertEqual(Self.device.copiesToHost, copies + 1, "the log comes back in one copy")
        XCTAssertEqual(log.count, 12)
        XCTAssertEqual(training.unreadSteps, 0)
        XCTAssertTrue(try training.readLog().isEmpty)
        for (k, (got, want)) in zip(log, expected).enumerated() {
            XCTAssertEqual(got.loss, want.loss, accuracy: 1e-4 * want.loss, "loss of step \(k + 1)")
            XCTAssertEqual(got.norm, want.norm, accuracy: 1e-4 * want.norm, "norm of step \(k + 1)")
        }
        XCTAssertGreaterThan(expected.map(\.norm).max()!, 0.2, "clipping took effect in some step")
    }

    /// With the losses read every --log-every steps, loss.csv has the CPU run's rows, and a run that
    /// diverges stops with the CPU run's message, naming the same step.
    func testLossesReadInBatchesGiveTheCPUHistoryAndDivergence() throws {
        let dir = scratchDirectory()
        let text = try writeTrainingText(dir)
        var o = smallTrainingOptions(text, dir + "/cpu")
        o.maxSteps = 30
        o.logEvery = 7
        let (cpu, gpu) = try lossesOnBoth(o)
        XCTAssertEqual(cpu.count, 6, "rows at steps 7, 14, 20, 21, 28 and 30")
        XCTAssertEqual(gpu.count, cpu.count)
        for (row, (a, b)) in zip(cpu, gpu).enumerated() { XCTAssertEqual(b, a, accuracy: 1e-3 * a, "row \(row + 1)") }

        var boom = o
        boom.learningRate = 50; boom.optimizer = .sgd; boom.clipNorm = nil; boom.maxSteps = 200; boom.evalEvery = 1000
        boom.logEvery = 25
        var messages: [String] = []
        for device: ComputeDevice? in [nil, Self.device] {
            boom.outputDirectory = dir + "/boom-\(device == nil ? "cpu" : "device")"
            XCTAssertThrowsError(try Trainer(options: boom, device: device).run()) { messages.append("\($0)") }
            XCTAssertFalse(FileManager.default.fileExists(atPath: boom.outputDirectory), "no folder is left")
        }
        XCTAssertEqual(messages.count, 2)
        XCTAssertTrue(messages[0].contains("training diverged at step"), messages[0])
        XCTAssertEqual(messages[1], messages[0])
    }

    /// A run that would not fit in the GPU's free memory is refused before anything is allocated or
    /// written, with the sizes; the host's memory is not what limits it.
    func testARunThatDoesNotFitTheGPUIsRefusedFirst() throws {
        let dir = scratchDirectory()
        let text = try writeTrainingText(dir)
        var o = smallTrainingOptions(text, dir + "/big")
        o.hidden = 256
        Self.device.memory = (free: 3 << 20, total: 80 << 30)
        defer { Self.device.memory = nil }
        XCTAssertThrowsError(try Trainer(options: o, device: Self.device)) { error in
            XCTAssertEqual("\(error)", "training a 2x256 lstm on 8 x 16 characters per step would need about 16 MB of GPU memory and "
                           + "\(Self.device.name) has 3 MB free; choose smaller sizes")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: o.outputDirectory))
        o.hidden = 64
        Self.device.memory = (free: 3 << 20, total: 80 << 30)
        o.maxSteps = 3
        o.evalEvery = 100
        // The estimate covers what the run holds on the device, and not by a wide margin.
        let estimate = MemoryEstimate.training(o.modelConfig(vocabSize: 20), T: 16, B: 8)!
        XCTAssertLessThan(estimate, 3 << 20, "a 2x64 model fits in 3 MB")
        let held = Self.device.allocatedBytes
        Self.device.resetPeak()
        _ = try Trainer(options: o, device: Self.device).run()
        let peak = Self.device.peakAllocatedBytes - held
        XCTAssertGreaterThan(peak, 0)
        XCTAssertLessThanOrEqual(peak, estimate, "the run held no more than the estimate")
        XCTAssertGreaterThan(peak, estimate / 3, "the estimate is not wildly above what the run held")
    }

    /// The files are the same whichever device wrote them: stop on one, resume on the other, and the
    /// run ends where the uninterrupted CPU run does.
    func testARunResumesOnTheOtherDevice() throws {
        let dir = scratchDirectory()
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

    /// --ema on the device: the average (saved as latest) tracks the CPU run's, and a run started on
    /// the device and resumed on the CPU carries its average across.
    func testWeightAverageOnTheDeviceTracksTheCPUAndCrossesDevices() throws {
        let dir = scratchDirectory()
        let text = try writeTrainingText(dir)
        var o = smallTrainingOptions(text, dir + "/cpu")
        o.ema = 0.9
        o.maxSteps = 40
        let cpuLoss = try XCTUnwrap(try Trainer(options: o).run().validation).nats
        var g = o
        g.outputDirectory = dir + "/device"
        let gpuLoss = try XCTUnwrap(try Trainer(options: g, device: Self.device).run().validation).nats
        XCTAssertEqual(gpuLoss, cpuLoss, accuracy: 1e-3 * cpuLoss, "validation of the average")
        assertClose(try parameters(g.outputDirectory), try parameters(o.outputDirectory), rtol: 1e-2, atol: 1e-3, "the averages")
        var half = o
        half.outputDirectory = dir + "/half"
        half.maxSteps = 20
        _ = try Trainer(options: half, device: Self.device).run()
        _ = try Trainer(resumeFrom: half.outputDirectory) { $0.maxSteps = 40 }.run()
        assertClose(try parameters(half.outputDirectory), try parameters(o.outputDirectory), rtol: 1e-2, atol: 1e-3,
                    "20 steps on the device, 20 on the CPU")
    }
}

/// Evaluation through EvaluatedModel gives the same loss on the emulated device as on the CPU.
final class DeviceEvaluationTests: XCTestCase {
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

/// A model conditioned on a category (names by category) on the emulated device: training tracks the
/// CPU run, and the samples of each category, drawn on the device alone or through the server's
/// batching, keep to that category's letters.
final class DeviceConditionalTests: XCTestCase {
    func testConditionalNamesTrainAndGenerateOnTheDevice() throws {
        let dir = scratchDirectory()
        try writeVowelsAndStops(dir)
        var o = TrainingOptions(textPath: dir, outputDirectory: dir + "/cpu")
        o.hidden = 32; o.embed = 8; o.batchSize = 16; o.learningRate = 1e-2; o.maxSteps = 40; o.evalEvery = 20; o.logEvery = 10
        o.threads = 1
        let cpuResult = try Trainer(options: o).run()
        var g = o
        g.outputDirectory = dir + "/device"
        g.maxSteps = 250
        let cpuRows = try String(contentsOfFile: o.outputDirectory + "/loss.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        let trainer = try Trainer(options: g, device: DeviceTrainerTests.device)
        XCTAssertEqual(trainer.deviceName, DeviceTrainerTests.device.name)
        let result = try trainer.run()
        XCTAssertEqual(result.step, 250)
        let deviceRows = try String(contentsOfFile: g.outputDirectory + "/loss.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        for (a, b) in zip(cpuRows, deviceRows.prefix(cpuRows.count)) {
            let x = a.split(separator: ",", omittingEmptySubsequences: false), y = b.split(separator: ",", omittingEmptySubsequences: false)
            XCTAssertEqual(x[0], y[0], "the same steps")
            XCTAssertEqual(Double(y[2])!, Double(x[2])!, accuracy: 1e-3 * Double(x[2])!, "training loss at step \(x[0])")
            if let v = Double(x[3]) { XCTAssertEqual(Double(y[3]) ?? .nan, v, accuracy: 1e-3 * v, "validation at step \(x[0])") }
        }
        XCTAssertNotNil(cpuResult.validation)

        let cp = try Checkpoint.load(g.outputDirectory)
        XCTAssertEqual(cp.info.categoryNames, ["Stops", "Vowels"])
        let model = try DeviceModel(config: cp.model.config, device: DeviceTrainerTests.device)
        try model.setParameters(cp.model.parameters)
        let generator = try DeviceGenerator(model: model, vocabulary: cp.vocabulary, startCharacter: cp.startCharacter)
        generator.namesMode = true
        let options = SamplingOptions(temperature: 0.7, stop: "\n")
        let vowels = try generator.generate(prime: "", streams: 10, length: 20, options: options, seed: 3, category: 1)
        let stops = try generator.generate(prime: "", streams: 10, length: 20, options: options, seed: 4, category: 0)
        for v in vowels { XCTAssertTrue(!v.isEmpty && v.allSatisfy { "aeiou".contains($0) }, v) }
        for s in stops { XCTAssertTrue(!s.isEmpty && s.allSatisfy { "kptsz".contains($0) }, s) }
        XCTAssertThrowsError(try generator.generate(prime: "", streams: 2, length: 5, options: options, seed: 1))

        // The server's batching: streams of both categories in one batch on the device.
        let batch = try GenerationBatch(checkpoint: cp, device: DeviceTrainerTests.device)
        let streams = try (0..<6).map {
            try batch.start(prompt: "", length: 20, options: options, seed: UInt64($0), category: $0 % 2 == 0 ? "Vowels" : "Stops")
        }
        var texts = [String](repeating: "", count: streams.count)
        while streams.contains(where: { !$0.finished }) {
            let live = streams.indices.filter { !streams[$0].finished }
            for (i, outcome) in zip(live, try batch.step(live.map { streams[$0] })) {
                if case .character(let ch) = outcome { texts[i].unicodeScalars.append(ch) }
            }
        }
        for (i, t) in texts.enumerated() {
            XCTAssertTrue(!t.isEmpty && t.allSatisfy { (i % 2 == 0 ? "aeiou" : "kptsz").contains($0) }, "stream \(i): \(t)")
        }
    }
}
