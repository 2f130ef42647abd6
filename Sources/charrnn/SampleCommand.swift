import ArgumentParser
import CharRNN

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a trained model, streaming it as it is produced.",
        discussion: """
        With --interactive, each input line is a prime and the model's continuation is printed after it. \
        Lines starting with ':' set options: ':temp 0.5', ':top-k 5', ':top-p 0.9', ':length 200', ':seed 7', ':greedy on'. \
        Ctrl-D quits. Piped input gets one completion per line.
        """
    )

    @Option(name: [.short, .long], help: "A checkpoint file, or a training folder (its best, else latest, checkpoint).")
    var checkpoint: String
    @Option(parsing: .unconditional, help: "Text to start from; the model reads it first and continues it.")
    var prime = ""
    @Option(parsing: .unconditional, help: "Characters to generate per sample (default 500; 40 for a names model).")
    var length: Int?
    @Option(parsing: .unconditional, help: "Softmax temperature: below 1 is more conservative, above 1 more surprising.")
    var temperature: Float = 1
    @Option(parsing: .unconditional, help: "Sample only from the k most likely characters.")
    var topK: Int?
    @Flag(help: "Always take the most likely character.")
    var greedy = false
    @Option(parsing: .unconditional, help: "Random seed; the same seed and options give the same text (default: from the clock).")
    var seed: UInt64?
    @Option(parsing: .unconditionalSingleValue, help: "Stop a sample when this text is generated (e.g. '\\n\\n', a blank line; or one character, e.g. '\\n'); repeat for several. The stop text is not printed.")
    var stop: [String] = []
    @Option(parsing: .unconditional, help: "Nucleus sampling: draw only from the most likely characters whose probabilities add up to P (0 < P <= 1), after --temperature and --top-k. Drawn on the CPU.")
    var topP: Float?
    @Option(parsing: .unconditional, help: "Print each generated character as a JSON line with its log-probability (natural log, temperature 1) and the K most likely alternatives (0 to 20), instead of the text. On the CPU.")
    var logprobs: Int?
    @Option(help: "Read the prime from this UTF-8 file (for a prime longer than a command line).")
    var primeFile: String?
    @Option(parsing: .unconditional, help: "Beam search with N beams for the most likely continuation of --length characters (or up to a one-character --stop), instead of drawing; deterministic. On the CPU.")
    var beam: Int?
    @Option(parsing: .unconditional, help: "Number of independent samples.")
    var count = 1
    @Option(help: "For a model trained on a folder of categories: generate in this category.")
    var category: String?
    @Flag(help: "Every sample differs from the others (names).")
    var unique = false
    @Flag(help: "No sample occurs in the training data (names); implies --unique.")
    var novel = false
    @Flag(help: "Read primes line by line from standard input.")
    var interactive = false
    @Option(parsing: .unconditional, help: "Threads (default: one per 64 hidden units from 256 units up, else one; at most the cores this process may use).")
    var threads: Int?
    @Option(help: DefaultDevice.help(". On a GPU the --count samples are drawn together as one batch."))
    var device = DefaultDevice.text

    mutating func run() throws {
        if let length, length < 0 { throw CharRNNError.invalidOption("--length must be 0 or more (got \(length))") }
        guard count >= 1 else { throw CharRNNError.invalidOption("--count must be at least 1 (got \(count))") }
        if let threads { try BLAS.checkThreads(threads) }
        var options = SamplingOptions(temperature: temperature, topK: topK, greedy: greedy, topP: topP)
        let stops = try stop.map { try parseStop($0) }
        // One stop character is the model's own stop (also on a GPU); longer stops are cut as they come.
        var stopStrings: [String] = []
        if stops.count == 1, let only = stops[0].unicodeScalars.first, stops[0].unicodeScalars.count == 1 {
            options.stop = only
        } else {
            stopStrings = stops
        }
        try options.validate()
        if let k = logprobs {
            guard (0...20).contains(k) else { throw CharRNNError.invalidOption("--logprobs must be between 0 and 20 (got \(k))") }
            guard !interactive && !unique && !novel else {
                throw CharRNNError.invalidOption("--logprobs prints scored samples; it does not go with --interactive, --unique or --novel")
            }
        }
        if let primeFile {
            guard prime.isEmpty else { throw CharRNNError.invalidOption("give --prime or --prime-file, not both") }
            prime = try TextFile.read(primeFile)
        }
        let cp = try Checkpoint.load(checkpoint)
        for s in stopStrings {
            let unknown = s.unicodeScalars.filter { cp.vocabulary.id(of: $0) == nil }
            if let u = unknown.first {
                throw CharRNNError.invalidOption("--stop '\(CharRNNError.visible(s))' has '\(CharRNNError.visible(String(u)))', which the model never saw, so generation would never stop there")
            }
        }
        let namesModel = cp.info.names ?? false
        let opening = { (prime: String) in Sampler.opening(prime: prime, startCharacter: cp.startCharacter, namesMode: namesModel) }
        prime = opening(prime)
        options = options.endingNames(namesModel)
        let length = self.length ?? (namesModel ? 40 : 500)
        if unique || novel {
            // Every sample is kept, to tell the next ones from it.
            try MemoryEstimate.check(MemoryEstimate.product([count, length + prime.utf8.count + 64, 8]),
                                     what: "keeping \(count) distinct samples of up to \(length) characters")
        }
        var categoryIndex: Int32? = nil
        if let category {
            guard let names = cp.info.categoryNames else {
                throw CharRNNError.invalidOption("this model was not trained with categories; drop --category")
            }
            guard let i = names.firstIndex(of: category) else {
                throw CharRNNError.invalidOption("unknown category '\(category)'; the model knows: \(names.joined(separator: ", "))")
            }
            categoryIndex = Int32(i)
        } else if let names = cp.info.categoryNames {
            throw CharRNNError.invalidOption("this model generates by category: give --category (one of \(names.joined(separator: ", ")))")
        }
        if let beams = beam {
            guard beams >= 1 else { throw CharRNNError.invalidOption("--beam must be at least 1 (got \(beams))") }
            guard temperature == 1, topK == nil, topP == nil, !greedy, count == 1, !unique, !novel, !interactive, logprobs == nil,
                  stopStrings.isEmpty else {
                throw CharRNNError.invalidOption("--beam searches the model's own probabilities for one text: --temperature, --top-k, --top-p, "
                                                 + "--greedy, --count, --unique, --novel, --interactive, --logprobs and --stop strings do not go with it")
            }
            _ = try cp.vocabulary.encode(prime, what: "the prime text")
            let hidden = cp.model.config.hidden
            BLAS.setThreads(threads ?? min(CPUCount.usable, hidden >= 256 ? hidden / 64 : 1))
            let found = try BeamSearch(checkpoint: cp).search(prime: prime, beams: beams, length: length, stop: options.stop,
                                                              category: categoryIndex)
            Terminal.writeFlushed(prime + found.text + ((prime + found.text).hasSuffix("\n") ? "" : "\n"))
            return
        }
        if let gpu = try DeviceChoice(parsing: device).openSayingWhere() {
            if options.topP != nil { throw CharRNNError.invalidOption("--top-p is drawn on the CPU; the GPU's own draws do not take it yet: add --device cpu") }
            if logprobs != nil { throw CharRNNError.invalidOption("--logprobs is computed on the CPU: add --device cpu") }
            return try sampleOnDevice(gpu, cp, options: options, length: length, category: categoryIndex, opening: opening,
                                      stopStrings: stopStrings)
        }
        // One stream's step is split by gate units: about 64 hidden units a thread pay for their share
        // from 256 units up (2x256: 1.4 times faster on 2 threads than on 1). Below that one thread: the
        // 2x128 LSTM drew 45.6k-54.1k characters/s on 1 thread of a 16-core Xeon against 42.2k-46.1k on 2
        // (three alternating rounds, 2026-11-24), and the same on 1 and 2 threads of a 2-core Zen 5.
        let hidden = cp.model.config.hidden
        BLAS.setThreads(threads ?? min(CPUCount.usable, hidden >= 256 ? hidden / 64 : 1))
        let sampler = Sampler(checkpoint: cp)
        var rng = RandomGenerator(seed: seed ?? UInt64(monotonicSeconds() * 1e6))
        if interactive {
            try runInteractive(options: options, length: length, rng: &rng, opening: opening, stopStrings: stopStrings) {
                prime, options, length, rng, emit in
                try sampler.generate(prime: prime, length: length, options: options, rng: &rng, category: categoryIndex, emit: emit)
            }
            return
        }
        _ = try cp.vocabulary.encode(prime, what: "the prime text")
        if unique || novel {
            // One at a time, so each is printed as soon as it is found.
            try distinctSamples(cp, rng: &rng) { _, rng in
                [StopStrings.cut(try sampler.generate(prime: prime, length: length, options: options, rng: &rng, category: categoryIndex),
                                 at: stopStrings).text]
            }
            return
        }
        for i in 0..<count {
            var filter = StopStrings(stopStrings)
            if let k = logprobs {
                // JSON lines: each character with its score; offsets count characters of the text after the prime.
                var offset = 0, pending: CharacterScore? = nil
                func print(_ pieces: [StopStrings.Piece]) {
                    for p in pieces {
                        guard let s = p.score else { continue }
                        Terminal.writeFlushed(ScoredCharacterLine(sample: i, offset: offset, score: s, alternatives: k).json + "\n")
                        offset += 1
                    }
                }
                try sampler.generate(prime: prime, length: length, options: options, rng: &rng, category: categoryIndex, keep: false,
                                     alternatives: k, emit: { ch in
                                         print(filter.feed([(ch, pending)]))
                                         return !filter.stopped
                                     }, score: { pending = $0 })
                print(filter.flush())
                continue
            }
            if i > 0 && options.stop == nil { Terminal.writeFlushed("\n") }
            Terminal.writeFlushed(prime)
            var last: Unicode.Scalar? = prime.unicodeScalars.last
            func print(_ pieces: [StopStrings.Piece]) {
                guard let end = pieces.last?.character else { return }
                var text = String.UnicodeScalarView()
                text.append(contentsOf: pieces.map(\.character))
                Terminal.writeFlushed(String(text))
                last = end
            }
            try sampler.generate(prime: prime, length: length, options: options, rng: &rng, category: categoryIndex,
                                 keep: false) { ch in
                print(filter.feed([(ch, nil)]))
                return !filter.stopped
            }
            print(filter.flush())
            if last != "\n" { Terminal.writeFlushed("\n") }
        }
    }

    /// A --stop value: escapes (\\n, \\t, \\r, \\\\) and the names newline, tab and space.
    private func parseStop(_ s: String) throws -> String {
        switch s {
        case "newline": return "\n"
        case "tab": return "\t"
        case "space": return " "
        default: break
        }
        var out = "", escaped = false
        for ch in s {
            if escaped {
                switch ch {
                case "n": out += "\n"
                case "t": out += "\t"
                case "r": out += "\r"
                case "\\": out += "\\"
                default: out += "\\" + String(ch)
                }
                escaped = false
            } else if ch == "\\" {
                escaped = true
            } else {
                out.append(ch)
            }
        }
        if escaped { out += "\\" }
        guard !out.isEmpty else { throw CharRNNError.invalidOption("--stop must not be empty") }
        return out
    }

    /// The --count samples as one batch of streams on a GPU (DeviceGenerator); one sample streams as it
    /// is drawn, several are printed when done. --unique and --novel draw batches until enough differ;
    /// --interactive draws one stream per prompt. Each draw's seed comes from the --seed generator.
    private func sampleOnDevice(_ gpu: ComputeDevice, _ cp: Checkpoint, options: SamplingOptions, length: Int,
                                category: Int32?, opening: (String) -> String, stopStrings: [String]) throws {
        try MemoryEstimate.check(MemoryEstimate.inference(cp.model.config, T: 1, B: count), what: "drawing \(count) samples together", on: gpu)
        if count > 1 {
            try MemoryEstimate.check(MemoryEstimate.product([count, length, 8]), what: "keeping \(count) samples of \(length) characters")
        }
        let model = try DeviceModel(config: cp.model.config, device: gpu)
        try model.setParameters(cp.model.parameters)
        let generator = try DeviceGenerator(model: model, vocabulary: cp.vocabulary, startCharacter: cp.startCharacter)
        generator.namesMode = cp.info.names ?? false
        try draw(on: generator, cp, options: options, length: length, category: category, opening: opening, stopStrings: stopStrings)
        // The text is right either way; only the speed is not what it should be. (Not said after an
        // error, whose own line says what went wrong.)
        if let why = generator.graphFailure { Terminal.error("charrnn: note: generating step by step, as a CUDA graph failed: \(why)") }
    }

    private func draw(on generator: DeviceGenerator, _ cp: Checkpoint, options: SamplingOptions, length: Int,
                      category: Int32?, opening: (String) -> String, stopStrings: [String]) throws {
        let seed = self.seed ?? UInt64(monotonicSeconds() * 1e6)
        if interactive {
            var rng = RandomGenerator(seed: seed)
            try runInteractive(options: options, length: length, rng: &rng, opening: opening, stopStrings: stopStrings) {
                prime, options, length, rng, emit in
                try generator.generate(prime: prime, streams: 1, length: length, options: options, seed: rng.next(),
                                       category: category, chunk: 16) { fresh in
                    fresh[0].unicodeScalars.allSatisfy { emit($0) }
                }[0]
            }
            return
        }
        _ = try cp.vocabulary.encode(prime, what: "the prime text")
        if unique || novel {
            var rng = RandomGenerator(seed: seed)
            try distinctSamples(cp, rng: &rng) { n, rng in
                try generator.generate(prime: prime, streams: min(n, 256), length: length, options: options, seed: rng.next(),
                                       category: category, chunk: 256).map { StopStrings.cut($0, at: stopStrings).text }
            }
            return
        }
        if count == 1 { Terminal.writeFlushed(prime) }
        var last: Unicode.Scalar? = prime.unicodeScalars.last
        var filter = StopStrings(stopStrings)
        func print(_ pieces: [StopStrings.Piece]) {
            guard let end = pieces.last?.character else { return }
            var text = String.UnicodeScalarView()
            text.append(contentsOf: pieces.map(\.character))
            Terminal.writeFlushed(String(text))
            last = end
        }
        let drawn = try generator.generate(prime: prime, streams: count, length: length, options: options, seed: seed,
                                           category: category, chunk: count == 1 ? 16 : 256, keep: count > 1) { fresh in
            if count == 1, let part = fresh.first, !part.isEmpty {
                print(filter.feed(part.unicodeScalars.map { ($0, nil) }))
                return !filter.stopped
            }
            return true
        }
        let texts = drawn.map { StopStrings.cut($0, at: stopStrings).text }
        if count == 1 {
            print(filter.flush())
            if last != "\n" { Terminal.writeFlushed("\n") }
            return
        }
        for (i, text) in texts.enumerated() {
            if i > 0 && options.stop == nil { Terminal.writeFlushed("\n") }
            let sample = prime + text
            Terminal.writeFlushed(sample + (sample.hasSuffix("\n") ? "" : "\n"))
        }
    }

    /// `count` samples that differ from each other (and, with --novel, from every training item),
    /// each printed on its own line as soon as it is found.
    /// `draw(n, rng)` returns up to n new samples (without the prime).
    private func distinctSamples(_ cp: Checkpoint, rng: inout RandomGenerator,
                                 draw: (Int, inout RandomGenerator) throws -> [String]) throws {
        var known = Set<String>()
        if novel {
            guard let path = cp.info.training?.corpus else {
                throw CharRNNError.invalidOption("--novel needs the training data, and this checkpoint does not name it")
            }
            var options = TrainingOptions(textPath: path, outputDirectory: "")
            options.names = true
            options.validationFraction = 0
            do { known = try TrainingData.load(options).items } catch {
                throw CharRNNError.invalidOption("--novel needs the training data at \(path): \(error)")
            }
        }
        var seen = Set<String>(), found = 0, attempts = 0
        let tries = count.multipliedReportingOverflow(by: 200).overflow ? Int.max : 200 * count
        while found < count && attempts < tries {
            for sample in try draw(min(count - found, tries - attempts), &rng) where found < count {
                attempts += 1
                let s = prime + sample
                if s.isEmpty || seen.contains(s) || known.contains(s) { continue }
                seen.insert(s)
                found += 1
                Terminal.writeFlushed(s + "\n")
            }
        }
        if found < count {
            throw CharRNNError.invalidOption("found only \(found) distinct\(novel ? " new" : "") samples in \(attempts) tries; raise --temperature or lower --count")
        }
    }

    /// `generate(prime, options, length, rng, emit)` draws one sample after `prime`, giving each character to
    /// `emit` as it comes (false stops it). An empty line starts from `opening("")`, which is printed first.
    private func runInteractive(options start: SamplingOptions, length: Int, rng: inout RandomGenerator,
                                opening: (String) -> String, stopStrings: [String],
                                generate: (String, SamplingOptions, Int, inout RandomGenerator, (Unicode.Scalar) -> Bool) throws -> String)
        throws {
        var options = start
        var length = length
        let prompt = Terminal.stdinIsTerminal
        while true {
            if prompt { Terminal.writeFlushed("> ") }
            guard let line = readLine(strippingNewline: true) else { break }
            if line.hasPrefix(":") {
                if let message = apply(command: line, options: &options, length: &length, rng: &rng) {
                    Terminal.error(message)
                }
                continue
            }
            do {
                let prime = opening(line)
                if prime != line { Terminal.writeFlushed(prime) }
                var last: Unicode.Scalar? = prime == line ? nil : prime.unicodeScalars.last
                var filter = StopStrings(stopStrings)
                func print(_ pieces: [StopStrings.Piece]) {
                    guard let end = pieces.last?.character else { return }
                    var text = String.UnicodeScalarView()
                    text.append(contentsOf: pieces.map(\.character))
                    Terminal.writeFlushed(String(text))
                    last = end
                }
                _ = try generate(prime, options, length, &rng) { ch in
                    print(filter.feed([(ch, nil)]))
                    return !filter.stopped
                }
                print(filter.flush())
                if last != "\n" { Terminal.writeFlushed("\n") }
            } catch let e as CharRNNError {
                Terminal.error("charrnn: error: \(e.description)")
            }
        }
        if prompt { Terminal.writeFlushed("\n") }
    }

    /// Applies a ':name value' line; returns a message for the user when it is not understood.
    private func apply(command line: String, options: inout SamplingOptions, length: inout Int,
                       rng: inout RandomGenerator) -> String? {
        let parts = line.dropFirst().split(separator: " ", maxSplits: 1).map(String.init)
        guard let name = parts.first else { return "commands: :temp T, :top-k K, :top-p P, :length N, :seed S, :greedy on|off" }
        let value = parts.count > 1 ? parts[1].trimmingCharacters() : ""
        switch name {
        case "temp", "temperature":
            guard let t = Float(value), t > 0, t.isFinite else { return "temperature must be a number above 0" }
            options.temperature = t
        case "top-k", "topk", "top_k":
            if value == "off" || value == "0" { options.topK = nil; return nil }
            guard let k = Int(value), k >= 1 else { return "top-k must be at least 1 (or off)" }
            options.topK = k
        case "length":
            guard let n = Int(value), n >= 0 else { return "length must be 0 or more" }
            length = n
        case "seed":
            guard let s = UInt64(value) else { return "seed must be a whole number" }
            rng = RandomGenerator(seed: s)
        case "top-p", "topp", "top_p":
            if value == "off" || value == "1" { options.topP = nil; return nil }
            guard let p = Float(value), p > 0, p <= 1 else { return "top-p must be above 0 and at most 1 (or off)" }
            options.topP = p
        case "greedy":
            options.greedy = value == "on" || value == "true" || value == "1"
        default:
            return "unknown command ':\(name)'; commands: :temp T, :top-k K, :top-p P, :length N, :seed S, :greedy on|off"
        }
        return nil
    }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
