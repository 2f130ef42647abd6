/// Names mode: each line is one training sequence, read from the zero state: input "\n" + line,
/// target line + "\n" (the newline is both the start and the end-of-name symbol). Lines of equal
/// length are batched together, so there is no padding. With categories (a labelled folder), each line
/// carries its category, fed to the model at every step.
package struct LineBatches: Sendable {
    package struct Line: Sendable, Equatable {
        package var ids: [Int32]
        package var category: Int32

        package init(ids: [Int32], category: Int32) {
            self.ids = ids
            self.category = category
        }
    }

    package let lines: [Line]
    package let batch: Int
    package let separator: Int32
    /// Batches of one epoch: indices into `lines`, all of one length.
    private var order: [[Int]] = []
    package var position = 0
    package var epoch = 0
    private let seed: UInt64

    package init(lines: [Line], batch: Int, separator: Int32, seed: UInt64) throws {
        guard !lines.isEmpty else { throw CharRNNError.invalidOption("there are no lines to train on") }
        self.lines = lines
        self.batch = batch
        self.separator = separator
        self.seed = seed
        order = makeOrder(epoch: 0)
    }

    package var batchesPerEpoch: Int { order.count }
    package var progress: Double { Double(epoch) + Double(position) / Double(max(1, order.count)) }

    /// Each epoch's batch order depends only on the seed and the epoch number, so a resumed run
    /// rebuilds it without saving it.
    private func makeOrder(epoch: Int) -> [[Int]] {
        var rng = RandomGenerator(seed: seed &+ 0x5851_F42D_4C95_7F2D &* UInt64(epoch + 1))
        var byLength: [Int: [Int]] = [:]
        for (i, l) in lines.enumerated() { byLength[l.ids.count, default: []].append(i) }
        var batches: [[Int]] = []
        for length in byLength.keys.sorted() {
            var group = byLength[length]!
            group.shuffle(using: &rng)
            for s in stride(from: 0, to: group.count, by: batch) { batches.append(Array(group[s..<min(s + batch, group.count)])) }
        }
        batches.shuffle(using: &rng)
        return batches
    }

    /// Moves to a saved position (epoch, batch index).
    package mutating func seek(epoch: Int, position: Int) {
        self.epoch = epoch
        order = makeOrder(epoch: epoch)
        self.position = min(position, order.count - 1)
    }

    /// The next batch, time-major: inputs, targets [T * B] and categories [B].
    package mutating func next() -> (inputs: [Int32], targets: [Int32], categories: [Int32], T: Int, B: Int) {
        let group = order[position]
        let r = Self.assemble(group.map { lines[$0] }, separator: separator)
        position += 1
        if position >= order.count {
            position = 0
            epoch += 1
            order = makeOrder(epoch: epoch)
        }
        return r
    }

    /// Time-major inputs and targets of equal-length lines.
    package static func assemble(_ group: [Line], separator: Int32) -> (inputs: [Int32], targets: [Int32], categories: [Int32], T: Int, B: Int) {
        let B = group.count, T = group[0].ids.count + 1
        var x = [Int32](repeating: separator, count: T * B), y = x
        for (b, line) in group.enumerated() {
            for t in 0..<T {
                x[t * B + b] = t == 0 ? separator : line.ids[t - 1]
                y[t * B + b] = t < T - 1 ? line.ids[t] : separator
            }
        }
        return (x, y, group.map(\.category), T, B)
    }
}
