import Foundation

/// Settings for a new run chosen from its text, its budget (time, steps or epochs) and the machine,
/// for a user who gives no model options. The rules and the measurements behind them are in
/// docs/training.md ("Settings chosen for you"); options a user gives are applied over the choice.
package enum AutomaticSettings {
    /// Training characters per second of a model trained on batches of `batch` sequences of `steps`
    /// characters, on the run's device.
    package typealias Throughput = (_ model: ModelConfig, _ batch: Int, _ steps: Int) throws -> Double

    /// The hidden sizes tried, largest first, each as a 2-layer LSTM with 64-wide embeddings.
    package static let hiddenSizes = [1024, 768, 512, 384, 256, 192, 128, 96, 64]
    /// The fewest characters the budget must train on per recurrent weight where the text is
    /// plentiful (a run too short to learn it by heart): below it, a smaller model that read more of
    /// the text in the same time did better.
    package static let charactersPerWeight = 50.0
    /// The same where the run reads a small text many times and is regularised: there a model can
    /// be larger for its budget, since each pass over the text is another chance to learn it.
    package static let charactersPerWeightRegularised = 10.0
    /// The fewest updates a time budget must allow: fewer, and a smaller, faster model did better.
    package static let minimumUpdates = 3000.0
    /// The most recurrent weights per training character.
    package static let weightsPerCharacter = 16.0
    /// Evaluations a run aims at, so its best checkpoint is near its best moment.
    package static let evaluationsPerRun = 30.0

    package struct Choice: Sendable {
        package var options: TrainingOptions
        /// Characters the budget trains on, and that in passes over the training part.
        package var plannedCharacters: Double
        package var epochs: Double
        /// The choice and why, in one line.
        package var summary: String
    }

    /// Weights in the recurrent layers, the part of a model whose size the budget and the data bound
    /// (the embedding and decoder rows of rare characters are seldom trained and seldom overfit).
    package static func recurrentWeights(_ c: ModelConfig) -> Int {
        (0..<c.layers).reduce(0) { $0 + c.cell.gateCount * c.hidden * (c.inputSize(layer: $1) + c.hidden) }
    }

    /// How hard a run will press its model to learn the text by heart: the passes over the text times
    /// the recurrent weights per training character.
    package static func memorisation(epochs: Double, weights: Double, characters: Double) -> Double {
        epochs * weights / characters
    }

    /// A text whose characters in common use (CorpusProfile.characterPerplexity) are more than this
    /// many is learnt slowly, character by character, each of them seen few times an epoch: the
    /// characters per weight a size needs are scaled by the cube of this over their number, and the run
    /// is regularised by its passes over the text, not by the pressure (`largeAlphabetEpochs`).
    /// Calibrated on the one large alphabet measured, the Tang poems (508 characters in common use:
    /// scaled by 0.0020). Texts in the Latin alphabet use fewer (tiny Shakespeare 27, the Linux source
    /// 36) and are not scaled.
    package static let familiarAlphabet = 64.0

    /// A large alphabet's text is regularised only when a run reads it more often than this, and then
    /// as heavily as the rules go. The Tang poems: at 140 epochs an unregularised 2x128 was still
    /// improving (4.71 and 4.63 against 5.05 with dropout and weight drop 0.2); by 300 char-rnn's 2x128
    /// had learnt them by heart; at 770, dropout 0.25 alone reached 4.87 and dropout and weight drop 0.3
    /// 4.59.
    package static let largeAlphabetEpochs = 200.0

    /// The scale `familiarAlphabet` gives a text: 1 for a small alphabet.
    package static func familiarity(_ profile: CorpusProfile) -> Double {
        let share = min(1, familiarAlphabet / max(1, profile.characterPerplexity ?? 1))
        return share * share * share
    }

    /// Below this pressure a run is limited by its budget, not its data: no dropout, a constant rate.
    package static let pressureToRegularise = 5.0

    /// Dropout (between layers) and weight drop (on W_hh) for a run under this pressure.
    package static func regularisation(pressure: Double) -> (dropout: Double, weightDrop: Double) {
        switch pressure {
        case ..<pressureToRegularise: return (0, 0)
        case ..<30: return (0.25, 0)
        case ..<500: return (0.2, 0.2)
        default: return (0.3, 0.3)
        }
    }

    /// `options` holds the run's text, folder, limits and threads (and anything given); `given` says
    /// which options the user gave (the choice plans with those, and they are applied over it
    /// afterwards); `gpu` names the GPU the run will train on, nil for the CPU.
    package static func choose(for profile: CorpusProfile, options: TrainingOptions, given: TrainingChoices,
                              gpu: String? = nil, throughput: Throughput) throws -> Choice {
        var o = options
        let onGPU = gpu != nil
        let N = Double(max(1, profile.trainingCharacters))
        let names = profile.names
        let meanItem = profile.meanLineLength + 1

        // Batches: at least 20 an epoch, 100 characters of context for a long text (50 for a short one).
        let T = given.seqLength ?? (names ? 1 : profile.trainingCharacters >= 200_000 ? 100 : 50)
        let charactersPerSequence = names ? meanItem : Double(T)
        let widest = onGPU ? 128 : 32
        let B = given.batchSize ?? min(widest, max(4, powerOfTwo(atMost: N / (charactersPerSequence * 20))))
        let charactersPerStep = Double(B) * charactersPerSequence
        let probeSteps = names ? Int(meanItem.rounded(.up)) : T

        func config(_ hidden: Int) -> ModelConfig {
            var c = ModelConfig(cell: .lstm, layers: 2, hidden: hidden, embed: 64, vocabSize: profile.vocabulary)
            c.categories = profile.categories
            return c
        }
        // The budget in characters: the least of what the step, epoch and time limits allow.
        let epochLimit = RunLimits.epochLimit(o)
        var fixed = Double.infinity
        if let s = o.maxSteps { fixed = min(fixed, Double(s) * charactersPerStep) }
        if let e = epochLimit { fixed = min(fixed, e * N) }
        var measured: [Int: Double] = [:]
        func rate(_ hidden: Int) throws -> Double {
            if let r = measured[hidden] { return r }
            let r = try throughput(config(hidden), B, probeSteps)
            measured[hidden] = r
            return r
        }
        func planned(_ hidden: Int, rate: Double?) -> Double {
            guard let seconds = o.maxTime, let rate else { return fixed }
            return min(fixed, rate * seconds)
        }
        // The first probe's speed in multiply-adds, scaled to each size, says which sizes to measure.
        let reference = 256
        var flopsRate: Double? = nil
        if o.maxTime != nil {
            flopsRate = try rate(reference) * Double(config(reference).forwardFlopsPerCharacter)
        }
        let familiar = familiarity(profile)
        let largeAlphabet = familiar < 1
        func pressure(_ h: Int, _ D: Double) -> Double {
            memorisation(epochs: D / N, weights: Double(recurrentWeights(config(h))), characters: N)
        }
        // A large alphabet goes by its passes over the text, any other by the pressure.
        func regularises(_ h: Int, _ D: Double) -> Bool {
            largeAlphabet ? D / N > largeAlphabetEpochs : pressure(h, D) >= pressureToRegularise
        }
        // A size fits when the data can hold it, the budget gives it enough updates (a step or epoch
        // limit gives every size the same), and enough characters per weight for its regime.
        func fits(_ h: Int, _ D: Double) -> Bool {
            let weights = Double(recurrentWeights(config(h)))
            let needed = (regularises(h, D) ? charactersPerWeightRegularised : charactersPerWeight) * familiar
            return weights <= weightsPerCharacter * N && D / charactersPerStep >= min(minimumUpdates, fixed / charactersPerStep)
                && D / weights >= needed
        }
        var hidden = hiddenSizes.last!
        for h in hiddenSizes {
            guard fits(h, planned(h, rate: flopsRate.map { $0 / Double(config(h).forwardFlopsPerCharacter) })) else { continue }
            if o.maxTime != nil, !fits(h, planned(h, rate: try rate(h))) { continue }
            hidden = h
            break
        }
        let speed = o.maxTime != nil ? try rate(hidden) : nil
        let D = planned(hidden, rate: speed)
        let epochs = D / N
        let press = pressure(hidden, D)
        let regularised = regularises(hidden, D)
        let (dropout, weightDrop) = largeAlphabet ? (regularised ? regularisation(pressure: .infinity) : (0, 0))
                                                  : regularisation(pressure: press)

        o.cell = .lstm
        o.layers = 2
        o.hidden = hidden
        o.embed = 64
        if !names { o.seqLength = T }
        o.batchSize = B
        o.dropout = dropout
        o.weightDrop = weightDrop > 0 ? weightDrop : nil
        // Masks drawn afresh at each step: on Tang poems, locked (variational) masks cost 0.07 nats.
        o.variationalDropout = nil
        o.learningRate = hidden >= 512 ? 1e-3 : 2e-3
        let steps = D / charactersPerStep
        if regularised {
            o.optimizer = .adamw
            o.lrSchedule = .cosine
            let warmup = Int(min(200, steps / 20))
            o.warmup = warmup > 0 ? warmup : nil
        } else {
            // A run its budget limits learns fastest at a constant rate (the cosine's fall cost 0.02-0.04).
            o.optimizer = .adam
            o.lrSchedule = .constant
            o.warmup = nil
        }
        let batchesPerEpoch = max(1, N / charactersPerStep)
        let evalEvery = roundedStep(min(max(steps / evaluationsPerRun, 10), batchesPerEpoch))
        o.evalEvery = evalEvery
        let evaluations = steps / Double(evalEvery)
        o.earlyStop = profile.validationIsMeaningful && evaluations >= 12 ? min(10, max(5, Int(evaluations / 4))) : nil

        // All evaluations together cost about a tenth of the training: a large held-out part is sampled.
        let validationCap = max(200_000, Int(D / 100))
        if !names, profile.validationCharacters > validationCap { o.validationLimit = validationCap }

        var budget: [String] = []
        if let t = o.maxTime { budget.append(duration(t)) }
        if let s = o.maxSteps { budget.append("\(s) steps") }
        if let e = o.maxEpochs { budget.append("\(fmt(e, e < 10 ? 1 : 0)) epochs") }
        if budget.isEmpty { budget.append("50 epochs (no limit given)") }
        let machine = gpu ?? "\(o.threads) thread\(o.threads == 1 ? "" : "s")"
        var s = "\(size(profile.bytes)), \(profile.vocabulary) characters"
        if let items = profile.trainingItems { s += ", \(items + (profile.validationItems ?? 0)) items" }
        if profile.categories > 0 { s += " in \(profile.categories) categories" }
        s += ", \(budget.joined(separator: " or ")) on \(machine): LSTM 2x\(hidden)"
        s += dropout == 0 ? ", no dropout" : ", dropout \(fmt(dropout, 2))" + (weightDrop > 0 ? " and weight drop \(fmt(weightDrop, 2))" : "")
        s += names ? ", \(B) items a batch" : ", batch \(B) x \(T)"
        s += regularised ? ", AdamW \(o.learningRate) cosine" : ", Adam \(o.learningRate) constant"
        s += ", validation every \(evalEvery) steps"
        s += " (\(fmt(Double(evalEvery) / batchesPerEpoch, evalEvery >= Int(batchesPerEpoch) ? 0 : 2)) epoch)"
        if let limit = o.validationLimit { s += " on the first \(count(Double(limit))) of \(count(Double(profile.validationCharacters))) held-out characters" }
        s += o.earlyStop.map { ", early stop after \($0) without a new best" } ?? ", no early stop"
        s += ". Why: about \(count(D)) characters to train on (\(fmt(epochs, epochs < 10 ? 1 : 0)) epochs"
        if let speed { s += " at \(count(speed)) a second" }
        let perWeight = (regularised ? charactersPerWeightRegularised : charactersPerWeight) * familiar
        s += "): the largest LSTM with \(Int(minimumUpdates)) updates, \(fmt(perWeight, perWeight < 10 ? 2 : 0)) "
        s += "characters per recurrent weight and at most \(Int(weightsPerCharacter)) recurrent weights per training character; "
        if largeAlphabet {
            s += "a large alphabet (\(fmt(profile.characterPerplexity ?? 0, 0)) characters in common use) is learnt slowly: the "
                + "characters per weight are scaled by \(fmt(familiar, familiar < 0.01 ? 4 : 2)), and "
                + (regularised ? "regularised, as \(fmt(epochs, 0)) epochs would learn it by heart (over \(Int(largeAlphabetEpochs)))"
                               : "not regularised, as \(fmt(epochs, 0)) epochs would not learn it by heart (\(Int(largeAlphabetEpochs)) would)")
        } else {
            s += regularised ? "regularised, as it would learn the text by heart (pressure \(fmt(press, 0)))"
                             : "not regularised, as the budget limits it more than the text (pressure \(fmt(press, 1)))"
        }
        s += "; options given win"
        if profile.looksLikeList { s += " (short lines: if each is an item, such as a name, --names trains on one at a time)" }
        return Choice(options: o, plannedCharacters: D, epochs: epochs, summary: s)
    }

    /// The measured training speed of a model on the run's CPU threads or GPU. Under mpirun, rank 0
    /// measures its share of a batch and every rank takes its figure times the ranks, so that all
    /// choose alike.
    package static func measuredThroughput(threads: Int, device: ComputeDevice?, ranks: RankGroup? = nil) -> Throughput {
        { model, batch, steps in
            let share = max(1, batch / (ranks?.size ?? 1))
            var c = BenchmarkConfig(.train, model.cell, layers: model.layers, hidden: model.hidden, batch: share, seq: steps, threads: threads)
            c.embed = model.embed
            c.vocab = model.vocabSize
            let mine = ranks?.isLeader ?? true ? try Benchmark.run(c, seconds: 0.3, minSteps: 2, device: device as? CUDADevice).charactersPerSecond : 0
            guard let ranks else { return mine }
            return try ranks.sum([mine])[0] * Double(ranks.size)
        }
    }

    static func powerOfTwo(atMost x: Double) -> Int {
        guard x >= 1 else { return 1 }
        return 1 << Int(log2(min(x, 1_048_576)))
    }

    /// A step count with two significant digits (1, 2 or 5 times a power of ten below 100).
    static func roundedStep(_ x: Double) -> Int {
        guard x >= 1 else { return 1 }
        let magnitude = pow(10, floor(log10(x)) - 1)
        return max(1, Int((x / magnitude).rounded(.down) * magnitude))
    }

    private static func size(_ bytes: Int) -> String {
        bytes >= 1_000_000 ? "\(fmt(Double(bytes) / 1e6, 1)) MB" : bytes >= 1000 ? "\(bytes / 1000) KB" : "\(bytes) bytes"
    }

    private static func count(_ x: Double) -> String {
        x >= 1e6 ? "\(fmt(x / 1e6, 1))M" : x >= 1e3 ? "\(Int((x / 1e3).rounded()))k" : "\(Int(x.rounded()))"
    }

    private static func duration(_ s: Double) -> String {
        s >= 7200 ? "\(fmt(s / 3600, 1)) h" : s >= 60 ? "\(fmt(s / 60, s.truncatingRemainder(dividingBy: 60) == 0 ? 0 : 1)) min" : "\(fmt(s, 0)) s"
    }
}
