/// One generation in progress. It carries its own recurrent state, options and random stream, so that
/// generations that started at different times can share one batched forward step (continuous batching).
package final class GenerationStream {
    package let options: SamplingOptions
    /// Most characters it may produce.
    package let length: Int
    package private(set) var produced = 0
    package private(set) var finished = false
    /// With `scoring` (the number of alternatives), each step's character is scored into `lastScore`.
    package let scoring: Int?
    package internal(set) var lastScore: CharacterScore?
    /// Times each character was generated, for the penalties (empty without them).
    var counts: [Int32] = []
    var draws: StreamDraws
    let category: Int32?
    /// Per layer, per state vector (h, and c for an LSTM), H values: the stream's row of HiddenState.
    var state: [Float]
    var token: Int32

    init(options: SamplingOptions, length: Int, draws: StreamDraws, category: Int32?, state: [Float], token: Int32,
         scoring: Int? = nil) {
        self.options = options; self.length = length; self.draws = draws; self.scoring = scoring
        self.category = category; self.state = state; self.token = token
        finished = length == 0
    }

    /// What one step did for a stream.
    package enum Outcome: Equatable, Sendable {
        case character(Unicode.Scalar)
        /// The model produced the stop character (not emitted).
        case stopped
    }

    func record(_ outcome: Outcome) {
        switch outcome {
        case .character: produced += 1; if produced >= length { finished = true }
        case .stopped: finished = true
        }
    }
}

/// Runs many generations from one model together: each `step` is one forward pass over all the given
/// streams (a [B, H] product per layer instead of B matrix-vector products), then each stream draws its
/// next character with its own options. A stream alone gives exactly what `Sampler` gives for the same
/// seed, because a one-row step takes the same path.
package final class GenerationBatch {
    package let model: CharRNNModel
    package let vocabulary: Vocabulary
    package let startCharacter: Unicode.Scalar
    package let namesMode: Bool
    package let categoryNames: [String]?
    private let sampler: Sampler
    private var statesByBatch: [Int: HiddenState] = [:]
    private var inputs: [Int32] = []
    private var categories: [Int32] = []
    private var noDropout = RandomGenerator(seed: 0)
    private let rowValues: Int
    /// The GPU path: each step's forward runs there (the prompt is read on the CPU); the logits come back
    /// to the host, where every stream draws with its own options and generator. The state stays on the
    /// device while the same streams step together (`resident`).
    private let onDevice: DeviceModel?
    /// Layer 0's input product of every character on the device (the parameters never change here).
    private let deviceFolded: DeviceBuffer?
    private var deviceStates: [Int: DeviceHiddenState] = [:]
    /// The streams whose state the device holds, in the order of the last step, and where: a step of
    /// the same streams starts from there with no copy either way; any other step first copies that
    /// state back to its streams. (Only the logits then cross to the host at each step.)
    private var resident: (streams: [GenerationStream], state: DeviceHiddenState)?
    private let hostLogits = FloatBuffer(count: 0)

    /// Most streams one step may carry and still give each exactly the text it gets alone.
    package static var largestBatch: Int { RecurrentLayer.panelSplitRows }

    package convenience init(checkpoint: Checkpoint) {
        self.init(checkpoint: checkpoint, deviceModel: nil)
    }

    /// Steps run on `device` (DeviceModel); nil is the CPU.
    package convenience init(checkpoint: Checkpoint, device: ComputeDevice?) throws {
        var deviceModel: DeviceModel? = nil, folded: DeviceBuffer? = nil
        if let device {
            let model = try DeviceModel(config: checkpoint.model.config, device: device)
            try model.setParameters(checkpoint.model.parameters)
            folded = try model.foldedInputProjection()
            deviceModel = model
        }
        self.init(checkpoint: checkpoint, deviceModel: deviceModel, folded: folded)
    }

    private init(checkpoint: Checkpoint, deviceModel: DeviceModel?, folded: DeviceBuffer? = nil) {
        onDevice = deviceModel
        deviceFolded = folded
        model = checkpoint.model
        vocabulary = checkpoint.vocabulary
        startCharacter = checkpoint.startCharacter
        namesMode = checkpoint.info.names ?? false
        categoryNames = checkpoint.info.categoryNames
        sampler = Sampler(model: model, vocabulary: vocabulary, startCharacter: startCharacter)
        rowValues = model.config.layers * model.config.cell.stateCount * model.config.hidden
    }

    /// Checks the request, feeds the prompt (all but its last character in one pass) and returns a stream
    /// ready for `step`. Errors name the problem in words a client can act on.
    /// `scoring`: score every character the stream produces, with that many alternatives (logprobs).
    package func start(prompt: String, length: Int, options: SamplingOptions, seed: UInt64,
                      category: String? = nil, scoring: Int? = nil) throws -> GenerationStream {
        let options = options.endingNames(namesMode)
        try options.validate(for: vocabulary)
        guard length >= 0 else { throw CharRNNError.invalidOption("length must not be negative (got \(length))") }
        let categoryIndex = try self.categoryIndex(category)
        let context = try vocabulary.generationContext(prompt, startCharacter: startCharacter, namesMode: namesMode, what: "the prompt")
        let state = hiddenState(batch: 1)
        state.reset()
        // All but the last prime character, a chunk of input products at a time.
        model.read(Array(context.dropLast()), state: state, categories: categoryIndex.map { [$0] })
        let stream = GenerationStream(options: options, length: length, draws: StreamDraws(seed: seed),
                                      category: categoryIndex, state: state.flattened, token: context[context.count - 1], scoring: scoring)
        if options.penalizes { stream.counts = [Int32](repeating: 0, count: vocabulary.count) }
        return stream
    }

    /// The index of `category` for a model trained by category; nil for one that is not.
    private func categoryIndex(_ category: String?) throws -> Int32? {
        try TextGenerator.categoryIndex(category, of: categoryNames)
    }

    /// Beam search (BeamSearch) over this batch's model: the most likely continuation of `prompt`.
    package func beamSearch(prompt: String, beams: Int, length: Int, stop: Unicode.Scalar?, category: String? = nil) throws -> BeamSearch.Result {
        let categoryIndex = try self.categoryIndex(category)
        return try BeamSearch(model: model, vocabulary: vocabulary, startCharacter: startCharacter, namesMode: namesMode)
            .search(prime: prompt, beams: beams, length: length, stop: stop, category: categoryIndex)
    }

    /// The score of every character of `prompt` as the model reads it from the zero state (the first
    /// has none unless the model starts from its start character, as with an empty prompt or a names
    /// model): what an echoed prompt's logprobs report.
    package func score(prompt: String, category: String? = nil, alternatives top: Int) throws -> [CharacterScore] {
        let categoryIndex = try self.categoryIndex(category)
        let ids = try vocabulary.encode(prompt, what: "the prompt")
        guard !ids.isEmpty else { return [] }
        let startsFromStart = namesMode
        let context = startsFromStart ? [vocabulary.id(of: startCharacter) ?? 0] + ids.dropLast() : Array(ids.dropLast())
        var scores: [CharacterScore] = startsFromStart ? [] : [CharacterScore(unscored: vocabulary.decode(ids[0]))]
        guard !context.isEmpty else { return scores }
        let state = model.hiddenState(batch: 1)
        state.reset()
        let V = vocabulary.count, T = context.count
        let logits = context.withUnsafeBufferPointer {
            model.forward($0.baseAddress!, T: T, B: 1, state: state, training: false, rng: &noDropout,
                          categories: categoryIndex.map { [$0] })
        }
        for t in 0..<T {
            let logprobs = Sampler.logProbabilities(logits: logits + t * V, count: V)
            let target = Int(ids[startsFromStart ? t : t + 1])
            scores.append(CharacterScore(chosen: target, logprobs: logprobs, top: top, vocabulary: vocabulary))
        }
        return scores
    }

    /// One character for each unfinished stream, in the order given. Throws only on a device.
    package func step(_ streams: [GenerationStream]) throws -> [GenerationStream.Outcome] {
        let B = streams.count
        guard B > 0 else { return [] }
        precondition(B <= Self.largestBatch, "at most \(Self.largestBatch) streams per step")
        precondition(!streams.contains { $0.finished }, "a finished stream cannot step")
        let state = hiddenState(batch: B)
        inputs.removeAll(keepingCapacity: true)
        for s in streams { inputs.append(s.token) }
        var cats: [Int32]? = nil
        if categoryNames != nil {
            categories.removeAll(keepingCapacity: true)
            for s in streams { categories.append(s.category ?? 0) }
            cats = categories
        }
        let V = vocabulary.count
        let logits: UnsafePointer<Float>
        if let onDevice {
            let deviceState: DeviceHiddenState
            if let r = resident, r.streams.count == B, zip(r.streams, streams).allSatisfy({ $0 === $1 }) {
                deviceState = r.state
            } else {
                try returnResidentState()
                if let s = deviceStates[B] { deviceState = s } else {
                    deviceState = try onDevice.hiddenState(batch: B)
                    deviceStates[B] = deviceState
                }
                gather(streams, into: state)
                try deviceState.load(state.flattened)
            }
            resident = nil  // until this step has run
            try onDevice.forward(inputs, T: 1, B: B, state: deviceState, training: false, rng: &noDropout, categories: cats,
                                 folded: deviceFolded)
            hostLogits.reserve(B * V)
            try onDevice.device.copy(from: onDevice.logits.pointer, to: hostLogits.pointer, bytes: B * V * 4)
            resident = (streams, deviceState)
            logits = UnsafePointer(hostLogits.pointer)
        } else {
            gather(streams, into: state)
            logits = UnsafePointer(inputs.withUnsafeBufferPointer {
                model.forward($0.baseAddress!, T: 1, B: B, state: state, training: false, rng: &noDropout, categories: cats)
            })
            scatter(state, into: streams)
        }
        var outcomes: [GenerationStream.Outcome] = []
        outcomes.reserveCapacity(B)
        for (b, s) in streams.enumerated() {
            let next = s.counts.withUnsafeBufferPointer {
                sampler.choose(logits: logits + b * V, options: s.options, draw: s.draws.current, counts: $0.baseAddress)
            }
            s.draws.advance()
            if s.options.penalizes { s.counts[Int(next)] += 1 }
            if let top = s.scoring {
                s.lastScore = CharacterScore(chosen: Int(next), logprobs: Sampler.logProbabilities(logits: logits + b * V, count: V),
                                             top: top, vocabulary: vocabulary)
            }
            s.token = next
            let ch = vocabulary.decode(next)
            let outcome: GenerationStream.Outcome = ch == s.options.stop ? .stopped : .character(ch)
            s.record(outcome)
            outcomes.append(outcome)
        }
        return outcomes
    }

    /// Copies the device's state of the last step's streams back to them.
    private func returnResidentState() throws {
        guard let r = resident else { return }
        resident = nil
        let host = hiddenState(batch: r.streams.count)
        host.load(try r.state.flattened())
        scatter(host, into: r.streams)
    }

    private func hiddenState(batch: Int) -> HiddenState {
        if let s = statesByBatch[batch] { return s }
        let s = model.hiddenState(batch: batch)
        statesByBatch[batch] = s
        return s
    }

    // A layer's block is S state vectors of [B, H]; a stream keeps its row of each, layer by layer.
    private func gather(_ streams: [GenerationStream], into state: HiddenState) {
        let H = model.config.hidden, S = model.config.cell.stateCount, B = streams.count
        for (b, s) in streams.enumerated() {
            s.state.withUnsafeBufferPointer { src in
                for (l, block) in state.blocks.enumerated() {
                    for k in 0..<S {
                        (block.pointer + (k * B + b) * H).update(from: src.baseAddress! + (l * S + k) * H, count: H)
                    }
                }
            }
        }
    }

    private func scatter(_ state: HiddenState, into streams: [GenerationStream]) {
        let H = model.config.hidden, S = model.config.cell.stateCount, B = streams.count
        for (b, s) in streams.enumerated() {
            precondition(s.state.count == rowValues)
            s.state.withUnsafeMutableBufferPointer { dst in
                for (l, block) in state.blocks.enumerated() {
                    for k in 0..<S {
                        (dst.baseAddress! + (l * S + k) * H).update(from: block.pointer + (k * B + b) * H, count: H)
                    }
                }
            }
        }
    }
}
