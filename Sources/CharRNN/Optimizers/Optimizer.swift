#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The update rules, each exactly as PyTorch's torch.optim defines it (default hyperparameters),
/// over the flat parameter and gradient buffers.
public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
    case sgd, adam, adamw, rmsprop, adagrad

    /// Keeps a second moment (Adam and AdamW).
    var hasSecondMoment: Bool { self == .adam || self == .adamw }
}

public final class Optimizer {
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
        Parallel.forRanges(count) { range in
            self.update(range, parameters.pointer, gradients.pointer, lr)
        }
    }

    private func update(_ range: Range<Int>, _ p: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ lr: Float) {
        let m = self.m.pointer
        switch kind {
        case .sgd:
            if momentum == 0 {
                for i in range { p[i] -= lr * g[i] }
            } else {
                let mu = momentum
                if step == 1 {
                    for i in range { m[i] = g[i]; p[i] -= lr * m[i] }
                } else {
                    for i in range { m[i] = mu * m[i] + g[i]; p[i] -= lr * m[i] }
                }
            }
        case .adam, .adamw:
            if kind == .adamw {
                // Decoupled: the weights shrink by lr * weight_decay before the Adam step.
                let shrink = 1 - lr * weightDecay
                for i in range { p[i] *= shrink }
            }
            let v = self.v.pointer, b1 = beta1, b2 = beta2, eps = epsilon
            let bc1 = 1 - powf(b1, Float(step)), bc2 = 1 - powf(b2, Float(step))
            let stepSize = lr / bc1, bc2Root = bc2.squareRoot()
            for i in range {
                let gi = g[i]
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                p[i] -= stepSize * m[i] / (v[i].squareRoot() / bc2Root + eps)
            }
        case .rmsprop:
            let a = alpha, eps = epsilon
            for i in range {
                let gi = g[i]
                m[i] = a * m[i] + (1 - a) * gi * gi
                p[i] -= lr * gi / (m[i].squareRoot() + eps)
            }
        case .adagrad:
            let eps = epsilon
            for i in range {
                let gi = g[i]
                m[i] += gi * gi
                p[i] -= lr * gi / (m[i].squareRoot() + eps)
            }
        }
    }
}
