import CCharRNNKernels

/// Each parameter's root-mean-square gradient over segments of a text the model was trained on: the
/// scale dynamic evaluation divides its steps by, and the weight of its pull back toward the trained
/// values (Krause et al. 2018, "Dynamic Evaluation of Neural Sequence Models", section 5).
///
/// A gradient is that of one segment's mean loss, one stream (batch 1), without dropout: the same kind
/// of gradient dynamic evaluation then steps with, so its learning rate is in units of this RMS.
package struct GradientStatistics: Sendable {
    package let rms: [Float]
    /// Segments whose gradients were averaged.
    package let segments: Int
    /// The mean of `rms` over every parameter.
    package let meanRMS: Float

    package init(rms: [Float], segments: Int) {
        self.rms = rms
        self.segments = segments
        meanRMS = Float(rms.reduce(0.0) { $0 + Double($1) } / Double(max(rms.count, 1)))
    }

    /// Reads `streams` stretches spread evenly over `ids`, each from the zero state, `segmentsPerStream`
    /// segments of `segment` characters in a row, and averages the squared gradient of every segment.
    /// The model's parameters are left as they were.
    package static func measure(_ model: CharRNNModel, ids: [Int32], segment: Int, streams: Int = 8,
                               segmentsPerStream: Int = 64, check: () throws -> Void = {}) throws -> GradientStatistics {
        guard segment >= 1, streams >= 1, segmentsPerStream >= 1 else {
            throw CharRNNError.invalidOption("gradient statistics need a segment, a stream and a segment per stream")
        }
        guard ids.count > segment else {
            throw CharRNNError.invalidOption("the text for gradient statistics needs more than \(segment) characters (has \(ids.count))")
        }
        let n = model.parameterCount
        var sum = [Float](repeating: 0, count: n)
        let stretch = (ids.count - 1) / streams
        let perStream = max(1, min(segmentsPerStream, stretch / segment))
        let state = model.hiddenState(batch: 1)
        var rng = RandomGenerator(seed: 0)
        var count = 0
        model.thaw()
        for s in 0..<streams {
            state.reset()
            let start = s * stretch
            for k in 0..<perStream {
                let from = start + k * segment
                guard from + segment < ids.count else { break }
                try check()
                let inputs = Array(ids[from..<from + segment]), targets = Array(ids[from + 1...from + segment])
                _ = inputs.withUnsafeBufferPointer { x in
                    targets.withUnsafeBufferPointer { y in
                        model.lossAndGradients(x.baseAddress!, targets: y.baseAddress!, T: segment, B: 1, state: state,
                                               rng: &rng, training: false)
                    }
                }
                sum.withUnsafeMutableBufferPointer { crn_add_squares(n, $0.baseAddress!, model.gradients.pointer) }
                count += 1
            }
        }
        let scale = 1 / Float(max(count, 1))
        return GradientStatistics(rms: sum.map { ($0 * scale).squareRoot() }, segments: count)
    }
}
