/// Generation on a device for B streams at once, the twin of Sampling/Sampler.swift: each step runs the
/// model on the previous draws, picks the next character of every stream (KernelSource.sampling) and
/// feeds it back, all in device memory; the characters come to the host every `chunk` steps, for
/// streaming and the stop character. Draws come from the counter-based generator seeded by `seed`:
/// the same seed on the same device gives the same text (not the CPU's text, whose draws differ).
public final class DeviceGenerator {
    public let model: DeviceModel
    public let vocabulary: Vocabulary
    public let startCharacter: Unicode.Scalar
    private let tokens: DeviceBuffer, history: DeviceBuffer
    /// Names mode: every sample starts after the start symbol, also when a prime is given (as Sampler).
    public var namesMode = false

    public init(model: DeviceModel, vocabulary: Vocabulary, startCharacter: Unicode.Scalar) throws {
        self.model = model
        self.vocabulary = vocabulary
        self.startCharacter = startCharacter
        tokens = try DeviceBuffer(model.device, count: 0, elementSize: 4)
        history = try DeviceBuffer(model.device, count: 0, elementSize: 4)
    }

    /// Feeds `prime` (the start character when empty) to every stream from the zero state, then draws up
    /// to `length` characters per stream. `emit` gets each stream's new characters every `chunk` steps
    /// and returns false to stop. A stream ends at the stop character (not emitted). A conditional model
    /// generates in `category` (every stream the same), as Sampler.generate.
    @discardableResult
    public func generate(prime: String, streams B: Int, length: Int, options: SamplingOptions, seed: UInt64,
                         category: Int32? = nil, chunk: Int = 64, emit: ([String]) -> Bool = { _ in true }) throws -> [String] {
        try options.validate(for: vocabulary)
        precondition(B >= 1 && chunk >= 1)
        let C = model.config.categories
        if C > 0 {
            guard let category, (0..<Int32(C)).contains(category) else {
                throw CharRNNError.invalidOption("this model generates by category: give a category from 0 to \(C - 1)")
            }
            try model.setCategories([Int32](repeating: category, count: B))
        } else if category != nil {
            throw CharRNNError.invalidOption("this model was not trained with categories")
        }
        var context = try vocabulary.encode(prime, what: "the prime text")
        if context.isEmpty || namesMode { context.insert(vocabulary.id(of: startCharacter) ?? 0, at: 0) }
        let state = try model.hiddenState(batch: B)
        var none = RandomGenerator(seed: 0)
        let feed = Array(context.dropLast())
        for start in stride(from: 0, to: feed.count, by: CharRNNModel.primeChunk) {
            let part = feed[start..<min(start + CharRNNModel.primeChunk, feed.count)]
            // Time-major: every stream reads the same character at each step.
            try model.forward(part.flatMap { Array(repeating: $0, count: B) }, T: part.count, B: B, state: state,
                              training: false, rng: &none)
        }
        let device = model.device, V = vocabulary.count
        try tokens.reserve(B)
        try device.upload([Int32](repeating: context[context.count - 1], count: B), to: tokens.pointer)
        try history.reserve(chunk * B)
        var texts = [String.UnicodeScalarView](repeating: String.UnicodeScalarView(), count: B)
        var ended = [Bool](repeating: false, count: B)
        var step = 0
        while step < length && ended.contains(false) {
            let steps = min(chunk, length - step)
            for k in 0..<steps {
                try model.forward(ids: tokens.pointer, T: 1, B: B, state: state, training: false, rng: &none)
                try device.launch("sample_next", threads: B,
                                  [.int(B), .int(V), .pointer(model.logits.pointer), .float(1 / options.temperature),
                                   .int(options.topK ?? 0), .int(options.greedy ? 1 : 0), .uint64(seed),
                                   .uint64(UInt64(step + k)), .pointer(tokens.pointer), .pointer(history[offset: k * B])])
            }
            var drawn = [Int32](repeating: 0, count: steps * B)
            try drawn.withUnsafeMutableBytes { try device.copy(from: history.pointer, to: $0.baseAddress!, bytes: $0.count) }
            var fresh = [String](repeating: "", count: B)
            for b in 0..<B where !ended[b] {
                var part = String.UnicodeScalarView()
                for k in 0..<steps {
                    let ch = vocabulary.decode(drawn[k * B + b])
                    if let stop = options.stop, ch == stop { ended[b] = true; break }
                    part.append(ch)
                }
                texts[b].append(contentsOf: part)
                fresh[b] = String(part)
            }
            step += steps
            if !emit(fresh) { break }
        }
        return texts.map { String($0) }
    }
}
