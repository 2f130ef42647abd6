import CCharRNNKernels

package enum GradientClipping {
    /// torch.nn.utils.clip_grad_norm_: scales all gradients by maxNorm / (norm + 1e-6) when the global
    /// L2 norm exceeds maxNorm. Returns the norm before clipping.
    @discardableResult
    package static func clipGlobalNorm(_ g: FloatBuffer, maxNorm: Float) -> Double {
        let norm = Self.norm(g)
        scale(g, norm: norm, maxNorm: maxNorm)
        return norm
    }

    /// Scales `g`, whose global norm is `norm`, down to `maxNorm` when it is above it.
    static func scale(_ g: FloatBuffer, norm: Double, maxNorm: Float) {
        let coef = Double(maxNorm) / (norm + 1e-6)
        if coef < 1 {
            let c = Float(coef), p = g.pointer
            Parallel.forRanges(g.count) { r in for i in r { p[i] *= c } }
        }
    }

    /// torch.nn.utils.clip_grad_value_: clamps every gradient to [-value, value].
    package static func clipValue(_ g: FloatBuffer, value: Float) {
        let p = g.pointer
        for i in 0..<g.count { p[i] = min(max(p[i], -value), value) }
    }

    /// The global L2 norm; partial sums are added in a fixed order, so it does not depend on timing.
    package static func norm(_ g: FloatBuffer) -> Double {
        let parts = Parallel.parts(floats: g.count), p = g.pointer
        var partial = [Double](repeating: 0, count: parts)
        partial.withUnsafeMutableBufferPointer { sums in
            let sp = sums.baseAddress!
            Parallel.run(parts) { k in
                let r = Parallel.range(part: k, of: parts, total: g.count)
                sp[k] = crn_sumsq(p + r.lowerBound, r.count)
            }
        }
        return partial.reduce(0, +).squareRoot()
    }
}
