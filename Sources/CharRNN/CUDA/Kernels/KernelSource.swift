/// CUDA C source of charrnn's own kernels, compiled at run time by NVRTC (see NVRTCCompiler).
///
/// Every kernel is written in the subset that a host C++ compiler also accepts once the prelude of
/// `KernelSource.hostPrelude` defines CUDA's names: one thread per element or row, no shared memory,
/// no barriers, no atomics. The tests compile the same text for the CPU and run it element by element
/// (an emulated device), so each kernel is checked against the C kernels of CCharRNNKernels without a GPU.
/// Faster kernels that need the GPU's own features are checked on a GPU (`charrnn devices --check`).
///
/// Conventions, as in charrnn_kernels.h: row-major matrices, time-major rows (t*B + b), PyTorch's gate
/// order; a launch covers `count` threads in 1-D blocks of `KernelSource.blockSize`.
package struct KernelSource: Sendable {
    /// The file-like name of this part ("lstm"), for messages.
    package let name: String
    /// The kernels it defines (extern "C" names), in the order of the code.
    package let kernels: [String]
    package let code: String

    init(name: String, code: String) {
        self.name = name
        self.code = code
        let opening = "extern \"C\" __global__ void "
        kernels = code.components(separatedBy: opening).dropFirst().map { String($0.prefix { $0 != "(" }) }
    }

    /// Threads per block for the element-wise launches.
    package static let blockSize = 256

    /// Definitions both compilers read first.
    static let common = """
    #define CRN_THREAD ((long)blockIdx.x * (long)blockDim.x + (long)threadIdx.x)
    __device__ __forceinline__ float crn_sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

    """

    /// What a host C++ compiler needs to read the kernels: CUDA's qualifiers as nothing, the thread
    /// coordinates as globals the emulator sets before each call.
    package static let hostPrelude = """
    #include <math.h>
    #include <stdint.h>
    #define __global__
    #define __device__
    #define __forceinline__ inline
    #define __restrict__
    #define __fmul_rn(a, b) ((a) * (b))
    #define __fmaf_rn(a, b, c) __builtin_fmaf(a, b, c)
    static inline unsigned __float_as_uint(float f) { unsigned u; __builtin_memcpy(&u, &f, 4); return u; }
    struct crn_dim3 { unsigned x, y, z; };
    extern "C" { crn_dim3 threadIdx, blockIdx, blockDim, gridDim; }

    """

    /// Every part, in the order they are concatenated into one module: the step kernels' helpers first
    /// (each cell's fused step uses them), then each cell's part (Cells/Cells.swift), then the rest, with
    /// each optimizer's (OptimizerKind). Cases that share a part (rnn_tanh and rnn_relu, Adam and AdamW)
    /// give it once.
    package static let all: [KernelSource] = [.step] + once(CellKind.allCases.map(\.kernels))
        + [.embedding, .loss, .dropout, .reduction, .clipping] + once(OptimizerKind.allCases.map { $0.rule.kernels })
        + [.elementwise, .sampling, .sequence]

    /// `parts` with each name once, in their first order.
    private static func once(_ parts: [KernelSource]) -> [KernelSource] {
        parts.reduce(into: []) { kept, part in
            if !kept.contains(where: { $0.name == part.name }) { kept.append(part) }
        }
    }

    /// The module as NVRTC compiles it.
    package static var moduleSource: String { common + all.map(\.code).joined(separator: "\n") }

    package static var kernelNames: [String] { all.flatMap(\.kernels) }
}
