/// The recurrent state of every layer for B streams: per layer h [B, H] (and c [B, H] for LSTM),
/// laid out as one block per layer so a layer reads and writes it in place.
package final class HiddenState {
    package let batch: Int
    package let blocks: [FloatBuffer]

    package init(config: ModelConfig, batch: Int) {
        self.batch = batch
        blocks = (0..<config.layers).map { _ in
            FloatBuffer(count: config.cell.stateCount * batch * config.hidden)
        }
    }

    /// Back to the zero state (the start of a text, or a random batch).
    package func reset() { for b in blocks { b.zero() } }

    /// All values, layer by layer, for saving.
    package var flattened: [Float] { blocks.flatMap { $0.array } }

    package func load(_ values: [Float]) {
        var i = 0
        for b in blocks {
            for j in 0..<b.count { b[j] = values[i]; i += 1 }
        }
    }

    package var valueCount: Int { blocks.reduce(0) { $0 + $1.count } }
}
