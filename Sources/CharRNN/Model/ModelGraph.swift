/// The steps of the model graph that both devices take alike, written once over the few operations
/// they need: AWD-LSTM's weight drop and its gradient, dropout after a layer (and its backward), and
/// the decoder's forward and backward. CharRNNModel runs them with CPUGraphOperations (pointers, BLAS, the C
/// kernels), DeviceModel with DeviceGraphOperations (device pointers, cuBLAS, the CUDA kernels).
/// What differs between the devices stays with each model: how layer 0's input is built (the CPU folds
/// the embedding into a table, a GPU gathers rows), a GPU's fused inference step, the CPU's packed
/// decoder for small steps, and the embedding's gradient.
protocol GraphOperations {
    associatedtype Values
    /// What an operation can throw: Never on the CPU, so the shared steps need no `try` there.
    associatedtype Failure: Error
    func advanced(_ values: Values, byFloats count: Int) -> Values
    func copy(_ source: Values, to destination: Values, count: Int) throws(Failure)
    /// mask[0..<count] = 0 with probability p, else 1/(1-p), repeating every `period` values, from the
    /// forward's seed in slot `seed` (MaskSeeds): the same mask on either device.
    func drawMask(_ mask: Values, count: Int, p: Double, period: Int, seed: Int) throws(Failure)
    /// y = x * mask, element by element (y may be x).
    func multiply(_ x: Values, by mask: Values, into y: Values, count: Int) throws(Failure)
    /// Each of `rows` rows of `out` (`count` wide) = `row`.
    func fillRows(_ out: Values, rows: Int, count: Int, with row: Values) throws(Failure)
    /// c = a [m, k] times b^T (b is [n, k]) plus c.
    func addProductTransposed(m: Int, n: Int, k: Int, a: Values, lda: Int, b: Values, ldb: Int, c: Values, ldc: Int) throws(Failure)
    /// c [m, n] += a^T b, a [k, m] and b [k, n]: a weight's gradient from its outputs' gradients and its inputs.
    func addWeightGradient(m: Int, n: Int, k: Int, a: Values, lda: Int, b: Values, ldb: Int, c: Values, ldc: Int) throws(Failure)
    /// out[cols] += the sums of the columns of x [rows, cols]: a bias's gradient.
    func addColumnSums(_ x: Values, rows: Int, cols: Int, into out: Values) throws(Failure)
    /// c = a [m, k] times b [k, n].
    func product(m: Int, n: Int, k: Int, a: Values, lda: Int, b: Values, ldb: Int, c: Values, ldc: Int) throws(Failure)
}

extension GraphOperations {
    /// Weight drop: `copy` = the parameters with each layer's W_hh times a fresh mask (0 or 1/(1-p), as
    /// F.dropout on the raw weight in AWD-LSTM's WeightDrop), drawn into masks[l] once for the minibatch.
    func dropConnect(_ parameters: Values, into copy: Values, masks: [Values], layout: ParameterLayout, p: Double) throws(Failure) {
        try self.copy(parameters, to: copy, count: layout.count)
        for (l, mask) in masks.enumerated() {
            let slot = layout["rnn.weight_hh_l\(l)"]!, w = advanced(copy, byFloats: slot.offset)
            try drawMask(mask, count: slot.count, p: p, period: slot.count, seed: MaskSeeds.weightDropSlot(layer: l))
            try multiply(w, by: mask, into: w, count: slot.count)
        }
    }

    /// W_hh_used = mask * W_hh, so dL/dW_hh = mask * dL/dW_hh_used: the gradients `g` of the dropped
    /// weights become those of the weights.
    func maskWeightDropGradients(_ g: Values, masks: [Values], layout: ParameterLayout) throws(Failure) {
        for (l, mask) in masks.enumerated() {
            let slot = layout["rnn.weight_hh_l\(l)"]!, gw = advanced(g, byFloats: slot.offset)
            try multiply(gw, by: mask, into: gw, count: slot.count)
        }
    }

    /// Embedding dropout: a factor per character of the V, 0 (dropped for this minibatch) or 1/(1-p).
    func drawEmbeddingMask(_ mask: Values, vocabulary V: Int, p: Double, layers: Int) throws(Failure) {
        try drawMask(mask, count: V, p: p, period: V, seed: MaskSeeds.embeddingSlot(layers: layers))
    }

    /// Dropout after layer `l` of `layers`, in training: `dropped` = out times a fresh mask, one per
    /// stream repeated at every step (B*H values) when variational ("locked" dropout).
    func dropout(_ out: Values, mask: Values, into dropped: Values, count: Int, p: Double, period: Int,
                 layer l: Int, layers: Int) throws(Failure) {
        try drawMask(mask, count: count, p: p, period: period, seed: MaskSeeds.dropoutSlot(layer: l, layers: layers))
        try multiply(out, by: mask, into: dropped, count: count)
    }

    /// The decoder: logits [rows, V] = top [rows, H] times decoder.weight^T plus decoder.bias.
    func decode(_ top: Values, rows: Int, parameters p: Values, layout: ParameterLayout, hidden H: Int, vocabulary V: Int,
                into logits: Values) throws(Failure) {
        try fillRows(logits, rows: rows, count: V, with: advanced(p, byFloats: layout.offset("decoder.bias")))
        try addProductTransposed(m: rows, n: V, k: H, a: top, lda: H, b: advanced(p, byFloats: layout.offset("decoder.weight")),
                                 ldb: H, c: logits, ldc: V)
    }

    /// The decoder's backward from dL/dlogits [rows, V]: its weight's and bias's gradients added into
    /// `g`, and dL/dtop [rows, H] into `dTop`.
    func decoderBackward(_ dLogits: Values, top: Values, rows: Int, parameters p: Values, gradients g: Values,
                         layout: ParameterLayout, hidden H: Int, vocabulary V: Int, into dTop: Values) throws(Failure) {
        let weight = layout.offset("decoder.weight")
        try addWeightGradient(m: V, n: H, k: rows, a: dLogits, lda: V, b: top, ldb: H, c: advanced(g, byFloats: weight), ldc: H)
        try addColumnSums(dLogits, rows: rows, cols: V, into: advanced(g, byFloats: layout.offset("decoder.bias")))
        try product(m: rows, n: H, k: V, a: dLogits, lda: V, b: advanced(p, byFloats: weight), ldb: H, c: dTop, ldc: H)
    }
}

/// The CPU's: BLAS and the C kernels, split among the threads; the masks from the forward's seeds.
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
}
