import ArgumentParser
import SystemPackage
import CharRNN

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a character-level language model on a UTF-8 text file.",
        discussion: """
        Writes to the output folder: latest.safetensors, best.safetensors (lowest validation loss), \
        train-state.safetensors (for --resume), loss.csv and loss.svg. Ctrl-C saves a checkpoint and stops; \
        'charrnn train --resume DIR' continues exactly where a run stopped.
        """
    )

    @Argument(help: "The training text (UTF-8), or a folder of one file per category (names by category). Optional with --resume.")
    var text: String?

    @Flag(help: "Names mode: each line is one item (a name); sampling stops at the end of a name.")
    var names = false

    @Option(name: [.short, .long], help: "Folder for checkpoints and the loss history (default: runs/<text name>).")
    var output: String?

    @Option(help: "Continue the run saved in this folder. Only the stopping, reporting and thread options may change.")
    var resume: String?

    @Flag(help: "Replace the run the output folder already holds (its checkpoints, train state and loss history; other files stay).")
    var overwrite = false

    @Option(help: "Fine-tune: start from this checkpoint's weights (a file or a training folder); the model's shape is its, and characters of the text it never saw get fresh rows.")
    var initFrom: String?

    @OptionGroup(title: "Model") var shape: ModelShapeOptions<LanguageModelDefaults>
    @Option(help: "small, medium or large (settings measured on tiny Shakespeare), or char-rnn (its defaults: LSTM 2x128, no dropout, no early stop), in place of the settings chosen from the text and the time; options given explicitly win.")
    var preset: Preset?
    @OptionGroup(title: "Regularisation, during training") var regularization: RegularizationOptions
    @OptionGroup(title: "Optimisation") var optimization: OptimizationOptions
    @OptionGroup(title: "Validation and stopping") var stopping: StoppingOptions
    @OptionGroup(title: "Reporting") var reporting: ReportingOptions
    @OptionGroup(title: "Where it runs") var machine: MachineOptions

    /// What the command line gave, nil where it gave nothing (so a resume can tell a given value from a default).
    private var choices: TrainingChoices {
        var c = TrainingChoices()
        c.cell = shape.cell; c.layers = shape.layers; c.hidden = shape.hidden; c.embed = shape.embed
        c.names = names ? true : nil
        regularization.give(to: &c); optimization.give(to: &c); stopping.give(to: &c); reporting.give(to: &c); machine.give(to: &c)
        return c
    }

    func run() throws {
        guard let ranks = try RankGroup.fromLauncher() else { return try train(ranks: nil) }
        // Under mpirun: Ctrl-C (or the SIGTERM mpirun sends when a rank has died) is heard from the start,
        // also while a rank waits for the others.
        InterruptSignal.install()
        ranks.stopRequested = { InterruptSignal.received }
        do {
            try train(ranks: ranks)
            ranks.finish()
        } catch let error as CharRNNError {
            // A collective that failed cannot be finalized: the line, then out.
            if case .dataParallel = error { Terminal.fail(error.description, code: 1) }
            ranks.finish()
            if !ranks.isLeader, case .trainingDiverged = error { throw ExitCode(1) }  // rank 0 says it
            throw error
        } catch is RankGroup.Followed {
            ranks.finish()
            throw ExitCode(1)
        } catch {
            ranks.finish()
            throw error
        }
    }

    private func train(ranks: RankGroup?) throws {
        var choices = choices
        if let ranks, machine.threads == nil { choices.threads = ranks.threadShare(of: CPUCount.usable, machineCores: CPUCount.machine) }
        let leader = ranks?.isLeader ?? true
        func started(_ make: () throws -> Trainer) throws -> Trainer {
            guard let ranks else { return try make() }
            return try ranks.start(make, abandon: { $0.abandon() })
        }
        let trainer: Trainer
        if let dir = resume {
            try refuseNewRunOptions(resumeDirectory: dir)
            trainer = try started { try Trainer(resumeFrom: dir, ranks: ranks) { o in
                o = try choices.resume(o)
                if let t = text { o.textPath = AbsolutePath.of(t) }
            } }
        } else {
            guard let text else { throw ValidationError("Missing the training text (or --resume DIR).") }
            var o = TrainingOptions(textPath: text, outputDirectory: output ?? "runs/" + stem(text))
            // A new run: the machine's cores and the default device unless given; a preset's settings
            // under the options given.
            o.threads = CPUCount.usable
            o.device = DefaultDevice.text == "cpu" ? nil : DefaultDevice.text
            preset?.apply(to: &o)
            try choices.apply(to: &o)
            if preset == nil, initFrom == nil {
                try chooseSettings(&o, choices: choices, ranks: ranks)
            }
            guard reporting.printEvery >= 1 else { throw CharRNNError.invalidOption("--print-every must be at least 1 (got \(reporting.printEvery))") }
            if let initFrom {
                let start = try FineTuning(from: initFrom)
                let c = start.config
                for (flag, given, kept) in [("--cell", shape.cell?.rawValue, c.cell.rawValue), ("--layers", shape.layers.map { "\($0)" }, "\(c.layers)"),
                                            ("--hidden", shape.hidden.map { "\($0)" }, "\(c.hidden)"), ("--embed", shape.embed.map { "\($0)" }, "\(c.embed)")] {
                    if let given, given != kept {
                        throw CharRNNError.invalidOption("\(flag) \(given) differs from the --init-from model's \(kept); fine-tuning keeps the model's shape")
                    }
                }
                guard start.namesModel == names else {
                    throw CharRNNError.invalidOption(start.namesModel ? "--init-from a names model: add --names (the new text is a list of names too)"
                                                     : "--init-from a text model: drop --names")
                }
                trainer = try started { try Trainer(options: o, fineTuning: start, replacing: overwrite, ranks: ranks) }
                let added = start.added(in: trainer.data.vocabulary)
                if leader { Terminal.writeFlushed("fine-tuning from \(start.source): \(c.cell.rawValue) \(c.layers)x\(c.hidden), vocabulary "
                                      + "\(trainer.data.vocabulary.count - added) + \(added) new character\(added == 1 ? "" : "s") (fresh rows)\n") }
            } else {
                trainer = try started { try Trainer(options: o, replacing: overwrite, ranks: ranks) }
            }
        }
        let products = trainer.options.precision.map { ", \($0) products" } ?? ""
        let reporter = ProgressReporter(printEvery: reporting.printEvery, threads: trainer.options.threads,
                                        device: trainer.deviceName.map { $0 + products },
                                        ranks: ranks.map { "\($0.size) ranks (\($0.library))" })
        if resume != nil, let limit = trainer.options.maxTime {
            let trained = trainer.trainingSeconds
            reporter.resumeNote = trained < limit
                ? "\(Terminal.duration(trained)) of training done; --max-time \(fmt(limit, 0)) is the run's total, so \(Terminal.duration(limit - trained)) more"
                : "\(Terminal.duration(trained)) of training done, which --max-time \(fmt(limit, 0)) (the run's total) has reached: "
                  + "give a larger one to train more"
        }
        InterruptSignal.install()
        let result = try trainer.run(report: { reporter.handle($0) }, stop: { InterruptSignal.received })
        reporter.finish()
        guard leader else {
            if result.outcome == .interrupted { throw ExitCode(130) }
            return
        }
        if let why = trainer.graphFailure {
            Terminal.error("charrnn: note: the GPU steps were launched one by one, as capturing one as a CUDA graph failed: \(why)")
        }
        switch result.outcome {
        case .interrupted:
            Terminal.error("interrupted at step \(result.step); checkpoint saved in \(result.directory) (resume with: charrnn train --resume \(result.directory))")
            throw ExitCode(130)
        case .finished:
            if result.stoppedEarly, let best = result.bestStep, let loss = result.bestValidationLoss {
                Terminal.writeFlushed("stopped early: validation has not improved for \(trainer.options.earlyStop ?? 0) evaluations; "
                                      + "best.safetensors (step \(best), val loss \(fmt(loss, 4))) is the model to use\n")
            }
            var line = "done: step \(result.step), train loss \(fmt(result.smoothedLoss, 4))"
            if let v = result.validation { line += ", val loss \(fmt(v.nats, 4)) (perplexity \(fmt(v.perplexity, 2)), \(fmt(v.bitsPerCharacter, 3)) bits/char)" }
            line += ", \(fmt(result.charactersPerSecond, 0)) chars/s; checkpoints in \(result.directory)"
            Terminal.writeFlushed(line + "\n")
        }
    }

    /// With no model options, the settings are chosen from the text, the budget and the machine (and
    /// printed with why); with some, early stopping is still turned on where validation can drive it.
    private func chooseSettings(_ o: inout TrainingOptions, choices: TrainingChoices, ranks: RankGroup?) throws {
        try o.validate()
        let profile = try CorpusProfile.measure(path: o.textPath, names: o.names, validationFraction: o.validationFraction)
        guard choices.leavesModelOpen else {
            if choices.earlyStop == nil, profile.validationIsMeaningful { o.earlyStop = TrainingOptions.defaultEarlyStop }
            return
        }
        let device = try DeviceChoice(parsing: o.device ?? "cpu").forRank(localRank: ranks?.localRank ?? 0)
            .open(precision: o.precision ?? "fp32")
        let choice = try AutomaticSettings.choose(
            for: profile, options: o, given: choices, gpu: device?.name,
            throughput: AutomaticSettings.measuredThroughput(threads: o.threads, device: device, ranks: ranks))
        o = choice.options
        o.automaticChoice = choice.summary
        try choices.apply(to: &o)
        if ranks?.isLeader ?? true { Terminal.writeFlushed("settings: \(choice.summary)\n") }
    }

    /// The options that start a new run have no place in a resume (the library refuses the rest:
    /// TrainingChoices.resume).
    private func refuseNewRunOptions(resumeDirectory: String) throws {
        if overwrite {
            throw CharRNNError.invalidOption("--overwrite starts a new run in place of an old one; a resumed run continues its own")
        }
        if initFrom != nil {
            throw CharRNNError.invalidOption("--init-from starts a new run from a model's weights; a resumed run continues from its own")
        }
        if preset != nil {
            throw CharRNNError.invalidOption("--preset sets up a new run; a resumed run keeps the settings it has")
        }
        if let output, FilePath(output).lexicallyNormalized() != FilePath(resumeDirectory).lexicallyNormalized() {
            throw CharRNNError.invalidOption("--output \(output) differs from --resume \(resumeDirectory); a resumed run continues in its own folder")
        }
    }

    private func stem(_ path: String) -> String {
        FilePath(path).stem ?? "model"
    }
}

/// A language model's shape when none is chosen from the text: char-rnn's.
enum LanguageModelDefaults: ModelShapeDefaults {
    static var shape: any ModelShaped { TrainingOptions(textPath: "", outputDirectory: "") }
}

/// Prints training progress: one line updated in place on a terminal, plain lines otherwise.
final class ProgressReporter {
    let printEvery: Int
    let threads: Int
    let device: String?
    /// Under mpirun, rank 0's output is a pseudo-terminal even when mpirun's is a file: plain lines.
    lazy var live = Terminal.stdoutIsTerminal && ranks == nil
    var lastDraw = 0.0
    var lineOpen = false

    /// Data-parallel: how many ranks, on what MPI library.
    let ranks: String?
    /// A resumed run's time limit against the time it has trained.
    var resumeNote: String?

    init(printEvery: Int, threads: Int, device: String?, ranks: String? = nil) {
        self.printEvery = printEvery; self.threads = threads; self.device = device; self.ranks = ranks
    }

    func handle(_ event: TrainingEvent) {
        switch event {
        case .started(let params, let vocab, let train, let val, let resumedAt):
            let what = resumedAt.map { "resuming at step \($0)\(resumeNote.map { " (\($0))" } ?? ""): " } ?? ""
            Terminal.writeFlushed("\(what)\(params) parameters, vocabulary \(vocab), \(train) training and \(val) validation characters, \(device.map { "on \($0)" } ?? "\(threads) thread\(threads == 1 ? "" : "s")")\(ranks.map { " on each of \($0)" } ?? "")\n")
        case .progress(let p):
            var s = "step \(p.step)\(p.maxSteps.map { "/\($0)" } ?? "") | epoch \(fmt(p.epoch, 2)) | loss \(fmt(p.smoothedLoss, 4))"
            if let v = p.lastValidationLoss { s += " | val \(fmt(v, 4))" }
            s += " | \(fmt(p.charactersPerSecond, 0)) chars/s"
            if let eta = p.etaSeconds { s += " | ETA \(Terminal.duration(eta))" }
            if live {
                let now = monotonicSeconds()
                if now - lastDraw >= 0.1 {
                    Terminal.writeFlushed("\r\u{1B}[K" + s)
                    lastDraw = now
                    lineOpen = true
                }
            } else if p.step % printEvery == 0 {
                Terminal.writeFlushed(s + "\n")
            }
        case .evaluated(let step, let validation, let sample, let improved, let reducedRate):
            closeLine()
            var s = "step \(step): "
            if let v = validation {
                s += "val loss \(fmt(v.nats, 4)), perplexity \(fmt(v.perplexity, 2)), \(fmt(v.bitsPerCharacter, 3)) bits/char"
                s += improved ? " (best so far)" : ""
                if let r = reducedRate { s += "; learning rate reduced to \(r)" }
            } else {
                s += "checkpoint saved (no validation part)"
            }
            Terminal.writeFlushed(s + "\n")
            if !sample.isEmpty { Terminal.writeFlushed("--- sample ---\n\(sample)\n--------------\n") }
        }
    }

    func closeLine() {
        if lineOpen { Terminal.writeFlushed("\n"); lineOpen = false }
    }

    func finish() { closeLine() }
}
