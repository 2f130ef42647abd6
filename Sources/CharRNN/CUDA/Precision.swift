/// `--precision`: how a GPU's matrix products treat their fp32 operands. Only the products change:
/// parameters, activations, gradients and optimizer moments are stored in fp32 whatever is chosen, and
/// charrnn's own kernels compute in fp32, so a checkpoint is the same file (bf16 adds transient
/// bfloat16 copies: two bytes a parameter, and the largest product's operands).
public enum Precision: String, CaseIterable, Sendable, CustomStringConvertible {
    /// IEEE single products (cuBLAS's default math, TF32 off): the CPU's results to about 1e-6.
    case fp32
    /// Operands rounded to TensorFloat-32 (10 mantissa bits) on the tensor cores, fp32 sums.
    case tf32
    /// Operands rounded to bfloat16 (7 mantissa bits, to nearest) on the tensor cores, fp32 sums: the
    /// products read bfloat16 copies (CUDADevice.withHalfCopy, the kernel to_bf16), made for the step.
    case bf16

    public init(parsing text: String) throws {
        guard let p = Precision(rawValue: text) else {
            throw CharRNNError.invalidOption("--precision must be fp32, tf32 or bf16 (got '\(text)')")
        }
        self = p
    }

    public var description: String { rawValue }

    /// x as bfloat16 (its top 16 bits after rounding to nearest, ties to even; a NaN stays a NaN, quiet),
    /// as the kernel to_bf16 makes the operands of bf16 products.
    public static func bfloat16Bits(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        if u & 0x7fff_ffff > 0x7f80_0000 { return UInt16(truncatingIfNeeded: (u >> 16) | 0x40) }
        return UInt16(truncatingIfNeeded: (u &+ 0x7fff &+ ((u >> 16) & 1)) >> 16)
    }

    /// The largest relative difference from the CPU's fp32 that ModelChecks accepts at this precision:
    /// 1e-4 in fp32 (the bar). For the rounded products, about three times the worst seen on the
    /// emulated device, which rounds every product's operands to nearest (PrecisionTests): tf32 1.2e-3
    /// and bf16 1.5e-2 there, so a GPU that truncates the operands (twice the error) also passes.
    public var tolerance: Double {
        switch self {
        case .fp32: return KernelChecks.tolerance
        case .tf32: return 4e-3
        case .bf16: return 4e-2
        }
    }
}
