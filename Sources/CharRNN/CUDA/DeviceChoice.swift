/// `--device`: where a command runs. `auto` (the command-line tool's default) takes a usable GPU and
/// otherwise the CPU; `cuda` or `cuda:N` insist on one; `cpu` stays on the CPU.
public enum DeviceChoice: Equatable, Sendable, CustomStringConvertible {
    case auto
    case cpu
    case cuda(Int)

    public init(parsing text: String) throws {
        switch text {
        case "auto": self = .auto
        case "cpu": self = .cpu
        case "cuda", "gpu": self = .cuda(0)
        default:
            guard text.hasPrefix("cuda:"), let n = Int(text.dropFirst(5)), n >= 0 else {
                throw CharRNNError.invalidOption("--device must be auto, cpu, cuda or cuda:N (got '\(text)')")
            }
            self = .cuda(n)
        }
    }

    /// Under mpirun, one rank per GPU: the rank with local index `localRank` (among the ranks on its
    /// machine) takes cuda:N+localRank for `cuda:N`, and `auto` takes cuda:localRank where there is a GPU.
    public func forRank(localRank: Int) -> DeviceChoice {
        switch self {
        case .cpu: return .cpu
        case .cuda(let n): return .cuda(n + localRank)
        case .auto: return CUDAEnvironment.probe().unusableBecause == nil ? .cuda(localRank) : .cpu
        }
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .cpu: return "cpu"
        case .cuda(let n): return "cuda:\(n)"
        }
    }

    /// The device to run on, nil for the CPU. `cuda` without a usable GPU throws the reason;
    /// `auto` without one returns nil. `precision` is --precision: fp32, or tf32 or bf16 for the GPU's
    /// products; `auto` that falls back to the CPU computes in fp32.
    public func open(precision text: String = "fp32") throws -> ComputeDevice? {
        try open(precision: try Precision(parsing: text))
    }

    /// The same, with the precision already parsed.
    public func open(precision: Precision) throws -> ComputeDevice? {
        switch self {
        case .cpu:
            if precision != .fp32 {
                throw CharRNNError.invalidOption("--precision \(precision) is for a GPU (--device cuda); the CPU computes in fp32")
            }
            return nil
        case .cuda(let n):
            if let why = CUDAEnvironment.probe().unusableBecause { throw CharRNNError.cuda("no usable GPU: \(why)") }
            return try CUDADevice(ordinal: n, precision: precision)
        case .auto:
            guard CUDAEnvironment.probe().unusableBecause == nil else { return nil }
            return try CUDADevice(ordinal: 0, precision: precision)
        }
    }
}
