/// One rank's part of a data-parallel step: streams [first, first + batch) of the global batch.
/// The global batch is --batch-size, the same whatever the number of ranks, so a run's data,
/// learning rate and saved state do not depend on how many processes trained it.
struct RankShare {
    let ranks: RankGroup
    let globalBatch: Int
    var batch: Int { globalBatch / ranks.size }
    var first: Int { ranks.rank * batch }

    init(ranks: RankGroup, globalBatch: Int) throws {
        guard globalBatch % ranks.size == 0 else {
            throw CharRNNError.invalidOption("--batch-size \(globalBatch) does not split evenly across \(ranks.size) ranks; "
                                             + "give a multiple of \(ranks.size)")
        }
        self.ranks = ranks
        self.globalBatch = globalBatch
    }

    /// This rank's columns of a time-major [T, globalBatch] batch, as a [T, batch] one.
    func slice(_ global: [Int32], T: Int, into local: inout [Int32]) {
        let B = globalBatch, b0 = first, n = batch
        for t in 0..<T {
            for b in 0..<n { local[t * n + b] = global[t * B + b0 + b] }
        }
    }

    /// This rank's streams of a state saved for the global batch (layout: per layer, per state part,
    /// [streams, hidden]).
    func load(_ state: HiddenState, from saved: [Float], hidden H: Int, parts S: Int) {
        var local = [Float](repeating: 0, count: state.valueCount)
        copyStreams(from: saved, fromBatch: globalBatch, fromFirst: first, to: &local, toBatch: batch, toFirst: 0,
                    count: batch, hidden: H, parts: S, layers: state.blocks.count)
        state.load(local)
    }

    /// Every rank's streams of `state` in the global layout, on every rank (rank 0 saves it).
    func gathered(_ state: HiddenState, hidden H: Int, parts S: Int) throws -> [Float] {
        var global = [Float](repeating: 0, count: state.valueCount * ranks.size)
        copyStreams(from: state.flattened, fromBatch: batch, fromFirst: 0, to: &global, toBatch: globalBatch, toFirst: first,
                    count: batch, hidden: H, parts: S, layers: state.blocks.count)
        try global.withUnsafeMutableBufferPointer { try ranks.sum($0.baseAddress!, count: $0.count) }
        return global
    }

    /// Averages the ranks' gradients (each the mean over its own streams, so the average is the mean
    /// over the global batch, as one process computes it).
    func average(_ gradients: FloatBuffer) throws {
        try ranks.sum(gradients.pointer, count: gradients.count)
        let scale = 1 / Float(ranks.size), p = gradients.pointer
        Parallel.forRanges(gradients.count) { r in for i in r { p[i] *= scale } }
    }

    /// Throws when the ranks' parameters are not bit for bit the same (they take the same update, so
    /// they drift apart only through a defect; checked at each save).
    func checkAgreement(_ parameters: FloatBuffer, step: Int) throws {
        let crc = Double(CRC32.checksum(UnsafeRawBufferPointer(start: parameters.pointer, count: parameters.count * 4)))
        let leader = try ranks.sum([ranks.isLeader ? crc : 0])[0]
        guard try ranks.all(crc == leader) else {
            throw CharRNNError.dataParallel("the ranks' models differ at step \(step) (a defect: please report it); stopped")
        }
    }

    private func copyStreams(from source: [Float], fromBatch: Int, fromFirst: Int, to target: inout [Float], toBatch: Int,
                             toFirst: Int, count: Int, hidden H: Int, parts S: Int, layers: Int) {
        for l in 0..<layers {
            for s in 0..<S {
                for b in 0..<count {
                    let from = ((l * S + s) * fromBatch + fromFirst + b) * H
                    let to = ((l * S + s) * toBatch + toFirst + b) * H
                    for k in 0..<H { target[to + k] = source[from + k] }
                }
            }
        }
    }
}
