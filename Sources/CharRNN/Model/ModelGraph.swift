/// The model graph, written once over the few operations the devices need: AWD-LSTM's weight drop and
/// its gradient, the recurrent layers with dropout after each (and their backward), and the decoder's
/// forward and backward. CharRNNModel runs it with CPUGraphOperations (pointers, BLAS, the C kernels)
/// and its RecurrentLayers, DeviceModel with DeviceGraphOperations (device pointers, cuBLAS, the CUDA
/// kernels) and its DeviceRecurrentLayers.
/// What differs between the devices stays with each model, as a speed-up of one of them: how layer 0's
/// input is built (the CPU folds the embedding into a table, a GPU gathers rows), a GPU's fused
/// inference step, the CPU's packed decoder for small steps, and the embedding's gradient.
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
    func zero(_ x: Values, count: Int) throws(Failure)
    /// T steps of B rows, `width` values each, `lds` apart in `source` and `ldd` apart in `destination`;
    /// reversed, step t comes from step T-1-t (a reverse direction's time order).
    func copyRows(T: Int, B: Int, width: Int, from source: Values, lds: Int, to destination: Values, ldd: Int,
                  reversed: Bool) throws(Failure)
    /// y += x, T steps of B packed rows of `width`; reversed, step t of y gets step T-1-t of x.
    func addRows(T: Int, B: Int, width: Int, from x: Values, into y: Values, reversed: Bool) throws(Failure)
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

    /// The decoder: logits [rows, V] = top [rows, H] times decoder.weight^T plus decoder.bias (or
    /// another linear `head`'s, as the classifier's).
    func decode(_ top: Values, rows: Int, parameters p: Values, layout: ParameterLayout, hidden H: Int, vocabulary V: Int,
                into logits: Values, head: String = "decoder") throws(Failure) {
        try fillRows(logits, rows: rows, count: V, with: advanced(p, byFloats: layout.offset(head + ".bias")))
        try addProductTransposed(m: rows, n: V, k: H, a: top, lda: H, b: advanced(p, byFloats: layout.offset(head + ".weight")),
                                 ldb: H, c: logits, ldc: V)
    }

    /// The decoder's backward from dL/dlogits [rows, V]: its weight's and bias's gradients added into
    /// `g`, and dL/dtop [rows, H] into `dTop`.
    func decoderBackward(_ dLogits: Values, top: Values, rows: Int, parameters p: Values, gradients g: Values,
                         layout: ParameterLayout, hidden H: Int, vocabulary V: Int, into dTop: Values,
                         head: String = "decoder") throws(Failure) {
        let weight = layout.offset(head + ".weight")
        try addWeightGradient(m: V, n: H, k: rows, a: dLogits, lda: V, b: top, ldb: H, c: advanced(g, byFloats: weight), ldc: H)
        try addColumnSums(dLogits, rows: rows, cols: V, into: advanced(g, byFloats: layout.offset(head + ".bias")))
        try product(m: rows, n: H, k: V, a: dLogits, lda: V, b: advanced(p, byFloats: weight), ldb: H, c: dTop, ldc: H)
    }
}

/// A recurrent layer as the graph runs it: the CPU's RecurrentLayer, a GPU's DeviceRecurrentLayer.
protocol GraphLayer: AnyObject {
    associatedtype Values
    /// What the layer reads: dense rows, or layer 0's device-specific forms (LayerInput, DeviceLayerInput).
    associatedtype Input
    associatedtype Failure: Error
    static func rows(_ values: Values) -> Input
    /// T steps of B streams from `state` (overwritten with the last step's); returns the outputs [T*B, H].
    func run(_ input: Input, T: Int, B: Int, params: Values, state: Values, training: Bool) throws(Failure) -> Values
    /// Backward through the last run from dOutput [T*B, H]: the weight gradients added into `grads` and,
    /// when asked, dInput [T*B, I] returned.
    func runBackward(_ input: Input, T: Int, B: Int, params: Values, grads: Values, dOutput: Values,
                     needInputGradient: Bool) throws(Failure) -> Values?
}

/// Dropout after each layer, in training: per layer a mask and the dropped output, reserved for T*B*H.
struct LayerDropout<Values> {
    let p: Double
    /// One mask per sequence, repeated at every step ("locked" dropout), instead of one per value.
    let variational: Bool
    let masks: [Values]
    let dropped: [Values]
}

extension GraphOperations {
    /// The recurrent layers (hidden size H) over T steps of B streams, from layer 0's input `first`;
    /// each layer's output, after dropout in training, is the next one's input. Returns the top's output
    /// and each layer's input, which `layersBackward` reads.
    func layers<Layer: GraphLayer>(_ layers: [Layer], first: Layer.Input, T: Int, B: Int, hidden H: Int, params p: Values,
                                   states: [Values], training: Bool, dropout: LayerDropout<Values>?)
    throws(Failure) -> (top: Values, inputs: [Layer.Input]) where Layer.Values == Values, Layer.Failure == Failure {
        StepPhases.mark(.recurrentForward)
        let n = T * B * H
        var input = first, inputs: [Layer.Input] = [], out: Values? = nil
        for (l, layer) in layers.enumerated() {
            inputs.append(input)
            var o = try layer.run(input, T: T, B: B, params: p, state: states[l], training: training)
            if let dropout {
                try self.dropout(o, mask: dropout.masks[l], into: dropout.dropped[l], count: n, p: dropout.p,
                                 period: dropout.variational ? B * H : n, layer: l, layers: layers.count)
                o = dropout.dropped[l]
            }
            out = o
            input = Layer.rows(o)
        }
        return (out!, inputs)
    }

    /// Backward through `layers` from dL/d(top output) `dTop` [T*B, H], top layer first: through each
    /// layer's dropout, then the layer. Returns dL/d(layer 0's input) when `firstInputGradient` (the
    /// embedding's rows need it), else nil.
    func layersBackward<Layer: GraphLayer>(_ layers: [Layer], inputs: [Layer.Input], dTop: Values, T: Int, B: Int, hidden H: Int,
                                           params p: Values, gradients g: Values, dropoutMasks: [Values]?,
                                           firstInputGradient: Bool) throws(Failure) -> Values?
    where Layer.Values == Values, Layer.Failure == Failure {
        var dOut = dTop
        for l in stride(from: layers.count - 1, through: 0, by: -1) {
            StepPhases.mark(.recurrentBackward)
            if let dropoutMasks { try multiply(dOut, by: dropoutMasks[l], into: dOut, count: T * B * H) }
            let dIn = try layers[l].runBackward(inputs[l], T: T, B: B, params: p, grads: g, dOutput: dOut,
                                                needInputGradient: l > 0 || firstInputGradient)
            if l == 0 { return dIn }
            dOut = dIn!
        }
        return nil
    }
}
