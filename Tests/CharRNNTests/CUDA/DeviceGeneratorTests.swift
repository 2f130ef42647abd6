import CCharRNNKernels
import CharRNN
import XCTest

/// Generation on the emulated device: draws follow the model's probabilities (chi-square over many
/// streams that share one distribution), top-k and greedy choose as on the CPU, and greedy text is the
/// CPU sampler's text.
final class DeviceGeneratorTests: XCTestCase {
    static let V = 11
    static let vocabulary = Vocabulary(scalars: Array("abcdefghij\n".unicodeScalars))

    func model() throws -> (CharRNNModel, DeviceModel) {
        let config = ModelConfig(cell: .lstm, layers: 2, hidden: 16, embed: 5, vocabSize: Self.V)
        let cpu = randomModel(config, seed: 61, scale: 2)
        let gpu = try DeviceModel(config: config, device: DeviceTrainerTests.device)
        try gpu.setParameters(cpu.parameters)
        return (cpu, gpu)
    }

    /// B streams from the same state and input share one distribution: their first draws are B samples of it.
    func firstDraws(_ options: SamplingOptions, streams B: Int) throws -> (counts: [Int], probabilities: [Float]) {
        let (cpu, gpu) = try model()
        let generator = try DeviceGenerator(model: gpu, vocabulary: Self.vocabulary, startCharacter: "a")
        let texts = try generator.generate(prime: "abc", streams: B, length: 1, options: options, seed: 5)
        var counts = [Int](repeating: 0, count: Self.V)
        for t in texts { counts[Int(Self.vocabulary.id(of: t.unicodeScalars.first!)!)] += 1 }
        var none = RandomGenerator(seed: 0)
        let state = cpu.hiddenState(batch: 1)
        let ids: [Int32] = [0, 1, 2]
        let logits = ids.withUnsafeBufferPointer { cpu.forward($0.baseAddress!, T: 3, B: 1, state: state, training: false, rng: &none) }
        var p = [Float](repeating: 0, count: Self.V)
        crn_softmax_temperature(Int32(Self.V), logits + 2 * Self.V, 1 / options.temperature, &p)
        if options.greedy {
            let best = p.indices.max { p[$0] < p[$1] }!
            p = p.indices.map { $0 == best ? 1 : 0 }
        } else {
            // Top-k, then the nucleus: the most likely characters whose probabilities reach top-p of what is left.
            var kept = p.indices.sorted { p[$0] > p[$1] || (p[$0] == p[$1] && $0 < $1) }
            if let k = options.topK { kept = Array(kept.prefix(k)) }
            if let top = options.topP {
                let mass = kept.reduce(Float(0)) { $0 + p[$1] }
                var sum: Float = 0
                kept = Array(kept.prefix { j in defer { sum += p[j] }; return sum < top * mass })
            }
            let total = kept.reduce(Float(0)) { $0 + p[$1] }
            p = p.indices.map { kept.contains($0) ? p[$0] / total : 0 }
        }
        return (counts, p)
    }

    /// Pearson's statistic over the characters expected at least 5 times; none may be drawn that has
    /// probability 0.
    func chiSquare(_ counts: [Int], _ p: [Float], draws: Int) -> (statistic: Double, degrees: Int) {
        var x2 = 0.0, bins = 0
        for j in counts.indices {
            let expected = Double(p[j]) * Double(draws)
            if p[j] == 0 { XCTAssertEqual(counts[j], 0, "drew a character of probability 0"); continue }
            guard expected >= 5 else { continue }
            x2 += (Double(counts[j]) - expected) * (Double(counts[j]) - expected) / expected
            bins += 1
        }
        return (x2, bins - 1)
    }

    func testDrawsFollowTheModelsProbabilities() throws {
        let draws = 6000
        for options in [SamplingOptions(temperature: 0.8), SamplingOptions(temperature: 1.3, topK: 3),
                         SamplingOptions(temperature: 1.2, topP: 0.7), SamplingOptions(temperature: 1.5, topK: 6, topP: 0.85)] {
            let (counts, p) = try firstDraws(options, streams: draws)
            let (x2, df) = chiSquare(counts, p, draws: draws)
            XCTAssertGreaterThanOrEqual(df, 2)
            // The 0.999 quantile of chi-square with up to 10 degrees of freedom is at most 29.6.
            XCTAssertLessThan(x2, 29.6, "temperature \(options.temperature), top-k \(options.topK ?? 0), top-p \(options.topP ?? 1): counts \(counts), p \(p)")
        }
        let (counts, p) = try firstDraws(SamplingOptions(greedy: true), streams: 50)
        XCTAssertEqual(counts, p.map { Int($0) * 50 })
    }

    /// The check can fail: draws at another temperature than the probabilities' are caught.
    func testAWrongTemperatureIsCaught() throws {
        let draws = 6000
        let (counts, _) = try firstDraws(SamplingOptions(temperature: 1.6), streams: draws)
        let (_, p) = try firstDraws(SamplingOptions(temperature: 0.8), streams: 1)
        XCTAssertGreaterThan(chiSquare(counts, p, draws: draws).statistic, 29.6)
    }

    /// The check can fail: a nucleus cut one character later than the CPU's is caught.
    func testAWrongCutOffIsCaught() throws {
        let draws = 6000
        let (_, p) = try firstDraws(SamplingOptions(temperature: 1.2, topP: 0.7), streams: 1)
        let kept = p.filter { $0 > 0 }.count
        let wider = try (1...20).lazy.map { Float($0) * 0.05 }.first { top in
            try firstDraws(SamplingOptions(temperature: 1.2, topP: top), streams: 1).probabilities.filter { $0 > 0 }.count == kept + 1
        }
        let (counts, _) = try firstDraws(SamplingOptions(temperature: 1.2, topP: try XCTUnwrap(wider)), streams: draws)
        XCTAssertTrue((0..<Self.V).contains { p[$0] == 0 && counts[$0] > 0 }, "a character outside the nucleus was drawn")
    }

    /// Penalties on the device: greedy text with them is the CPU sampler's, and they change it.
    func testPenalizedGreedyTextIsTheCPUSamplers() throws {
        let (cpu, gpu) = try model()
        let generator = try DeviceGenerator(model: gpu, vocabulary: Self.vocabulary, startCharacter: "a")
        let sampler = Sampler(model: cpu, vocabulary: Self.vocabulary, startCharacter: "a")
        let plain = try sampler.generate(prime: "abc", length: 60, options: SamplingOptions(greedy: true), seed: 1)
        for (presence, frequency) in [(Float(1.5), Float(0)), (0, 0.4), (-0.5, 0.8)] {
            let options = SamplingOptions(greedy: true, presencePenalty: presence, frequencyPenalty: frequency)
            let want = try sampler.generate(prime: "abc", length: 60, options: options, seed: 1)
            XCTAssertNotEqual(want, plain, "\(presence), \(frequency)")
            let texts = try generator.generate(prime: "abc", streams: 2, length: 60, options: options, seed: 1, chunk: 16)
            XCTAssertEqual(texts, [want, want], "\(presence), \(frequency)")
        }
    }

    /// The one seed rule: stream b of a seed draws the same numbers on the CPU and the device, and on the
    /// device whatever the number of streams beside it, so the texts are the same (sampled, with top-k,
    /// top-p and penalties), and stream 0 is what the server's batch and a one-stream call give.
    func testASeedGivesTheSameTextsOnTheCPUAndTheDeviceWhateverTheStreams() throws {
        let (cpu, _) = try model()
        let onCPU = try TextGenerator(model: cpu, vocabulary: Self.vocabulary, startCharacter: "a")
        let onDevice = try TextGenerator(model: cpu, vocabulary: Self.vocabulary, startCharacter: "a", device: DeviceTrainerTests.device)
        XCTAssertNil(onCPU.device)
        XCTAssertNotNil(onDevice.device)
        for options in [SamplingOptions(temperature: 1), SamplingOptions(temperature: 0.7, topK: 4, topP: 0.9, frequencyPenalty: 0.5)] {
            let want = try onCPU.generate(prime: "abc", streams: 4, length: 50, options: options, seed: 21)
            XCTAssertEqual(Set(want).count, 4, "four streams, four texts")
            XCTAssertEqual(try onDevice.generate(prime: "abc", streams: 4, length: 50, options: options, seed: 21, chunk: 16), want, "\(options)")
            XCTAssertEqual(try onDevice.generate(prime: "abc", streams: 2, length: 50, options: options, seed: 21), Array(want.prefix(2)))
            XCTAssertEqual(try onCPU.generate(prime: "abc", length: 50, options: options, seed: 21), [want[0]])
            XCTAssertNotEqual(try onCPU.generate(prime: "abc", length: 50, options: options, seed: 22), [want[0]])
        }
        XCTAssertThrowsError(try onDevice.generate(prime: "abc", length: 5, options: SamplingOptions(), seed: 1, score: { _, _ in })) {
            XCTAssertEqual("\($0)", "each character's score is computed on the CPU")
        }
    }

    func testGreedyTextIsTheCPUSamplersAndASeedRepeats() throws {
        let (cpu, gpu) = try model()
        let generator = try DeviceGenerator(model: gpu, vocabulary: Self.vocabulary, startCharacter: "a")
        var chunks = 0
        let texts = try generator.generate(prime: "abc", streams: 2, length: 60, options: SamplingOptions(greedy: true),
                                           seed: 1, chunk: 16) { _ in chunks += 1; return true }
        XCTAssertEqual(chunks, 4)
        let sampler = Sampler(model: cpu, vocabulary: Self.vocabulary, startCharacter: "a")
        let want = try sampler.generate(prime: "abc", length: 60, options: SamplingOptions(greedy: true), seed: 1)
        XCTAssertEqual(texts, [want, want])

        let options = SamplingOptions(temperature: 1, stop: "\n")
        let a = try generator.generate(prime: "", streams: 3, length: 40, options: options, seed: 9)
        let b = try generator.generate(prime: "", streams: 3, length: 40, options: options, seed: 9)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a[0], a[1])
        XCTAssertFalse(a.contains { $0.contains("\n") })
    }
}

/// What one generated character costs on the device, launched step by step. Up to four streams take
/// a launch per layer (KernelSource.step: products, cell and both biases), one for the decoder and the
/// draw, and no product; a conditional model first gathers its input rows (embedding and category).
/// With the products instead (CHARRNN_FUSED_STEP=0, or more streams), layer 0 looks its input product
/// up in the folded table (no product) and the cell kernels add both biases, so a 2-layer LSTM step is
/// the gather, two cell kernels, the decoder's bias and the draw, with two recurrent products, layer 1's
/// input product and the decoder's.
final class DeviceGenerationCostTests: XCTestCase {
    /// [kernels, products] per character.
    func cost(_ config: ModelConfig, fused: Bool = true) throws -> [Int] {
        let device = DeviceTrainerTests.device
        let model = try DeviceModel(config: config, device: device)
        model.fusesSmallSteps = fused
        try model.setParameters(randomModel(config, seed: 7, scale: 1).parameters)
        let generator = try DeviceGenerator(model: model, vocabulary: DeviceGeneratorTests.vocabulary, startCharacter: "a")
        generator.useGraphs = false
        let category: Int32? = config.categories > 0 ? 1 : nil
        func run(_ length: Int) throws -> (Int, Int) {
            let (launches, products) = (device.launches, device.products)
            _ = try generator.generate(prime: "abc", streams: 2, length: length, options: SamplingOptions(), seed: 1,
                                       category: category, chunk: 10)
            return (device.launches - launches, device.products - products)
        }
        let short = try run(10), long = try run(30)
        // 20 more characters in 2 more chunks, each chunk ending with one launch that moves the draw counter.
        return [(long.0 - short.0 - 2) / 20, (long.1 - short.1) / 20]
    }

    func testAGeneratedCharactersKernelsAndProducts() throws {
        let V = DeviceGeneratorTests.V
        XCTAssertEqual(try cost(ModelConfig(cell: .lstm, layers: 2, hidden: 16, embed: 5, vocabSize: V)), [4, 0])
        XCTAssertEqual(try cost(ModelConfig(cell: .lstm, layers: 2, hidden: 16, embed: 0, vocabSize: V)), [4, 0], "one-hot")
        XCTAssertEqual(try cost(ModelConfig(cell: .lstm, layers: 2, hidden: 16, embed: 5, vocabSize: V), fused: false), [5, 4])
        XCTAssertEqual(try cost(ModelConfig(cell: .rnnTanh, layers: 1, hidden: 16, embed: 5, vocabSize: V)), [3, 0])
        XCTAssertEqual(try cost(ModelConfig(cell: .rnnTanh, layers: 1, hidden: 16, embed: 5, vocabSize: V), fused: false), [4, 2])
        XCTAssertEqual(try cost(ModelConfig(cell: .gru, layers: 2, hidden: 16, embed: 5, vocabSize: V)), [4, 0])
        XCTAssertEqual(try cost(ModelConfig(cell: .gru, layers: 2, hidden: 16, embed: 5, vocabSize: V), fused: false), [5, 4])
        XCTAssertEqual(try cost(ModelConfig(cell: .lstm, layers: 2, hidden: 16, embed: 5, vocabSize: V, categories: 3)), [6, 0],
                       "conditional")
    }
}

/// A vocabulary of 1,500 characters (Chinese-sized) draws by slices: the text of one thread per stream,
/// replayed from graphs and step by step, with top-k, without, with top-p and penalties, and greedy (then
/// the CPU sampler's text).
final class DeviceLargeVocabularyTests: XCTestCase {
    func testSlicedDrawsGiveTheOneThreadText() throws {
        let vocabulary = Vocabulary(scalars: (0..<1_500).map { Unicode.Scalar(0x4E00 + $0)! })
        let config = ModelConfig(cell: .lstm, layers: 1, hidden: 12, embed: 6, vocabSize: vocabulary.count)
        let cpu = randomModel(config, seed: 29, scale: 3)
        let device = try EmulatedDevice()
        func generator(sliced: Bool) throws -> DeviceGenerator {
            let model = try DeviceModel(config: config, device: device)
            try model.setParameters(cpu.parameters)
            let g = try DeviceGenerator(model: model, vocabulary: vocabulary, startCharacter: "\u{4E00}")
            g.sampler.slicedAbove = sliced ? 256 : .max
            return g
        }
        let oneThread = try generator(sliced: false), slices = try generator(sliced: true)
        XCTAssertTrue(slices.sampler.usesSlices(vocabulary: vocabulary.count))
        let prime = String(String.UnicodeScalarView((0..<5).map { Unicode.Scalar(0x4E10 + 37 * $0)! }))
        for options in [SamplingOptions(temperature: 0.9, topK: 30), SamplingOptions(temperature: 1.1), SamplingOptions(greedy: true),
                        SamplingOptions(temperature: 1.1, topP: 0.6), SamplingOptions(temperature: 0.9, topK: 30, topP: 0.9),
                        SamplingOptions(temperature: 1, presencePenalty: 1, frequencyPenalty: 0.5)] {
            let want = try oneThread.generate(prime: prime, streams: 3, length: 20, options: options, seed: 4, chunk: 8)
            let launches = device.launches
            let got = try slices.generate(prime: prime, streams: 3, length: 20, options: options, seed: 4, chunk: 8)
            XCTAssertEqual(got, want, "\(options)")
            XCTAssertGreaterThan(device.launches, launches, "the last, partial chunk launches step by step")
            XCTAssertEqual(Set(want).count, options.greedy ? 1 : 3, "\(options)")
        }
        XCTAssertGreaterThan(slices.replayedChunks, 0)
        let greedy = try Sampler(model: cpu, vocabulary: vocabulary, startCharacter: "\u{4E00}")
            .generate(prime: prime, length: 20, options: SamplingOptions(greedy: true), seed: 0)
        XCTAssertEqual(try slices.generate(prime: prime, streams: 1, length: 20, options: SamplingOptions(greedy: true), seed: 1),
                       [greedy])
    }
}

/// Chunks replayed from a captured graph (a CUDA graph on a GPU; recorded closures with their arguments
/// and addresses fixed on the emulated device): the step-by-step text, captured again when a buffer
/// moves or the options change, and step by step again when capturing fails.
final class DeviceGraphTests: XCTestCase {
    private func generators(_ device: EmulatedDevice) throws -> (plain: DeviceGenerator, captured: DeviceGenerator) {
        let config = ModelConfig(cell: .gru, layers: 2, hidden: 20, embed: 5, vocabSize: DeviceGeneratorTests.V)
        let cpu = randomModel(config, seed: 83, scale: 2)
        func make(_ graphs: Bool) throws -> DeviceGenerator {
            let model = try DeviceModel(config: config, device: device)
            try model.setParameters(cpu.parameters)
            let g = try DeviceGenerator(model: model, vocabulary: DeviceGeneratorTests.vocabulary, startCharacter: "a")
            g.useGraphs = graphs
            return g
        }
        return (try make(false), try make(true))
    }

    func testReplayedChunksGiveTheStepByStepTextAndFollowMovedBuffers() throws {
        let device = DeviceTrainerTests.device
        let (plain, captured) = try generators(device)
        // Calls in turn: a short prime, a long one (its feed grows the workspaces: the graph must be
        // captured again), other options (another graph), more streams (new state), and a repeat.
        let calls: [(String, SamplingOptions, Int, UInt64)] = [
            ("", SamplingOptions(temperature: 0.8), 2, 1), (String(repeating: "abcdefghij", count: 9), SamplingOptions(temperature: 0.8), 2, 2),
            ("ab", SamplingOptions(temperature: 1.3, topK: 3), 2, 3), ("ab", SamplingOptions(greedy: true), 5, 4),
            ("ab", SamplingOptions(greedy: true), 5, 5),
        ]
        var replayed = 0
        for (i, (prime, options, streams, seed)) in calls.enumerated() {
            let launches = device.launches
            let want = try plain.generate(prime: prime, streams: streams, length: 4 * 6 + 2, options: options, seed: seed, chunk: 6)
            let plainLaunches = device.launches - launches
            let before = device.launches
            let got = try captured.generate(prime: prime, streams: streams, length: 4 * 6 + 2, options: options, seed: seed, chunk: 6)
            XCTAssertEqual(got, want, "call \(i)")
            XCTAssertNil(captured.graphFailure)
            XCTAssertGreaterThan(captured.replayedChunks, replayed, "call \(i) replayed chunks")
            if i == calls.count - 1 {
                XCTAssertEqual(captured.replayedChunks - replayed, 4, "the repeat replays every full chunk from the graph kept")
                XCTAssertLessThan(device.launches - before, plainLaunches / 3, "replays launch nothing step by step")
            }
            replayed = captured.replayedChunks
        }
        XCTAssertEqual(plain.replayedChunks, 0)
    }

    func testAFailedCaptureFallsBackToStepByStep() throws {
        let device = try EmulatedDevice()
        let (plain, captured) = try generators(device)
        device.captureFailure = "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"
        let options = SamplingOptions(temperature: 0.9)
        let want = try plain.generate(prime: "ab", streams: 3, length: 30, options: options, seed: 7, chunk: 6)
        XCTAssertEqual(try captured.generate(prime: "ab", streams: 3, length: 30, options: options, seed: 7, chunk: 6), want)
        XCTAssertEqual(captured.replayedChunks, 0)
        XCTAssertTrue(captured.graphFailure?.contains("CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED") ?? false, "\(captured.graphFailure ?? "nil")")
        device.capturing = false
        let other = try generators(device).captured
        XCTAssertEqual(try other.generate(prime: "ab", streams: 3, length: 30, options: options, seed: 7, chunk: 6), want)
        XCTAssertFalse(other.useGraphs, "a device that does not capture turns graphs off")
        XCTAssertNil(other.graphFailure)
    }
}

/// Training steps replayed from a captured graph: captured once a step of the same shape has run, kept
/// while nothing moves, captured again after a validation grows the workspaces, and never for steps
/// whose shape keeps changing (names mode); the losses and parameters are those of launching every step.
final class DeviceTrainingGraphTests: XCTestCase {
    func testStepsReplayAndAreCapturedOnlyWhenNeeded() throws {
        let device = try EmulatedDevice()
        let config = ModelConfig(cell: .gru, layers: 2, hidden: 16, embed: 5, vocabSize: 11, dropout: 0.1)
        let cpu = randomModel(config, seed: 91, scale: 1)
        // (T, B) of each step; nil: a validation-like forward of 6 x 20 in between.
        let plan: [(Int, Int)?] = [(5, 3), (5, 3), (5, 3), nil, (5, 3), (5, 3), (5, 3), (6, 3), (5, 3), (6, 3), (5, 3)]
        func run(graphs: Bool) throws -> (log: [Double], parameters: [Float], training: DeviceTrainingStep) {
            let model = try DeviceModel(config: config, device: device)
            let training = try DeviceTrainingStep(model: model, optimizer: Optimizer(kind: .adam, count: cpu.parameterCount))
            training.useGraphs = graphs
            try training.upload(parameters: cpu.parameters, optimizer: Optimizer(kind: .adam, count: cpu.parameterCount))
            let state = try model.hiddenState(batch: 3)
            var data = RandomGenerator(seed: 5), masks = RandomGenerator(seed: 6)
            for shape in plan {
                guard let (T, B) = shape else {
                    var none = RandomGenerator(seed: 0)
                    try model.forward(randomIds(6 * 20, vocab: 11, seed: 9), T: 20, B: 6, state: try model.hiddenState(batch: 6),
                                      training: false, rng: &none)
                    continue
                }
                let x = (0..<(T * B)).map { _ in Int32(data.nextInt(below: 11)) }, y = x.map { ($0 + 1) % 11 }
                try training.step(x, targets: y, T: T, B: B, state: state, rng: &masks, learningRate: 0.01, clipNorm: 1, clipValue: nil)
            }
            return (try training.readLog().flatMap { [$0.loss, $0.norm] }, try model.parameterValues(), training)
        }
        let plain = try run(graphs: false)
        let captures = device.captures
        let captured = try run(graphs: true)
        XCTAssertEqual(captured.log, plain.log)
        XCTAssertEqual(captured.parameters, plain.parameters)
        XCTAssertNil(captured.training.graphFailure)
        // Steps 2-3 (captured at 2) and 6-7 (captured again at 6, after the validation); the rest launch.
        XCTAssertEqual(device.captures - captures, 2)
        XCTAssertEqual(captured.training.replayedSteps, 4)
    }
}

/// The server's continuous batching with its steps on the emulated device: a stream gives the same text
/// alone or in a batch, and greedy text is the CPU engine's.
final class DeviceGenerationBatchTests: XCTestCase {
    func testBatchingOnTheDeviceChangesNoText() throws {
        let config = ModelConfig(cell: .gru, layers: 2, hidden: 24, embed: 6, vocabSize: 11)
        let cp = Checkpoint(model: randomModel(config, seed: 71, scale: 1.5), vocabulary: DeviceGeneratorTests.vocabulary,
                            startCharacter: "a", training: nil)
        let gpu = try GenerationBatch(checkpoint: cp, device: DeviceTrainerTests.device)
        let cpu = GenerationBatch(checkpoint: cp)
        func run(_ batch: GenerationBatch, _ requests: [(String, SamplingOptions, UInt64)]) throws -> [String] {
            let streams = try requests.map { try batch.start(prompt: $0.0, length: 40, options: $0.1, seed: $0.2) }
            var texts = [String](repeating: "", count: streams.count)
            while streams.contains(where: { !$0.finished }) {
                let live = streams.indices.filter { !streams[$0].finished }
                for (i, outcome) in zip(live, try batch.step(live.map { streams[$0] })) {
                    if case .character(let ch) = outcome { texts[i].unicodeScalars.append(ch) }
                }
            }
            return texts
        }
        let requests: [(String, SamplingOptions, UInt64)] = [
            ("abc", SamplingOptions(temperature: 0.9), 1), ("", SamplingOptions(greedy: true), 2),
            ("jj", SamplingOptions(temperature: 1.2, topK: 4), 3),
        ]
        let together = try run(gpu, requests)
        for (i, r) in requests.enumerated() { XCTAssertEqual(try run(gpu, [r]), [together[i]], "request \(i) alone") }
        XCTAssertEqual(try run(cpu, [requests[1]]), [together[1]], "greedy text on the device and on the CPU")
        XCTAssertEqual(together[0].count, 40)
    }

    /// Streams that join late and end early: each batch of a new make-up takes its streams' states from
    /// where the device left them. A run of steps of the same streams copies only the logits back.
    func testStreamsThatComeAndGoKeepTheirStateAndASteadyBatchCopiesOnlyLogits() throws {
        let config = ModelConfig(cell: .lstm, layers: 2, hidden: 20, embed: 6, vocabSize: 11)
        let cp = Checkpoint(model: randomModel(config, seed: 72, scale: 1.5), vocabulary: DeviceGeneratorTests.vocabulary,
                            startCharacter: "a", training: nil)
        let device = DeviceTrainerTests.device
        let gpu = try GenerationBatch(checkpoint: cp, device: device)
        // (prompt, length, the step it joins at, seed)
        let requests: [(String, Int, Int, UInt64)] = [("abc", 30, 0, 1), ("j", 8, 0, 2), ("", 20, 5, 3), ("hh", 12, 11, 4)]
        let options = SamplingOptions(temperature: 1.1)
        func run(_ requests: [(String, Int, Int, UInt64)]) throws -> [String] {
            var streams: [GenerationStream?] = Array(repeating: nil, count: requests.count)
            var texts = [String](repeating: "", count: requests.count)
            var step = 0
            while step == 0 || streams.contains(where: { $0.map { !$0.finished } ?? true }) {
                for (i, r) in requests.enumerated() where r.2 == step {
                    streams[i] = try gpu.start(prompt: r.0, length: r.1, options: options, seed: r.3)
                }
                let live = streams.indices.filter { streams[$0].map { !$0.finished } ?? false }
                for (i, outcome) in zip(live, try gpu.step(live.map { streams[$0]! })) {
                    if case .character(let ch) = outcome { texts[i].unicodeScalars.append(ch) }
                }
                step += 1
            }
            return texts
        }
        let together = try run(requests)
        for (i, r) in requests.enumerated() {
            XCTAssertEqual(try run([(r.0, r.1, 0, r.3)]), [together[i]], "request \(i) alone")
            XCTAssertEqual(together[i].unicodeScalars.count, r.1)
        }
        let stream = try gpu.start(prompt: "ab", length: 25, options: options, seed: 9)
        let copies = device.copiesToHost
        for _ in 0..<25 { _ = try gpu.step([stream]) }
        XCTAssertLessThanOrEqual(device.copiesToHost - copies, 25 + config.layers, "the state came back at every step")
    }
}
