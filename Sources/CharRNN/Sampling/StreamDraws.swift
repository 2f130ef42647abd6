import CCharRNNKernels

/// The random numbers of one generated text: the draw for its k-th character is
/// crn_uniform(crn_stream_seed(seed, stream), k), a hash of three numbers. The GPU's sampling kernels
/// draw the same, so one seed rule holds everywhere: a seed and a stream number give the same draws on
/// the CPU and a GPU, alone or beside other streams, in the command line, the library and the server
/// (the texts can still part where the two devices' logits round differently at a draw's edge).
public struct StreamDraws: Sendable, Equatable {
    private let streamSeed: UInt64
    /// Characters generated so far: the counter of the next draw.
    public private(set) var step: UInt64 = 0

    public init(seed: UInt64, stream: Int = 0) {
        streamSeed = crn_stream_seed(seed, UInt64(stream))
    }

    /// This step's draw, uniform in [0, 1) with 24 bits. A greedy step draws nothing but moves on too, as
    /// the GPU's counter does.
    var current: Float { crn_uniform(streamSeed, step) }

    mutating func advance() { step += 1 }
}
