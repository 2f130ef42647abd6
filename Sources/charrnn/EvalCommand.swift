import ArgumentParser
import CharRNN

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure how well a model predicts a text: cross-entropy, perplexity, bits per character.",
        discussion: "The hidden state is carried through the whole file, as when the model reads it in one go."
    )

    @Option(name: [.short, .long], help: "A checkpoint file, or a training folder.")
    var checkpoint: String
    @Argument(help: "The text to evaluate (UTF-8).")
    var file: String
    @Flag(help: "Drop characters the model never saw instead of failing.")
    var skipUnknown = false
    @Option(parsing: .unconditional, help: "Characters fed per forward pass (does not change the result).")
    var chunk = 256
    @Option(parsing: .unconditional, help: "Threads (default: the cores this process may use, from its CPU affinity and any cgroup quota).")
    var threads = CPUCount.usable
    @Option(help: "cpu, cuda, cuda:N or auto (a usable GPU, else the CPU); see 'charrnn devices'.")
    var device = "cpu"

    func run() throws {
        guard chunk >= 1 else { throw CharRNNError.invalidOption("--chunk must be at least 1 (got \(chunk))") }
        try BLAS.checkThreads(threads)
        let choice = try DeviceChoice(parsing: device)
        let cp = try Checkpoint.load(checkpoint)
        let text = try TextFile.read(file)
        BLAS.setThreads(threads)
        var ids: [Int32]
        var skipped = 0
        if skipUnknown {
            (ids, skipped) = cp.vocabulary.encodeSkippingUnknown(text)
        } else {
            ids = try cp.vocabulary.encode(text, what: file)
        }
        guard ids.count >= 2 else {
            throw CharRNNError.invalidOption("\(file): needs at least 2 known characters to evaluate")
        }
        let gpu = try choice.open()
        try MemoryEstimate.check(MemoryEstimate.inference(cp.model.config, T: min(chunk, ids.count), B: 1),
                                 what: "evaluating \(min(chunk, ids.count)) characters per pass (--chunk)", on: gpu)
        let r: LossReport
        if let gpu {
            let model = try DeviceModel(config: cp.model.config, device: gpu)
            try model.setParameters(cp.model.parameters)
            r = try Evaluation.loss(of: model, ids: ids, streams: 1, chunk: chunk)
        } else {
            r = try Evaluation.loss(of: cp.model, ids: ids, streams: 1, chunk: chunk)
        }
        Terminal.write("file: \(file)\n")
        Terminal.write("characters predicted: \(r.characters)\(skipped > 0 ? " (\(skipped) unknown skipped)" : "")\n")
        Terminal.write("cross-entropy: \(fmt(r.nats, 4)) nats/char\n")
        Terminal.write("perplexity: \(fmt(r.perplexity, 3))\n")
        Terminal.write("bits per character: \(fmt(r.bitsPerCharacter, 4))\n")
    }
}
