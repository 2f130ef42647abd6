import Foundation
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Options of `charrnn classify train`.
package struct ClassifierOptions: Codable, Sendable, Equatable {
    package var dataDirectory: String
    package var outputDirectory: String
    package var cell: CellKind = .gru
    package var layers = 1
    package var hidden = 256
    package var embed = 64
    package var bidirectional = true
    package var normalization = TextNormalization(foldToASCII: true, lowercase: false)
    package var deduplicate = true
    package var batchSize = 64
    package var optimizer: OptimizerKind = .adam
    package var learningRate = 3e-3
    package var clipNorm: Double? = 5
    package var epochs = 12
    package var maxTime: Double? = nil
    /// Weight each category by N / (C * n_c), so rare categories count as much as common ones.
    package var balanceClasses = false
    /// Dropout on the embedded characters and on the final features (training only).
    package var dropout = 0.0
    /// The checkpoint's default prior correction τ in [0, 1] (0: most accurate; 1: most balanced).
    package var priorCorrection = 0.0
    /// Classifiers trained on the same split from different initialisations, predicting together.
    package var ensemble = 1
    package var validationFraction = 0.1
    package var testFraction = 0.1
    package var seed: UInt64 = 1
    package var threads = 2

    package init(dataDirectory: String, outputDirectory: String) {
        self.dataDirectory = dataDirectory
        self.outputDirectory = outputDirectory
    }

    package func validate() throws {
        func bad(_ s: String) -> CharRNNError { .invalidOption(s) }
        guard batchSize >= 1 else { throw bad("--batch-size must be at least 1 (got \(batchSize))") }
        try CharRNNError.requirePositive(learningRate, "--learning-rate")
        guard ensemble >= 1 && ensemble <= 32 else { throw bad("--ensemble must be between 1 and 32 (got \(ensemble))") }
        guard epochs >= 1 else { throw bad("--epochs must be at least 1 (got \(epochs))") }
        guard dropout >= 0 && dropout < 1 else { throw bad("--dropout must be in [0, 1) (got \(dropout))") }
        try ClassifierInfo.checkPriorCorrection(priorCorrection)
        guard validationFraction >= 0, testFraction >= 0, validationFraction + testFraction < 1 else {
            throw bad("--val-fraction and --test-fraction must be at least 0 and add up to less than 1")
        }
        if let t = maxTime { try CharRNNError.requirePositive(t, "--max-time", unit: " seconds") }
        try BLAS.checkThreads(threads)
        try ClassifierConfig(cell: cell, layers: layers, hidden: hidden, embed: embed, bidirectional: bidirectional,
                             vocabSize: 1, categories: 2).validate()
    }
}

package enum ClassifierEvent {
    case loaded(data: LabelledData, train: Int, validation: Int, test: Int)
    /// Training of ensemble member `member` (1-based) of `of` begins.
    case member(Int, of: Int)
    case epoch(epoch: Int, trainLoss: Double, validation: ClassificationReport?, seconds: Double, improved: Bool)
    /// The kept checkpoints (the whole ensemble) on the held-out test split (when there is one).
    case tested(ClassificationReport)
}

/// Minibatches of equal-length items (length bucketing: no padding, no masks), Adam, clipping; the
/// checkpoint with the best validation accuracy (balanced accuracy when the categories are weighted or
/// the priors corrected) is kept as classifier.safetensors; further members of an ensemble, trained on
/// the same split from other initialisations, as classifier-2.safetensors, ...
/// On a `device` (DeviceClassifierModel) each batch's forward, backward and update run there; the
/// parameters come to the host once per epoch, for validation and saving (the same file either way).
package enum ClassifierTrainer {
    /// A folder that already holds a classifier is refused unless `replacing` (--overwrite), which
    /// removes every member of the old ensemble first, so the folder never mixes two runs' members.
    /// The folder is locked for the whole run; files other than the members are never touched.
    package static func train(_ o: ClassifierOptions, device: ComputeDevice? = nil, replacing: Bool = false,
                             report: (ClassifierEvent) -> Void = { _ in }) throws -> ClassifierEnsemble {
        try o.validate()
        BLAS.setThreads(o.threads)
        let data = try LabelledData.load(directory: o.dataDirectory, normalization: o.normalization, deduplicate: o.deduplicate)
        let (train, val, test) = data.split(validation: o.validationFraction, test: o.testFraction, seed: o.seed)
        guard !train.isEmpty else { throw CharRNNError.invalidOption("\(o.dataDirectory): no items left for training") }
        report(.loaded(data: data, train: train.count, validation: val.count, test: test.count))
        let vocab = Vocabulary(scalarsOf: data.items.flatMap { Array($0.text.unicodeScalars) })
        let config = ClassifierConfig(cell: o.cell, layers: o.layers, hidden: o.hidden, embed: o.embed,
                                      bidirectional: o.bidirectional, vocabSize: vocab.count, categories: data.categories.count)
        // Each direction is a recurrent stack of this shape (the decoder term stands in for the head).
        let longest = data.items.map { $0.text.unicodeScalars.count }.max() ?? 1
        let stack = ModelConfig(cell: o.cell, layers: o.layers, hidden: config.directions * o.hidden, embed: o.embed,
                                vocabSize: vocab.count)
        try MemoryEstimate.check(MemoryEstimate.training(stack, T: longest, B: o.batchSize),
                                 what: "training a \(o.layers)x\(o.hidden) \(o.cell.rawValue) classifier", on: device)
        let counts = data.categories.indices.map { c in train.reduce(0) { $0 + ($1.label == c ? 1 : 0) } }
        var info = ClassifierInfo(config: config, vocabulary: vocab.scalars.map { String($0) }, categories: data.categories,
                                  normalization: o.normalization,
                                  data: .init(directory: AbsolutePath.of(o.dataDirectory), deduplicate: o.deduplicate,
                                              validationFraction: o.validationFraction, testFraction: o.testFraction, seed: o.seed))
        info.trainingCounts = counts
        info.priorCorrection = o.priorCorrection
        var weights: [Float]? = nil
        if o.balanceClasses {
            weights = counts.map { Float(train.count) / Float(data.categories.count * max($0, 1)) }
        }
        let encoded = try train.map { (ids: try vocab.encode($0.text, what: "'\($0.text)'"), label: Int32($0.label)) }
        try AtomicFile.makeDirectory(o.outputDirectory)
        let folder = FilePath(o.outputDirectory)
        let lock = try DirectoryLock(folder, command: "charrnn classify train")
        defer { withExtendedLifetime(lock) {} }
        let first = folder.appending(ClassifierEnsemble.memberFile(1))
        if FileKind(first) != .missing {
            guard replacing else {
                throw CharRNNError.invalidOption("\(o.outputDirectory) already holds a classifier; give --overwrite to replace it, or choose another --output")
            }
            var k = 1
            while FileKind(folder.appending(ClassifierEnsemble.memberFile(k))) != .missing {
                let member = folder.appending(ClassifierEnsemble.memberFile(k))
                try AtomicFile.requireRegularOrAbsent(member)
                guard unlink(member.string) == 0 else { throw CharRNNError.writeFailed(member.string, String(cString: strerror(errno))) }
                k += 1
            }
        }
        var members: [ClassifierCheckpoint] = []
        for k in 1...o.ensemble {
            if o.ensemble > 1 { report(.member(k, of: o.ensemble)) }
            // Member 1 starts from the seed itself, so an ensemble of one is the plain classifier.
            var rng = RandomGenerator(seed: k == 1 ? o.seed : o.seed &+ UInt64(k - 1) &* 0x9E37_79B9_7F4A_7C15)
            let checkpoint = ClassifierCheckpoint(model: ClassifierModel(config: config), vocabulary: vocab, info: info)
            checkpoint.model.initializeParameters(rng: &rng)
            let path = folder.appending(ClassifierEnsemble.memberFile(k)).string
            try trainMember(checkpoint, o, encoded: encoded, validation: val, weights: weights, rng: &rng,
                            path: path, device: device, report: report)
            members.append(try ClassifierCheckpoint.load(path))
        }
        let kept = try ClassifierEnsemble(members)
        if !test.isEmpty {
            report(.tested(ClassificationReport(categories: data.categories, truth: test.map(\.label),
                                                predicted: try kept.classify(test))))
        }
        return kept
    }

    private static func diverged(epoch: Int, loss: Double) -> CharRNNError {
        .trainingDiverged("training diverged in epoch \(epoch): the loss is \(loss); try a lower --learning-rate")
    }

    /// Trains one classifier, saving it to `path` after every epoch that improves on validation.
    private static func trainMember(_ checkpoint: ClassifierCheckpoint, _ o: ClassifierOptions,
                                    encoded: [(ids: [Int32], label: Int32)], validation val: [LabelledData.Item],
                                    weights: [Float]?, rng: inout RandomGenerator, path: String, device: ComputeDevice?,
                                    report: (ClassifierEvent) -> Void) throws {
        let model = checkpoint.model, categories = checkpoint.info.categories
        let optimizer = Optimizer(kind: o.optimizer, count: model.parameterCount)
        let step: ClassifierStep = try device.map {
            try DeviceClassifierStep($0, model: model, optimizer: optimizer, options: o, weights: weights)
        } ?? CPUClassifierStep(model: model, optimizer: optimizer, options: o, weights: weights)
        var byLength: [Int: [Int]] = [:]
        for (i, e) in encoded.enumerated() { byLength[e.ids.count, default: []].append(i) }
        var best = -1.0
        let memberStart = monotonicSeconds()
        for epoch in 1...o.epochs {
            let t0 = monotonicSeconds()
            var batches: [[Int]] = []
            for length in byLength.keys.sorted() {
                var group = byLength[length]!
                group.shuffle(using: &rng)
                for s in stride(from: 0, to: group.count, by: o.batchSize) {
                    batches.append(Array(group[s..<min(s + o.batchSize, group.count)]))
                }
            }
            batches.shuffle(using: &rng)
            var lossSum = 0.0, seen = 0
            try step.startEpoch(batches: batches.count)
            for (k, batch) in batches.enumerated() {
                let T = encoded[batch[0]].ids.count, B = batch.count
                var ids = [Int32](repeating: 0, count: T * B)
                for (b, i) in batch.enumerated() { for t in 0..<T { ids[t * B + b] = encoded[i].ids[t] } }
                if let loss = try step.step(ids: ids, T: T, B: B, labels: batch.map { encoded[$0].label }, batch: k, rng: &rng) {
                    guard loss.isFinite else { throw diverged(epoch: epoch, loss: loss) }
                    lossSum += loss * Double(B)
                }
                seen += B
            }
            for (loss, batch) in zip(try step.finishEpoch(batches: batches.count), batches) {
                guard loss.isFinite else { throw diverged(epoch: epoch, loss: loss) }
                lossSum += loss * Double(batch.count)
            }
            var validation: ClassificationReport? = nil
            var score = -lossSum / Double(seen)
            if !val.isEmpty {
                let predicted = try checkpoint.classify(val)
                validation = ClassificationReport(categories: categories, truth: val.map(\.label), predicted: predicted)
                score = o.balanceClasses || o.priorCorrection > 0 ? validation!.balancedAccuracy : validation!.accuracy
            }
            let improved = score > best || best < 0
            if improved {
                best = score
                try checkpoint.save(to: path)
            }
            report(.epoch(epoch: epoch, trainLoss: lossSum / Double(seen), validation: validation,
                          seconds: monotonicSeconds() - t0, improved: improved))
            if let t = o.maxTime, monotonicSeconds() - memberStart >= t { break }
        }
    }
}
