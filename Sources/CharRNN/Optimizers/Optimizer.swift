import CCharRNNKernels
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
        Parallel.forRanges(count) { range in
            self.update(range, parameters.pointer, gradients.pointer, lr)
        }
    }

    /// The rule over one thread's range (the loops are C kernels: see optimizer.c).
    private func update(_ range: Range<Int>, _ p: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ lr: Float) {
        let n = range.count, p = p + range.lowerBound, g = g + range.lowerBound, m = self.m.pointer + range.lowerBound
        switch kind {
        case .sgd:
            crn_sgd_update(n, p, g, m, lr, momentum, step == 1 ? 1 : 0)
        case .adam, .adamw:
            // AdamW: decoupled, the weights shrink by lr * weight_decay before the Adam step.
            let shrink: Float = kind == .adamw ? 1 - lr * weightDecay : 1
            let bc1 = 1 - powf(beta1, Float(step)), bc2 = 1 - powf(beta2, Float(step))
            crn_adam_update(n, p, g, m, self.v.pointer + range.lowerBound, beta1, beta2, lr / bc1, bc2.squareRoot(),
                            epsilon, shrink)
        case .rmsprop:
            crn_rmsprop_update(n, p, g, m, lr, alpha, epsilon)
        case .adagrad:
            crn_adagrad_update(n, p, g, m, lr, epsilon)
        }
    }
}
