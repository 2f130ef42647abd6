import ArgumentParser
import SystemPackage
import CharRNN

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify short strings by category (e.g. a surname to its language).",
        discussion: """
        Data: a folder of UTF-8 text files, one per category (the file name without extension), one item \
        per line, as the PyTorch tutorial's data/names/*.txt.
        """,
        subcommands: [ClassifyTrain.self, ClassifyEval.self, ClassifyPredict.self]
    )
}

struct ClassifyTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a classifier on a labelled folder; keeps the best checkpoint by validation accuracy."
    )

    @Argument(help: "Folder of one text file per category.")
    var data: String
    @Option(name: [.short, .long], help: "Output folder (default: runs/<folder name>-classifier).")
    var output: String?
    @OptionGroup var shape: ModelShapeOptions<ClassifierDefaults>
    @Flag(inversion: .prefixedNo, help: "Read each item in both directions and use both final states.")
    var bidirectional = true
    @Flag(inversion: .prefixedNo, help: "Fold to ASCII (drop accents and other combining marks).")
    var ascii = true
    @Flag(help: "Lowercase every item.")
    var lowercase = false
    @Flag(inversion: .prefixedNo, help: "Drop repeated items within a category.")
    var dedupe = true
    @Flag(help: "Weight categories by inverse frequency (helps rare categories; selects by balanced accuracy).")
    var balanceClasses = false
    @Option(parsing: .unconditional, help: "Dropout on the embedded characters and the final features, while training (0 to 1).")
    var dropout = 0.0
    @Option(parsing: .unconditional, help: ArgumentHelp("Default prior correction of the checkpoint's predictions, 0 to 1 (see 'classify eval').",
                               valueName: "tau"))
    var priorCorrection = 0.0
    @Option(parsing: .unconditional, help: "Items per minibatch (items of equal length are batched together).")
    var batchSize = 64
    @Option(help: "sgd, adam, rmsprop or adagrad.")
    var optimizer: OptimizerKind = .adam
    @Option(name: [.customLong("learning-rate"), .customLong("lr")], parsing: .unconditional, help: "Learning rate.")
    var learningRate = 3e-3
    @Option(parsing: .unconditional, help: "Passes over the training items.")
    var epochs = 12
    @Option(parsing: .unconditional, help: "Stop (each classifier of an ensemble) after the epoch that passes this many seconds.")
    var maxTime: Double?
    @Option(parsing: .unconditional, help: "Train this many classifiers on the same split from different initialisations; they predict together.")
    var ensemble = 1
    @Option(parsing: .unconditional, help: "Fraction of each category held out for validation.")
    var valFraction = 0.1
    @Option(parsing: .unconditional, help: "Fraction of each category held out for the test split.")
    var testFraction = 0.1
    @Option(parsing: .unconditional, help: "Seed for the split, initialisation and batch order.")
    var seed: UInt64 = 1
    @OptionGroup var threads: ThreadsOption
    @OptionGroup var deviceOption: DeviceOption
    @Flag(help: "Replace the classifier the output folder already holds (every member of its ensemble).")
    var overwrite = false

    func run() throws {
        let gpu = try deviceOption.device.open()
        let name = FilePath(data).lastComponent?.string ?? "data"
        var o = ClassifierOptions(dataDirectory: data, outputDirectory: output ?? "runs/\(name)-classifier")
        shape.apply(to: &o)
        o.bidirectional = bidirectional
        o.normalization = TextNormalization(foldToASCII: ascii, lowercase: lowercase)
        o.deduplicate = dedupe; o.balanceClasses = balanceClasses; o.dropout = dropout; o.priorCorrection = priorCorrection; o.batchSize = batchSize
        o.optimizer = optimizer; o.learningRate = learningRate; o.epochs = epochs; o.maxTime = maxTime; o.ensemble = ensemble
        o.validationFraction = valFraction; o.testFraction = testFraction; o.seed = seed; o.threads = threads.count
        let start = monotonicSeconds()
        var tested: ClassificationReport? = nil
        if let gpu { Terminal.write("training on \(gpu.name)\n") }
        _ = try ClassifierTrainer.train(o, device: gpu, replacing: overwrite) { event in
            switch event {
            case .loaded(let d, let train, let val, let test):
                Terminal.write("\(d.items.count) items in \(d.categories.count) categories; \(d.duplicates) repeated items \(o.deduplicate ? "dropped" : "kept"); \(d.ambiguous.count) items occur in more than one category\n")
                if !d.ambiguous.isEmpty {
                    Terminal.write("  e.g. \(d.ambiguous.prefix(8).joined(separator: ", "))\n")
                }
                Terminal.write("split (stratified, seed \(o.seed)): \(train) train, \(val) validation, \(test) test\n")
            case .member(let k, let n):
                Terminal.write("classifier \(k) of \(n)\n")
            case .epoch(let e, let loss, let v, let seconds, let improved):
                var s = "epoch \(e): train loss \(fmt(loss, 4))"
                if let v { s += ", validation accuracy \(fmt(v.accuracy, 4)), balanced \(fmt(v.balancedAccuracy, 4))" }
                s += " (\(fmt(seconds, 1)) s)\(improved ? ", saved" : "")\n"
                Terminal.write(s)
            case .tested(let r):
                tested = r
            }
        }
        let saved = ensemble == 1 ? "checkpoint: \(o.outputDirectory)/classifier.safetensors"
            : "\(ensemble) checkpoints in \(o.outputDirectory) (classifier.safetensors, classifier-2.safetensors, ...)"
        Terminal.write("trained in \(fmt(monotonicSeconds() - start, 1)) s; \(saved)\n")
        if let r = tested {
            Terminal.write("test split: accuracy \(fmt(r.accuracy, 4)), balanced accuracy \(fmt(r.balancedAccuracy, 4)) (\(r.total) items)\n")
        }
    }
}

/// A classifier's shape unless given: ClassifierOptions' defaults.
enum ClassifierDefaults: ModelShapeDefaults {
    static var shape: any ModelShaped { ClassifierOptions(dataDirectory: "", outputDirectory: "") }
}

struct ClassifyEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Accuracy, balanced accuracy, per-category precision/recall and the confusion matrix (text and SVG)."
    )

    @Option(name: [.short, .long], help: "A classifier checkpoint, or its training folder (all the classifiers of an ensemble).")
    var checkpoint: String
    @Argument(help: "The labelled folder (default: the one the classifier was trained on).")
    var data: String?
    @Option(help: "Which items: test, validation, train (the training split, rebuilt from the seed) or all.")
    var split = "test"
    @Option(help: "Write the confusion matrix heat map here (default: confusion.svg beside the checkpoint).")
    var svg: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("""
        Divide the training priors out of the predictions to the power tau: 0 keeps the model as trained (most \
        accurate), 1 treats every category as equally common (most balanced). Default: the checkpoint's.
        """, valueName: "tau"))
    var priorCorrection: Double?
    @OptionGroup var deviceOption: DeviceOption

    func validate() throws {
        guard ["test", "validation", "train", "all"].contains(split) else {
            throw CharRNNError.invalidOption("--split must be test, validation, train or all (got \(split))")
        }
    }

    func run() throws {
        let gpu = try deviceOption.device.openSayingWhere()
        let cp = try ClassifierEnsemble.load(checkpoint).placed(on: gpu)
        guard let dir = data ?? cp.info.data?.directory else {
            throw CharRNNError.invalidOption("name the labelled folder to evaluate on")
        }
        let s = cp.info.data
        let d = try LabelledData.load(directory: dir, normalization: cp.info.normalization, deduplicate: s?.deduplicate ?? true)
        guard d.categories == cp.info.categories else {
            throw CharRNNError.invalidOption("\(dir) has categories \(d.categories), the classifier knows \(cp.info.categories)")
        }
        let parts = d.split(validation: s?.validationFraction ?? 0, test: s?.testFraction ?? 0, seed: s?.seed ?? 1)
        let items: [LabelledData.Item]
        switch split {
        case "test": items = parts.test
        case "validation": items = parts.validation
        case "train": items = parts.train
        default: items = d.items
        }
        guard !items.isEmpty else { throw CharRNNError.invalidOption("the \(split) split is empty") }
        let tau = try cp.priorCorrection(priorCorrection)
        // One pass through the model; each τ is then only a different decision on the same numbers.
        let logProbs = try cp.modelLogProbabilities(items.map(\.text))
        func report(_ t: Double) -> ClassificationReport {
            let predicted = logProbs.map { cp.decide($0, priorCorrection: t) }
            return ClassificationReport(categories: d.categories, truth: items.map(\.label), predicted: predicted)
        }
        let shown = report(tau)
        let members = cp.members.count == 1 ? "" : ", ensemble of \(cp.members.count) classifiers"
        Terminal.write("\(split) split of \(dir): \(items.count) items, prior correction \(fmt(tau, 2))\(members)\n" + shown.text)
        if cp.logPriors != nil {
            Terminal.write("\nprior correction (--prior-correction tau): accuracy / balanced accuracy\n")
            for t in [0, 0.25, 0.5, 0.75, 1.0] {
                let r = report(t)
                Terminal.write("  tau \(fmt(t, 2)): \(fmt(r.accuracy, 4)) / \(fmt(r.balancedAccuracy, 4))\(t == tau ? "  (shown above)" : "")\n")
            }
        }
        let given = FilePath(checkpoint)
        let folder = FileKind(given, followingLinks: true) == .directory ? given : AtomicFile.directory(of: given)
        let path = svg ?? folder.appending("confusion.svg").string
        try AtomicFile.write(shown.svg, to: path)
        Terminal.write("\nconfusion matrix heat map: \(path)\n")
    }
}

struct ClassifyPredict: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "The most likely categories of each item, with probabilities (items from the arguments or stdin)."
    )

    @Option(name: [.short, .long], help: "A classifier checkpoint, or its training folder (all the classifiers of an ensemble).")
    var checkpoint: String
    @Option(parsing: .unconditional, help: "How many categories to show per item.")
    var top = 3
    @Option(parsing: .unconditional, help: ArgumentHelp("Prior correction, 0 to 1 (see 'classify eval'). Default: the checkpoint's.", valueName: "tau"))
    var priorCorrection: Double?
    @Argument(help: "Items to classify; none reads one item per line from stdin.")
    var items: [String] = []
    @OptionGroup var deviceOption: DeviceOption

    func validate() throws {
        guard top >= 1 else { throw CharRNNError.invalidOption("--top must be at least 1 (got \(top))") }
    }

    func run() throws {
        let gpu = try deviceOption.device.openSayingWhere()
        let cp = try ClassifierEnsemble.load(checkpoint).placed(on: gpu)
        _ = try cp.priorCorrection(priorCorrection)  // refused before any item is read
        var list = items
        if list.isEmpty {
            while let line = readLine() { if !line.isEmpty { list.append(line) } }
        }
        for item in list {
            let best = try cp.predict([item], top: top, priorCorrection: priorCorrection)[0]
            let shown = best.map { "\($0.category) \(fmt(Double($0.probability), 3))" }.joined(separator: ", ")
            Terminal.write("\(item): \(shown)\n")
        }
    }
}
