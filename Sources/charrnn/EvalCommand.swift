import ArgumentParser
import Foundation
import CharRNN
import SystemPackage

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure how well a model predicts a text: cross-entropy, perplexity, bits per character.",
        discussion: "The hidden state is carried through the whole file, as when the model reads it in one go. A names model (trained with --names or on a folder) reads each line from its start symbol instead, as in training, so its figures are those of the run's validation."
    )

    @Option(name: [.short, .long], help: "A checkpoint file, or a training folder.")
    var checkpoint: String
    @Argument(help: "The text to evaluate (UTF-8). For a names model, a file of names, one per line; for one trained by category, a folder of one file per category (as in training) or a file with --category.")
    var file: String
    @Option(help: "With a model trained by category: the category of every line of the file.")
    var category: String?
    @Flag(help: "Drop characters the model never saw instead of failing (in names mode, the lines that have one).")
    var skipUnknown = false
    @Option(parsing: .unconditional, help: "Characters fed per forward pass (does not change the result).")
    var chunk = 256
    @OptionGroup var threads: ThreadsOption
    @OptionGroup var deviceOption: DeviceOption
    @Flag(help: "Print every predicted character's log-probability as a table (offset, character, nats, bits), to find the surprising parts of a text; the summary goes to stderr. On the CPU.")
    var perChar = false
    @Flag(help: "Dynamic evaluation (Krause et al. 2018): after scoring each segment, take a gradient step on it, so the model adapts to the text as it reads it; static and dynamic figures side by side. On the CPU.")
    var dynamic = false
    @OptionGroup var adaptation: AdaptationOptions

    /// The checks that need nothing but the options, before any file is read.
    func validate() throws {
        guard chunk >= 1 else { throw CharRNNError.invalidOption("--chunk must be at least 1 (got \(chunk))") }
        if adaptation.given && !dynamic { throw CharRNNError.invalidOption("--adapt-segment, --adapt-lr, --adapt-decay and --statistics-text set --dynamic; add it") }
    }

    func run() throws {
        let choice = deviceOption.device
        let cp = try Checkpoint.load(checkpoint)
        if dynamic && cp.info.names == true {
            throw CharRNNError.invalidOption("--dynamic reads a text; a names model reads each name from its start (evaluate it without --dynamic)")
        }
        if perChar && cp.info.names == true {
            throw CharRNNError.invalidOption("--per-char reads a text; a names model reads each name from its start (evaluate it without --per-char)")
        }
        if cp.info.names == true { return try evaluateNames(cp, choice) }
        if category != nil { throw CharRNNError.invalidOption("--category is for a model trained by category; this one reads text") }
        let text = try TextFile.read(file)
        BLAS.setThreads(threads.count)
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
        if dynamic {
            try MemoryEstimate.check(MemoryEstimate.training(cp.model.config, T: adaptation.settings.segment, B: 1),
                                     what: "dynamic evaluation with segments of \(adaptation.settings.segment) characters")
            return try evaluateDynamically(cp, ids: ids, skipped: skipped)
        }
        if perChar {
            try MemoryEstimate.check(MemoryEstimate.inference(cp.model.config, T: min(chunk, ids.count), B: 1),
                                     what: "evaluating \(min(chunk, ids.count)) characters per pass (--chunk)")
            return try printPerCharacter(cp, ids: ids, skipped: skipped)
        }
        let gpu = try choice.openSayingWhere()
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
        report(r)
    }

    /// A row per predicted character (the first character of the text has no prediction), then the
    /// summary on stderr: the same mean as without --per-char.
    private func printPerCharacter(_ cp: Checkpoint, ids: [Int32], skipped: Int) throws {
        try printRows(Evaluation.characterLogprobs(of: cp.model, ids: ids, chunk: chunk), cp, ids: ids, skipped: skipped)
    }

    private func printRows(_ logprobs: [Float], _ cp: Checkpoint, ids: [Int32], skipped: Int) throws {
        var rows = "offset\tcharacter\tnats\tbits\n"
        for (k, lp) in logprobs.enumerated() {
            let ch = CharRNNError.visible(String(cp.vocabulary.decode(ids[k + 1])))
            rows += "\(k + 1)\t\(ch)\t\(fmt(Double(-lp), 4))\t\(fmt(Double(-lp) / log(2.0), 4))\n"
            if rows.utf8.count > 1 << 16 { Terminal.write(rows); rows = "" }
        }
        Terminal.write(rows)
        let nats = -logprobs.reduce(0.0) { $0 + Double($1) } / Double(max(logprobs.count, 1))
        Terminal.error("file: \(file)\ncharacters predicted: \(logprobs.count)\(skipped > 0 ? " (\(skipped) unknown skipped)" : "")")
        Terminal.error("cross-entropy: \(fmt(nats, 4)) nats/char\nperplexity: \(fmt(exp(nats), 3))\nbits per character: \(fmt(nats / log(2.0), 4))")
    }

    /// Static evaluation, then dynamic: a table of both and the time each took (or, with --per-char,
    /// the dynamic scores of every character).
    private func evaluateDynamically(_ cp: Checkpoint, ids: [Int32], skipped: Int) throws {
        let (evaluator, statisticsLine) = try adaptation.evaluator(for: cp)
        if perChar {
            let logprobs = try evaluator.evaluate(cp.model, ids: ids, characterLogprobs: true).logprobs
            Terminal.error(statisticsLine)
            return try printRows(logprobs, cp, ids: ids, skipped: skipped)
        }
        var start = monotonicSeconds()
        let fixed = try Evaluation.loss(of: cp.model, ids: ids, streams: 1, chunk: chunk)
        let fixedSeconds = monotonicSeconds() - start
        start = monotonicSeconds()
        let adapted = try evaluator.evaluate(cp.model, ids: ids).report
        let adaptedSeconds = monotonicSeconds() - start
        let s = evaluator.settings
        Terminal.write("file: \(file)\n")
        Terminal.write("characters predicted: \(fixed.characters)\(skipped > 0 ? " (\(skipped) unknown skipped)" : "")\n")
        Terminal.write("\(statisticsLine)\n")
        Terminal.write("dynamic: a step every \(s.segment) characters, lr \(s.learningRate), decay \(s.decay)\n")
        func row(_ name: String, _ a: String, _ b: String) -> String {
            name.padding(toLength: 22, withPad: " ", startingAt: 0) + a.padding(toLength: 10, withPad: " ", startingAt: 0) + b + "\n"
        }
        var table = row("", "static", "dynamic")
        table += row("cross-entropy (nats)", fmt(fixed.nats, 4), fmt(adapted.nats, 4))
        table += row("perplexity", fmt(fixed.perplexity, 3), fmt(adapted.perplexity, 3))
        table += row("bits per character", fmt(fixed.bitsPerCharacter, 4), fmt(adapted.bitsPerCharacter, 4))
        table += row("seconds", fmt(fixedSeconds, 2), fmt(adaptedSeconds, 2))
        Terminal.write(table)
        let change = (adapted.bitsPerCharacter / fixed.bitsPerCharacter - 1) * 100
        Terminal.write("dynamic vs static: \(change <= 0 ? "" : "+")\(fmt(change, 2))% bits per character\n")
    }

    private func report(_ r: LossReport) {
        Terminal.write("cross-entropy: \(fmt(r.nats, 4)) nats/char\n")
        Terminal.write("perplexity: \(fmt(r.perplexity, 3))\n")
        Terminal.write("bits per character: \(fmt(r.bitsPerCharacter, 4))\n")
    }

    /// A names model reads each line from its start symbol, as in training, so a line's loss does not
    /// depend on the lines before it; a model trained by category reads each line in its category.
    private func evaluateNames(_ cp: Checkpoint, _ choice: DeviceChoice) throws {
        let vocabulary = cp.vocabulary
        guard let separator = vocabulary.id(of: cp.startCharacter) else {
            throw CharRNNError.badCheckpoint(checkpoint, "its start symbol is not in its vocabulary")
        }
        var raw: [(text: String, category: Int32)] = []
        let isFolder = FileKind(FilePath(file), followingLinks: true) == .directory
        if let known = cp.info.categoryNames {
            if isFolder {
                guard category == nil else {
                    throw CharRNNError.invalidOption("--category is for a file; the folder's files name their categories")
                }
                let data = try LabelledData.load(directory: file, normalization: TextNormalization(), deduplicate: false,
                                                 minimumCategories: 1)
                let index = try data.categories.map { c -> Int32 in
                    guard let i = known.firstIndex(of: c) else {
                        throw CharRNNError.invalidOption("\(file): unknown category '\(c)'; the model knows: \(known.joined(separator: ", "))")
                    }
                    return Int32(i)
                }
                raw = data.items.map { ($0.text, index[$0.label]) }
            } else {
                guard let category else {
                    throw CharRNNError.invalidOption("this model predicts names by category: give a folder of one file per "
                                                     + "category, or --category (one of \(known.joined(separator: ", ")))")
                }
                guard let i = known.firstIndex(of: category) else {
                    throw CharRNNError.invalidOption("unknown category '\(category)'; the model knows: \(known.joined(separator: ", "))")
                }
                raw = try names(in: file).map { ($0, Int32(i)) }
            }
        } else {
            if category != nil { throw CharRNNError.invalidOption("this model was not trained by category; drop --category") }
            if isFolder { throw CharRNNError.invalidOption("\(file) is a folder, and this model reads a file of names") }
            raw = try names(in: file).map { ($0, 0) }
        }
        var lines: [LineBatches.Line] = []
        var skipped = 0
        for (text, category) in raw {
            if skipUnknown && !text.unicodeScalars.allSatisfy({ vocabulary.id(of: $0) != nil }) { skipped += 1; continue }
            lines.append(LineBatches.Line(ids: try vocabulary.encode(text, what: file), category: category))
        }
        guard !lines.isEmpty else { throw CharRNNError.invalidOption("\(file): no names to evaluate") }
        BLAS.setThreads(threads.count)
        let batch = 64, longest = (lines.map(\.ids.count).max() ?? 0) + 1
        let gpu = try choice.openSayingWhere()
        try MemoryEstimate.check(MemoryEstimate.inference(cp.model.config, T: longest, B: batch),
                                 what: "evaluating \(batch) names of up to \(longest) characters per pass", on: gpu)
        let conditional = cp.info.categoryNames != nil
        let r: LossReport
        if let gpu {
            let model = try DeviceModel(config: cp.model.config, device: gpu)
            try model.setParameters(cp.model.parameters)
            r = try Evaluation.loss(of: model, lines: lines, separator: separator, batch: batch, conditional: conditional)
        } else {
            r = try Evaluation.loss(of: cp.model, lines: lines, separator: separator, batch: batch, conditional: conditional)
        }
        Terminal.write("file: \(file)\n")
        Terminal.write("names: \(lines.count)\(skipped > 0 ? " (\(skipped) with unknown characters skipped)" : ""), each read "
                       + "from the start symbol\n")
        Terminal.write("characters predicted: \(r.characters) (each name's end included)\n")
        report(r)
    }

    /// The non-empty lines of a file of names.
    private func names(in path: String) throws -> [String] {
        let lines = try TextFile.read(path).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init)
        guard !lines.isEmpty else { throw CharRNNError.invalidOption("\(path) has no names to evaluate") }
        return lines
    }
}
