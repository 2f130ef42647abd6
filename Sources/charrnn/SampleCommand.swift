import ArgumentParser
import CharRNN

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a trained model, streaming it as it is produced.",
        discussion: """
        With --interactive, each input line is a prime and the model's continuation is printed after it. \
        Lines starting with ':' set options: ':temp 0.5', ':top-k 5', ':length 200', ':seed 7', ':greedy on'. \
        Ctrl-D quits. Piped input gets one completion per line.
        """
    )

    @Option(name: [.short, .long], help: "A checkpoint file, or a training folder (its best, else latest, checkpoint).")
    var checkpoint: String
    @Option(help: "Text to start from; the model reads it first and continues it.")
    var prime = ""
    @Option(help: "Characters to generate per sample.")
    var length = 500
    @Option(help: "Softmax temperature: below 1 is more conservative, above 1 more surprising.")
    var temperature: Float = 1
    @Option(help: "Sample only from the k most likely characters.")
    var topK: Int?
    @Flag(help: "Always take the most likely character.")
    var greedy = false
    @Option(help: "Random seed; the same seed and options give the same text (default: from the clock).")
    var seed: UInt64?
    @Option(help: "Stop a sample when this character is generated (e.g. '\\n').")
    var stop: String?
    @Option(help: "Number of independent samples.")
    var count = 1
    @Flag(help: "Read primes line by line from standard input.")
    var interactive = false
    @Option(help: "Threads for matrix products.")
    var threads = 1

    func run() throws {
        guard length >= 0 else { throw CharRNNError.invalidOption("--length must be 0 or more (got \(length))") }
        guard count >= 1 else { throw CharRNNError.invalidOption("--count must be at least 1 (got \(count))") }
        guard threads >= 1 else { throw CharRNNError.invalidOption("--threads must be at least 1 (got \(threads))") }
        var options = SamplingOptions(temperature: temperature, topK: topK, greedy: greedy)
        if let stop { options.stop = try parseCharacter(stop, option: "--stop") }
        try options.validate()
        let cp = try Checkpoint.load(checkpoint)
        BLAS.setThreads(threads)
        let sampler = Sampler(checkpoint: cp)
        var rng = RandomGenerator(seed: seed ?? UInt64(monotonicSeconds() * 1e6))
        if interactive {
            try runInteractive(sampler, options: options, rng: &rng)
            return
        }
        _ = try cp.vocabulary.encode(prime, what: "the prime text")
        for i in 0..<count {
            if i > 0 && options.stop == nil { Terminal.writeFlushed("\n") }
            Terminal.writeFlushed(prime)
            var last: Unicode.Scalar? = prime.unicodeScalars.last
            try sampler.generate(prime: prime, length: length, options: options, rng: &rng) { ch in
                Terminal.writeFlushed(String(ch))
                last = ch
                return true
            }
            if last != "\n" { Terminal.writeFlushed("\n") }
        }
    }

    private func runInteractive(_ sampler: Sampler, options start: SamplingOptions, rng: inout RandomGenerator) throws {
        var options = start
        var length = self.length
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
                var last: Unicode.Scalar? = nil
                try sampler.generate(prime: line, length: length, options: options, rng: &rng) { ch in
                    Terminal.writeFlushed(String(ch))
                    last = ch
                    return true
                }
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
        guard let name = parts.first else { return "commands: :temp T, :top-k K, :length N, :seed S, :greedy on|off" }
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
        case "greedy":
            options.greedy = value == "on" || value == "true" || value == "1"
        default:
            return "unknown command ':\(name)'; commands: :temp T, :top-k K, :length N, :seed S, :greedy on|off"
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
