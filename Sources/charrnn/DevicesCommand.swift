import ArgumentParser
import CharRNN

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the devices charrnn can run on: the CPU and any NVIDIA GPU, with the CUDA libraries found.",
        discussion: """
        The GPU path needs the NVIDIA driver (libcuda), NVRTC and cuBLAS, all loaded at run time. They are \
        looked for in the loader's path, the usual CUDA folders and the NVIDIA wheels of Python \
        environments (PyTorch's CUDA builds bring NVRTC and cuBLAS; so do 'pip install nvidia-cuda-nvrtc \
        nvidia-cublas'). CHARRNN_LIBCUDA, CHARRNN_NVRTC and CHARRNN_CUBLAS name the files instead.

        --check compiles charrnn's kernels for each GPU and runs every kernel against its CPU twin on random \
        inputs, then the GPU model against the CPU model (loss, every gradient, state and logits of each \
        cell), three training steps of each optimizer and generation replayed from a CUDA graph against \
        the same generation launched step by step; it fails when any differs by more than 1e-4 \
        relative, or when there is no usable GPU. The products and the model checks then run again with \
        --precision tf32 and bf16, each against its own looser bound, and report the agreement they reach.
        """
    )

    @Flag(help: "Run every GPU kernel against the CPU's and report the largest differences.")
    var check = false

    func run() throws {
        Terminal.write("cpu: \(CPUCount.usable) usable core\(CPUCount.usable == 1 ? "" : "s")\n")
        let env = CUDAEnvironment.probe()
        func line(_ what: String, _ part: CUDAEnvironment.Part) {
            switch part {
            case .found(let path, let version): Terminal.write("\(what) \(version): \(path)\n")
            case .missing(let why): Terminal.write("\(what): \(why.replacingOccurrences(of: "CUDA: ", with: ""))\n")
            }
        }
        line("NVIDIA driver", env.driver)
        line("NVRTC", env.nvrtc)
        line("cuBLAS", env.cublas)
        Terminal.write("MPI: \(RankGroup.probe())\n")
        let gpus = (try? env.devices.get()) ?? []
        for gpu in gpus {
            let memory = Double(gpu.totalMemory) / Double(1 << 30)
            Terminal.write("cuda:\(gpu.ordinal): \(gpu.name), \(fmt(memory, 1)) GiB, compute capability "
                           + "\(gpu.computeCapability.major).\(gpu.computeCapability.minor), \(gpu.multiprocessors) SMs\n")
        }
        if let why = env.unusableBecause {
            if check { throw CharRNNError.cuda("--check needs a usable GPU: \(why)") }
            Terminal.write("GPU: none usable, so charrnn runs on the CPU\n")
            return
        }
        guard check else { return }
        var failures = 0
        for gpu in gpus {
            let started = monotonicSeconds()
            let device = try CUDADevice(ordinal: gpu.ordinal)
            Terminal.write("cuda:\(gpu.ordinal): kernels \(device.moduleWasCached ? "loaded from the cache" : "compiled") "
                           + "in \(fmt(monotonicSeconds() - started, 2)) s\n")
            func report(_ outcomes: [KernelChecks.Outcome]) {
                for outcome in outcomes {
                    Terminal.write("  \(outcome.passed ? "ok  " : "FAIL") \(outcome.name): relative error \(fmt(outcome.relativeError, 9))\n")
                    if !outcome.passed { failures += 1 }
                }
            }
            report(try KernelChecks.run(on: device) + ModelChecks.run(on: device))
            for precision in [Precision.tf32, .bf16] {
                let rounded = try CUDADevice(ordinal: gpu.ordinal, precision: precision)
                let outcomes = try KernelChecks.products(on: rounded) + ModelChecks.run(on: rounded)
                let worst = outcomes.map(\.relativeError).max() ?? 0
                Terminal.write("cuda:\(gpu.ordinal) with --precision \(precision): worst relative error \(fmt(worst, 6)) "
                               + "(bound \(precision.tolerance))\n")
                report(outcomes)
            }
        }
        if failures > 0 { throw CharRNNError.cuda("\(failures) kernel check\(failures == 1 ? "" : "s") failed") }
        Terminal.write("all kernel checks passed\n")
    }
}
