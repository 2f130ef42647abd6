/// The update rules, each exactly as PyTorch's torch.optim defines it (default hyperparameters),
/// over the flat parameter and gradient buffers. An optimizer is registered here: its case and its rule.
public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
    case sgd, adam, adamw, rmsprop, adagrad

    /// Its rule (Optimizers/<Rule>.swift): the C kernel, its CUDA twin and the hyperparameters they take.
    var rule: any UpdateRule.Type {
        switch self {
        case .sgd: return SGD.self
        case .adam, .adamw: return Adam.self
        case .rmsprop: return RMSProp.self
        case .adagrad: return Adagrad.self
        }
    }

    /// Keeps a second moment (Adam and AdamW).
    var hasSecondMoment: Bool { rule.keepsSecondMoment }
}

package final class Optimizer {
    public let kind: OptimizerKind
    public let count: Int
    /// SGD momentum (0 = plain SGD).
    public var momentum: Float = 0
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float
    /// RMSProp's smoothing constant (torch's alpha).
    public var alpha: Float = 0.99
    /// AdamW's decoupled weight decay (torch.optim.AdamW's default).
    public var weightDecay: Float = 0.01
    /// Updates applied so far (Adam's bias correction uses it).
    public private(set) var step: Int = 0
    /// First moment (Adam), momentum buffer (SGD), square average (RMSProp), or sum of squares (Adagrad).
    public let m: FloatBuffer
    /// Adam's second moment.
    public let v: FloatBuffer

    public init(kind: OptimizerKind, count: Int) {
        self.kind = kind
        self.count = count
        epsilon = kind == .adagrad ? 1e-10 : 1e-8
        m = FloatBuffer(count: count)
        v = FloatBuffer(count: kind.hasSecondMoment ? count : 0)
    }

    /// The state to save for an exact resume.
    public var stateTensors: [(String, [Float])] {
        var t = [("optimizer.m", m.array)]
        if kind.hasSecondMoment { t.append(("optimizer.v", v.array)) }
        return t
    }

    public func restore(step: Int, m mValues: [Float], v vValues: [Float]?) {
        self.step = step
        for i in 0..<count { m[i] = mValues[i] }
        if kind.hasSecondMoment, let vValues { for i in 0..<count { v[i] = vValues[i] } }
    }

    public func update(parameters: FloatBuffer, gradients: FloatBuffer, learningRate lr: Float) {
        step += 1
        let rule = kind.rule.init(self), scalars = UpdateScalars(self).values(step: step, learningRate: lr)
        let p = parameters.pointer, g = gradients.pointer, m = self.m.pointer, v = kind.hasSecondMoment ? self.v.pointer : nil
        scalars.withUnsafeBufferPointer { s in
            Parallel.forRanges(count) { r in
                rule.update(count: r.count, p: p + r.lowerBound, g: g + r.lowerBound, m: m + r.lowerBound,
                            v: v.map { $0 + r.lowerBound }, scalars: s.baseAddress!)
            }
        }
    }
}
