import CCharRNNKernels

/// The CPU's GraphOperations: BLAS and the C kernels, split among the threads; the masks from the
/// forward's seeds (MaskSeeds).
struct CPUGraphOperations: GraphOperations {
    typealias Failure = Never
    let seeds: MaskSeeds?
    /// The weight gradients' products, which share one workspace (nil: BLAS's own).
    var weightGradients: SharedPanelProduct? = nil
    /// At least as many ones as a column sum has rows.
    var ones: UnsafeMutablePointer<Float>? = nil

    func advanced(_ values: UnsafeMutablePointer<Float>, byFloats count: Int) -> UnsafeMutablePointer<Float> { values + count }

    func copy(_ source: UnsafeMutablePointer<Float>, to destination: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forRanges(count) { r in (destination + r.lowerBound).update(from: source + r.lowerBound, count: r.count) }
    }

    func drawMask(_ mask: UnsafeMutablePointer<Float>, count: Int, p: Double, period: Int, seed: Int) {
        DropoutMask.draw(mask, count: count, p: p, seed: seeds!.words[seed], period: period)
    }

    func multiply(_ x: UnsafeMutablePointer<Float>, by mask: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        DropoutMask.apply(x, mask, into: y, count: count)
    }

    func fillRows(_ out: UnsafeMutablePointer<Float>, rows: Int, count: Int, with row: UnsafeMutablePointer<Float>) {
        Parallel.forRows(rows, rowLength: count) { r in (out + r * count).update(from: row, count: count) }
    }

    func addProductTransposed(m: Int, n: Int, k: Int, a: UnsafeMutablePointer<Float>, lda: Int, b: UnsafeMutablePointer<Float>,
                              ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        BLAS.pgemm(transB: true, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: c, ldc: ldc)
    }

    func addWeightGradient(m: Int, n: Int, k: Int, a: UnsafeMutablePointer<Float>, lda: Int, b: UnsafeMutablePointer<Float>,
                           ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if let weightGradients {
            weightGradients.accumulate(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, into: c, ldc: ldc)
        } else {
            BLAS.pgemm(transA: true, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: c, ldc: ldc)
        }
    }

    func addColumnSums(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Float>) {
        BLAS.columnSums(x, rows: rows, cols: cols, ones: ones!, into: out)
    }

    func product(m: Int, n: Int, k: Int, a: UnsafeMutablePointer<Float>, lda: Int, b: UnsafeMutablePointer<Float>, ldb: Int,
                 c: UnsafeMutablePointer<Float>, ldc: Int) {
        BLAS.pgemm(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
    }

    func zero(_ x: UnsafeMutablePointer<Float>, count: Int) { x.update(repeating: 0, count: count) }

    func copyRows(T: Int, B: Int, width: Int, from source: UnsafeMutablePointer<Float>, lds: Int, to destination: UnsafeMutablePointer<Float>,
                  ldd: Int, reversed: Bool) {
        for t in 0..<T {
            let from = source + (reversed ? T - 1 - t : t) * B * lds, to = destination + t * B * ldd
            for b in 0..<B { (to + b * ldd).update(from: from + b * lds, count: width) }
        }
    }

    func addRows(T: Int, B: Int, width: Int, from x: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>, reversed: Bool) {
        let block = B * width
        for t in 0..<T { crn_add(x + (reversed ? T - 1 - t : t) * block, y + t * block, block) }
    }
}

extension RecurrentLayer: GraphLayer {
    typealias Failure = Never
    static func rows(_ values: UnsafeMutablePointer<Float>) -> LayerInput { .dense(values) }

    func run(_ input: LayerInput, T: Int, B: Int, params: UnsafeMutablePointer<Float>, state: UnsafeMutablePointer<Float>,
             training: Bool) -> UnsafeMutablePointer<Float> {
        forward(input, T: T, B: B, params: params, state: state)
    }

    func runBackward(_ input: LayerInput, T: Int, B: Int, params: UnsafeMutablePointer<Float>, grads: UnsafeMutablePointer<Float>,
                     dOutput: UnsafeMutablePointer<Float>, needInputGradient: Bool) -> UnsafeMutablePointer<Float>? {
        backward(input, T: T, B: B, params: params, grads: grads, dOutput: dOutput, needInputGradient: needInputGradient)
    }
}
