import CharRNN
import XCTest

/// The recurrence split by batch rows and split in tiles (RecurrentLayer.RecurrenceSplit) must give the
/// same bits: the same products in the same order, only shared out differently among the threads.
final class RecurrenceSplitTests: XCTestCase {
    override func tearDown() {
        RecurrentLayer.recurrenceSplit = .automatic
        BLAS.setThreads(2)
    }

    /// Loss, final state and every gradient of one training step, and the logits of an evaluation pass.
    private func run(_ config: ModelConfig, T: Int, B: Int, split: RecurrentLayer.RecurrenceSplit)
        -> (loss: Double, state: [Float], gradients: [Float], evalLoss: Double) {
        RecurrentLayer.recurrenceSplit = split
        let model = randomModel(config, seed: 21, scale: 1.2)
        let inputs = randomIds(T * B, vocab: config.vocabSize, seed: 22)
        let targets = randomIds(T * B, vocab: config.vocabSize, seed: 23)
        let state = model.hiddenState(batch: B)
        var srng = RandomGenerator(seed: 24)
        let h0 = (0..<state.valueCount).map { _ in srng.nextFloat() - 0.5 }
        state.load(h0)
        var rng = RandomGenerator(seed: 25)
        let loss = inputs.withUnsafeBufferPointer { x in
            targets.withUnsafeBufferPointer { y in
                model.lossAndGradients(x.baseAddress!, targets: y.baseAddress!, T: T, B: B, state: state, rng: &rng)
            }
        }
        let final = state.flattened
        state.load(h0)
        let evalLoss = model.meanLoss(inputs, targets, T: T, B: B, state: state, rng: &rng, training: false)
        return (Double(loss), final, model.gradients.array, evalLoss)
    }

    private func assertSameBits(_ config: ModelConfig, T: Int, B: Int, threads: Int,
                                file: StaticString = #filePath, line: UInt = #line) {
        BLAS.setThreads(threads)
        let before = RecurrentLayer.tiledRuns
        let rows = run(config, T: T, B: B, split: .rows)
        XCTAssertEqual(RecurrentLayer.tiledRuns, before, "the rows split ran tiled", file: file, line: line)
        let tiles = run(config, T: T, B: B, split: .tiles)
        XCTAssertGreaterThanOrEqual(RecurrentLayer.tiledRuns - before, 2 * config.layers,
                                    "the tiles split did not run tiled", file: file, line: line)
        let what = "\(config.cell) \(config.layers)x\(config.hidden) E\(config.embed) B\(B) T\(T) \(threads) threads"
        XCTAssertEqual(rows.loss, tiles.loss, "\(what): loss", file: file, line: line)
        XCTAssertEqual(rows.evalLoss, tiles.evalLoss, "\(what): evaluation loss", file: file, line: line)
        XCTAssertTrue(rows.state == tiles.state, "\(what): final state differs", file: file, line: line)
        let differing = zip(rows.gradients, tiles.gradients).filter { $0 != $1 }.count
        XCTAssertEqual(differing, 0, "\(what): \(differing) gradient elements differ", file: file, line: line)
    }

    func testTilesGiveTheSameBitsAsRows() {
        for cell in [CellKind.lstm, .gru, .rnnTanh, .rnnRelu] {
            // Hidden sizes off the 16-column panels, batches smaller than, equal to and larger than the
            // thread count, embedding and one-hot input.
            for (hidden, embed, B) in [(37, 8, 1), (40, 0, 3), (96, 16, 50)] {
                let config = ModelConfig(cell: cell, layers: 2, hidden: hidden, embed: embed, vocabSize: 11)
                for threads in [2, 3] {
                    assertSameBits(config, T: 6, B: B, threads: threads)
                }
            }
        }
    }

    /// More threads than the machine has cores: the barrier must still let every part through.
    func testTilesWithMoreThreadsThanCores() {
        let config = ModelConfig(cell: .lstm, layers: 1, hidden: 64, embed: 8, vocabSize: 11)
        assertSameBits(config, T: 20, B: 16, threads: 8)
    }

    /// The grid gives each tile two panels or more where the product has them, cutting the rows instead:
    /// 16 threads over a 2x256 LSTM's backward step (64 rows, 256 columns) get 32 rows by two panels each.
    func testTilesTakeTwoPanels() {
        for p in 0..<16 {
            let tile = Parallel.tile(part: p, of: 16, rows: 64, columns: 256, panelWidth: 16)
            XCTAssertEqual(tile.panels.count, 2, "part \(p)")
            XCTAssertEqual(tile.rows.count, 32, "part \(p)")
        }
        // Enough panels: every thread a run of columns over all the rows (2x512 at batch 50, 16 threads).
        let wide = Parallel.tile(part: 5, of: 16, rows: 50, columns: 512, panelWidth: 16)
        XCTAssertEqual(wide.rows, 0..<50)
        XCTAssertEqual(wide.panels.count, 2)
        // One panel in all: one group.
        XCTAssertEqual(Parallel.tile(part: 1, of: 4, rows: 8, columns: 16, panelWidth: 16).panels, 0..<1)
    }

    /// The tile grid covers every row and column of a product exactly once.
    func testTileGridCoversTheProduct() {
        for (rows, columns, parts) in [(50, 512, 16), (50, 128, 16), (3, 40, 2), (1, 2048, 12), (50, 96, 12), (7, 16, 5)] {
            var covered = [Int](repeating: 0, count: rows * columns)
            for p in 0..<parts {
                let tile = Parallel.tile(part: p, of: parts, rows: rows, columns: columns, panelWidth: 16)
                for r in tile.rows {
                    for c in (tile.panels.lowerBound * 16)..<min(columns, tile.panels.upperBound * 16) {
                        covered[r * columns + c] += 1
                    }
                }
            }
            XCTAssertTrue(covered.allSatisfy { $0 == 1 }, "\(rows)x\(columns) over \(parts) parts")
        }
    }
}
