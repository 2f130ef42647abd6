import Foundation

/// What a run trains on: a continuous text read as B streams, or (names mode) one item per line,
/// optionally labelled by category when the input is a folder of one file per category.
package struct TrainingData {
    package enum Feed {
        case stream(BatchSource)
        case lines(LineBatches)
    }

    package let vocabulary: Vocabulary
    package let start: Unicode.Scalar
    package let fingerprint: UInt64
    package let trainCharacters: Int
    package let validationCharacters: Int
    /// Category names for a conditional model (a labelled folder), else nil.
    package let categoryNames: [String]?
    package let names: Bool
    /// The training items (names mode), to tell generated names that are new from ones in the data.
    package let items: Set<String>
    var feed: Feed
    let validationIds: [Int32]
    let validationLines: [LineBatches.Line]

    package struct Batch {
        package var inputs: [Int32]
        package var targets: [Int32]
        package var categories: [Int32]?
        package var T: Int
        package var B: Int
        package var reset: Bool
    }

    /// Reads options.textPath: a folder means labelled names, options.names a file of names, else a text.
    /// `vocabulary` is given when resuming (the saved one).
    package static func load(_ o: TrainingOptions, vocabulary saved: Vocabulary? = nil) throws -> TrainingData {
        var isDir: ObjCBool = false
        let isFolder = FileManager.default.fileExists(atPath: o.textPath, isDirectory: &isDir) && isDir.boolValue
        if !isFolder && !o.names {
            let text = try TextFile.read(o.textPath)
            let corpus = try Corpus(text: text, vocabulary: saved, validationFraction: o.validationFraction)
            let source = try BatchSource(ids: corpus.train, batch: o.batchSize, steps: o.seqLength, mode: o.batching,
                                         name: o.textPath + " (training part)")
            let validation = o.validationLimit.map { Array(corpus.validation.prefix($0)) } ?? corpus.validation
            return TrainingData(vocabulary: corpus.vocabulary, start: text.unicodeScalars.first!, fingerprint: corpus.fingerprint,
                                trainCharacters: corpus.train.count, validationCharacters: validation.count,
                                categoryNames: nil, names: false, items: [], feed: .stream(source),
                                validationIds: validation, validationLines: [])
        }
        var raw: [(String, Int32)] = []
        var categories: [String]? = nil
        if isFolder {
            let data = try LabelledData.load(directory: o.textPath, normalization: TextNormalization(), deduplicate: true)
            raw = data.items.map { ($0.text, Int32($0.label)) }
            categories = data.categories
        } else {
            let text = try TextFile.read(o.textPath)
            raw = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map { (String($0), 0) }.filter { !$0.0.isEmpty }
            guard !raw.isEmpty else { throw CharRNNError.invalidOption("\(o.textPath) has no lines to train on") }
        }
        var scalars = Set<Unicode.Scalar>(["\n"])
        for (s, _) in raw { scalars.formUnion(s.unicodeScalars) }
        let vocab = saved ?? Vocabulary(scalars: Array(scalars))
        let separator = vocab.id(of: "\n")!
        var lines = try raw.map { LineBatches.Line(ids: try vocab.encode($0.0, what: o.textPath), category: $0.1) }
        var rng = RandomGenerator(seed: o.seed ^ 0xA5A5_5A5A)
        lines.shuffle(using: &rng)
        let nVal = Int((Double(lines.count) * o.validationFraction).rounded())
        var val = Array(lines.prefix(nVal))
        let train = Array(lines.dropFirst(nVal))
        if let limit = o.validationLimit {
            var filled = 0
            val = Array(val.prefix { filled += $0.ids.count + 1; return filled <= limit })
        }
        guard !train.isEmpty else { throw CharRNNError.invalidOption("\(o.textPath): no lines left for training") }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ v: UInt64) { h = (h ^ v) &* 0x100_0000_01b3 }
        for s in vocab.scalars { mix(UInt64(s.value)) }
        for l in lines { for i in l.ids { mix(UInt64(UInt32(bitPattern: i))) }; mix(0xFFFF_FFFF &+ UInt64(l.category)) }
        let feed = try LineBatches(lines: train, batch: o.batchSize, separator: separator, seed: o.seed)
        return TrainingData(vocabulary: vocab, start: "\n", fingerprint: h,
                            trainCharacters: train.reduce(0) { $0 + $1.ids.count + 1 },
                            validationCharacters: val.reduce(0) { $0 + $1.ids.count + 1 },
                            categoryNames: categories, names: true, items: Set(raw.map(\.0)), feed: .lines(feed),
                            validationIds: [], validationLines: val)
    }

    package var progress: Double {
        switch feed { case .stream(let s): return s.progress; case .lines(let l): return l.progress }
    }
    package var epoch: Int {
        switch feed { case .stream(let s): return s.epoch; case .lines(let l): return l.epoch }
    }
    package var position: Int {
        switch feed { case .stream(let s): return s.position; case .lines(let l): return l.position }
    }
    /// The most steps one batch runs (the sequence length, or the longest line and its end symbol).
    package var longestSequence: Int {
        switch feed {
        case .stream(let s): return s.steps
        case .lines(let l): return (l.lines.map(\.ids.count).max() ?? 0) + 1
        }
    }
    package var batchesPerEpoch: Int {
        switch feed { case .stream(let s): return s.batchesPerEpoch; case .lines(let l): return l.batchesPerEpoch }
    }

    mutating func seek(epoch: Int, position: Int) -> Bool {
        guard position >= 0, position < batchesPerEpoch, epoch >= 0 else { return false }
        switch feed {
        case .stream(var s): s.epoch = epoch; s.position = position; feed = .stream(s)
        case .lines(var l): l.seek(epoch: epoch, position: position); feed = .lines(l)
        }
        return true
    }

    mutating func next(rng: inout RandomGenerator, inputs: inout [Int32], targets: inout [Int32]) -> Batch {
        switch feed {
        case .stream(var s):
            let reset = s.next(inputs: &inputs, targets: &targets, rng: &rng)
            feed = .stream(s)
            return Batch(inputs: inputs, targets: targets, categories: nil, T: s.steps, B: s.batch, reset: reset)
        case .lines(var l):
            let b = l.next()
            feed = .lines(l)
            return Batch(inputs: b.inputs, targets: b.targets, categories: categoryNames == nil ? nil : b.categories,
                         T: b.T, B: b.B, reset: true)
        }
    }

    /// Loss on the held-out part: streams as wide as the batch with state carried, or every held-out line.
    func validationLoss<M: EvaluatedModel>(model: M, batch: Int, chunk: Int, check: () throws -> Void = {}) throws -> LossReport? {
        if names {
            guard !validationLines.isEmpty, case .lines(let l) = feed else { return nil }
            return try Evaluation.loss(of: model, lines: validationLines, separator: l.separator, batch: batch,
                                       conditional: categoryNames != nil, check: check)
        }
        guard validationIds.count >= 2 else { return nil }
        return try Evaluation.loss(of: model, ids: validationIds, streams: batch, chunk: chunk, check: check)
    }
}
