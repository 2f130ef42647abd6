/// Generation on a device for B streams at once, the twin of Sampling/Sampler.swift: each step runs the
/// model on the previous draws, picks the next character of every stream (KernelSource.sampling) and
/// feeds it back, all in device memory; the characters come to the host every `chunk` steps, for
/// streaming and the stop character. Draws come from the counter-based generator seeded by `seed`:
/// the same seed on the same device gives the same text (not the CPU's text, whose draws differ).
///
/// A whole chunk of steps is captured once as a CUDA graph and then replayed with one launch, since a
/// step of a small model is a dozen tiny kernels whose launches, not their work, take the time. The
/// graph holds the addresses of the buffers it uses, so the generator keeps its state and workspaces
/// from call to call and captures again whenever a buffer has moved or the options it baked in change
/// (CapturedWorkCache). Text is the same with or without the graph.
package final class DeviceGenerator {
    package let model: DeviceModel
    package let vocabulary: Vocabulary
    package let startCharacter: Unicode.Scalar
    private let tokens: DeviceBuffer, history: DeviceBuffer
    /// How often each stream drew each character, [B, V] (the penalties).
    private let drawCounts: DeviceBuffer
    /// Layer 0's input product of every character, folded again at each generate for the parameters
    /// of that moment (nil: a conditional model, which multiplies).
    private let folded: DeviceBuffer?
    /// The seed and the draw counter's base, two 64-bit words read by the sampling kernels.
    private let draws: DeviceBuffer
    /// Picks each step's characters (a warp per stream, or by slices for a large vocabulary).
    package let sampler: DeviceSampler
    private var state: DeviceHiddenState?
    /// Names mode: every sample starts after the start symbol, also when a prime is given (as Sampler).
    package var namesMode = false
    /// Replay full chunks from a captured graph where the device can capture (false: launch each step).
    package var useGraphs: Bool {
        get { graphs.enabled }
        set { graphs.enabled = newValue }
    }
    /// Why capturing a chunk failed, if it did; the generator then launches step by step.
    package var graphFailure: String? { graphs.failure }
    /// Chunks run from a captured graph so far.
    package var replayedChunks: Int { graphs.replays }
    private var graphs = CapturedWorkCache<GraphKey>()

    /// What a captured chunk bakes in besides addresses.
    private struct GraphKey: Equatable {
        let streams: Int, chunk: Int, inverseTemperature: Float, topK: Int, topP: Float, greedy: Bool
        let presencePenalty: Float, frequencyPenalty: Float
        var penalizes: Bool { presencePenalty != 0 || frequencyPenalty != 0 }
    }

    package init(model: DeviceModel, vocabulary: Vocabulary, startCharacter: Unicode.Scalar) throws {
        self.model = model
        self.vocabulary = vocabulary
        self.startCharacter = startCharacter
        tokens = try DeviceBuffer(model.device, count: 0, elementSize: 4)
        history = try DeviceBuffer(model.device, count: 0, elementSize: 4)
        drawCounts = try DeviceBuffer(model.device, count: 0, elementSize: 4)
        draws = try DeviceBuffer(model.device, count: 2, elementSize: 8)
        folded = model.foldsInputProjection ? try DeviceBuffer(model.device, count: 0) : nil
        sampler = try DeviceSampler(device: model.device)
    }

    /// Feeds `prime` (the start character when empty) to every stream from the zero state, then draws up
    /// to `length` characters per stream. `emit` gets each stream's new characters every `chunk` steps
    /// and returns false to stop. A stream ends at the stop character (not emitted). A conditional model
    /// generates in `category` (every stream the same), as Sampler.generate. `keep: false` returns empty
    /// texts, for a caller that takes them from `emit`.
    @discardableResult
    package func generate(prime: String, streams B: Int, length: Int, options: SamplingOptions, seed: UInt64,
                         category: Int32? = nil, chunk: Int = 64, keep: Bool = true,
                         emit: ([String]) -> Bool = { _ in true }) throws -> [String] {
        let options = options.endingNames(namesMode)
        try options.validate(for: vocabulary)
        precondition(B >= 1 && chunk >= 1)
        try model.config.checkCategory(category)
        if let category { try model.setCategories([Int32](repeating: category, count: B)) }
        let context = try vocabulary.generationContext(prime, startCharacter: startCharacter, namesMode: namesMode)
        if state?.batch != B { state = nil; state = try model.hiddenState(batch: B) }
        let state = state!
        try state.reset()
        if let folded { try model.foldInputProjection(into: folded) }
        var none = RandomGenerator(seed: 0)
        let feed = Array(context.dropLast())
        for start in stride(from: 0, to: feed.count, by: CharRNNModel.primeChunk) {
            let part = feed[start..<min(start + CharRNNModel.primeChunk, feed.count)]
            // Time-major: every stream reads the same character at each step.
            try model.forward(part.flatMap { Array(repeating: $0, count: B) }, T: part.count, B: B, state: state,
                              training: false, rng: &none, folded: folded)
        }
        let device = model.device
        try tokens.reserve(B)
        try device.upload([Int32](repeating: context[context.count - 1], count: B), to: tokens.pointer)
        try history.reserve(chunk * B)
        try sampler.reserve(streams: B, vocabulary: vocabulary.count)
        try device.upload([seed, 0], to: draws.pointer)
        let key = GraphKey(streams: B, chunk: chunk, inverseTemperature: 1 / options.temperature, topK: options.topK ?? 0,
                           topP: options.topP ?? 1, greedy: options.greedy, presencePenalty: options.presencePenalty,
                           frequencyPenalty: options.frequencyPenalty)
        if key.penalizes {
            try drawCounts.reserve(B * vocabulary.count)
            try drawCounts.zero()
        }
        var texts = [String.UnicodeScalarView](repeating: String.UnicodeScalarView(), count: B)
        var ended = [Bool](repeating: false, count: B)
        var step = 0
        while step < length && ended.contains(false) {
            let steps = min(chunk, length - step)
            if steps == chunk {
                try graphs.run(key, on: device) { try runChunk(chunk, key: key, state: state) }
            } else {
                try runChunk(steps, key: key, state: state)
                graphs.launched(key, on: device)
            }
            let drawn = try device.downloadInt32s(history.pointer, count: steps * B)
            var fresh = [String](repeating: "", count: B)
            for b in 0..<B where !ended[b] {
                var part = String.UnicodeScalarView()
                for k in 0..<steps {
                    let ch = vocabulary.decode(drawn[k * B + b])
                    if let stop = options.stop, ch == stop { ended[b] = true; break }
                    part.append(ch)
                }
                if keep { texts[b].append(contentsOf: part) }
                fresh[b] = String(part)
            }
            step += steps
            if !emit(fresh) { break }
        }
        return texts.map { String($0) }
    }

    /// `steps` steps of every stream: the model on the last draws, the next draws into history, then the
    /// draw counter moved on by `steps`.
    private func runChunk(_ steps: Int, key: GraphKey, state: DeviceHiddenState) throws {
        let device = model.device, B = key.streams, V = vocabulary.count
        var none = RandomGenerator(seed: 0)
        for k in 0..<steps {
            try model.forward(ids: tokens.pointer, T: 1, B: B, state: state, training: false, rng: &none, folded: folded)
            if key.penalizes {
                try device.penalizeLogits(threads: B * V, B: B, V: V, logits: model.logits.pointer, counts: drawCounts.pointer,
                                          presence: key.presencePenalty, frequency: key.frequencyPenalty)
            }
            try sampler.queue(streams: B, vocabulary: V, logits: model.logits.pointer, inverseTemperature: key.inverseTemperature,
                              topK: key.topK, topP: key.topP, greedy: key.greedy, draws: draws.pointer, offset: k, ids: tokens.pointer,
                              history: history[offset: k * B])
            if key.penalizes {
                try device.countDraws(threads: B, B: B, V: V, ids: tokens.pointer, counts: drawCounts.pointer)
            }
        }
        try device.advanceDraws(threads: 1, draws: draws.pointer, n: steps)
    }
}
