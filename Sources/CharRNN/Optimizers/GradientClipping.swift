import CCharRNNKernels

public enum GradientClipping {
    /// torch.nn.utils.clip_grad_norm_: scales all gradients by maxNorm / (norm + 1e-6) when the global
    /// L2 norm exceeds maxNorm. Returns the norm before clipping.
    @discardableResult
    public static func clipGlobalNorm(_ g: FloatBuffer, maxNorm: Float) -> Double {
        let norm = crn_sumsq(g.pointer, g.count).squareRoot()
        let coef = Double(maxNorm) / (norm + 1e-6)
        if coef < 1 {
            let c = Float(coef), p = g.pointer
            for i in 0..<g.count { p[i] *= c }
        }
        return norm
    }

    /// torch.nn.utils.clip_grad_value_: clamps every gradient to [-value, value].
    public static func clipValue(_ g: FloatBuffer, value: Float) {
        let p = g.pointer
        for i in 0..<g.count { p[i] = min(max(p[i], -value), value) }
    }

    public static func norm(_ g: FloatBuffer) -> Double { crn_sumsq(g.pointer, g.count).squareRoot() }
}
