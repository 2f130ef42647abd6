/// How training windows are drawn from the text.
public enum BatchingMode: String, Codable, Sendable, CaseIterable {
    /// The text split into B contiguous streams; batch k continues batch k-1, so the hidden state is
    /// carried across batches (detached), and reset at each epoch's start. Each epoch after the first
    /// starts its streams elsewhere in the text (BatchSource.epochShift), so that the zero state meets
    /// other characters than the same B every epoch.
    case sequential
    /// B windows at random offsets each step; the hidden state starts from zero every batch.
    case random
}

/// Produces time-major batches (row t*B + b) of inputs and next-character targets.
package struct BatchSource: Sendable {
    public let mode: BatchingMode
    public let ids: [Int32]
    public let batch: Int
    public let steps: Int
    /// Sequential: characters per stream. Random: unused.
    public let streamLength: Int
    public let batchesPerEpoch: Int
    /// Index of the next batch within the epoch (sequential), or batches drawn this epoch (random).
    public var position = 0
    public var epoch = 0

    public init(ids: [Int32], batch: Int, steps: Int, mode: BatchingMode, name: String) throws {
        let need = batch * steps + 1
        guard ids.count >= need else {
            throw CharRNNError.corpusTooShort(name, have: ids.count, need: need)
        }
        self.mode = mode
        self.ids = ids
        self.batch = batch
        self.steps = steps
        streamLength = (ids.count - 1) / batch
        batchesPerEpoch = mode == .sequential ? streamLength / steps : max(1, (ids.count - 1) / (batch * steps))
    }

    /// Fills inputs and targets ([steps * batch] each); returns true when the hidden state must start from zero.
    public mutating func next(inputs: inout [Int32], targets: inout [Int32], rng: inout RandomGenerator) -> Bool {
        let B = batch, T = steps
        var reset = false
        switch mode {
        case .sequential:
            reset = position == 0
            let shift = epochShift, wrap = ids.count - 1
            ids.withUnsafeBufferPointer { src in
                for b in 0..<B {
                    // A shifted stream runs on into the next one's characters, and the last one from the
                    // end of the text to its start (taken as a ring of wrap input characters, each
                    // followed by its real next one).
                    var i = (b * streamLength + shift + position * T) % wrap
                    for t in 0..<T {
                        inputs[t * B + b] = src[i]
                        targets[t * B + b] = src[i + 1]
                        i += 1
                        if i == wrap { i = 0 }
                    }
                }
            }
        case .random:
            reset = true
            let span = ids.count - T
            ids.withUnsafeBufferPointer { src in
                for b in 0..<B {
                    let start = rng.nextInt(below: span)
                    for t in 0..<T {
                        inputs[t * B + b] = src[start + t]
                        targets[t * B + b] = src[start + t + 1]
                    }
                }
            }
        }
        position += 1
        if position >= batchesPerEpoch { position = 0; epoch += 1 }
        return reset
    }

    /// Sequential: how far into the text this epoch's streams start, from their places in the first
    /// epoch (char-rnn's layout, shift 0): anywhere within a stream's length, a hash of the epoch. A model
    /// trained with the streams starting at the same B characters every epoch learns the zero state only
    /// after those: primed from it with another character, a large model seen over many epochs fell
    /// into a loop of capitals and '&'. Each epoch still covers the text evenly, as the first does: every
    /// stream is shifted alike, and the last one runs on from the text's end to its start. A hash, not a
    /// random draw, so it needs no state of its own and a resumed run gets the same batches.
    public var epochShift: Int {
        guard mode == .sequential, epoch > 0 else { return 0 }
        return Int((UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15) >> 33) % streamLength
    }

    /// Fractional epochs done.
    public var progress: Double { Double(epoch) + Double(position) / Double(batchesPerEpoch) }
}
