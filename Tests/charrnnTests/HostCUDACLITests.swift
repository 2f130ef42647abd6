import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// The host stand-in for libcuda, NVRTC and cuBLAS (Tests/HostCUDA/), built by
/// scripts/host-cuda.sh once per test process, and the variables the script says to set.
enum HostCUDA {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    private static let folder = FileManager.default.temporaryDirectory.appendingPathComponent("charrnn-host-cuda-\(UUID().uuidString)").path

    private static func build(_ options: [String]) throws -> [String: String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [root + "/scripts/host-cuda.sh"] + options + [folder]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let said = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw SetupFailure(description: "scripts/host-cuda.sh failed: \(log)") }
        var variables: [String: String] = [:]
        for line in said.split(separator: "\n") where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let equals = assignment.firstIndex(of: "=") else { continue }
            variables[String(assignment[..<equals])] = String(assignment[assignment.index(after: equals)...])
                .trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        return variables
    }

    private static let plain = Result { try build([]) }
    private static let sanitized = Result { try build(["--sanitize"]) }

    /// The variables that point charrnn at the stand-in; `cache` replaces its kernel cache. `sanitized`:
    /// kernels compiled with AddressSanitizer, its runtime preloaded.
    static func environment(cache: String? = nil, sanitized: Bool = false) throws -> [String: String] {
        var variables = try (sanitized ? Self.sanitized : plain).get()
        if let cache { variables["CHARRNN_CACHE_DIR"] = cache }
        return variables
    }
}

/// The binary's whole GPU path (CUDADevice over the driver API, NVRTC and cuBLAS, the kernel cache, CUDA
/// graphs, `--device cuda` in each command, the GPU's error lines) run against the host stand-in for
/// those libraries, which checks every address a copy, product or launch uses. It cannot tell speed,
/// nor how a real GPU differs: `charrnn devices --check` on one does.
final class HostCUDACLITests: CLITestCase {
    private var cuda: [String: String] = [:]

    override func setUpWithError() throws {
        try super.setUpWithError()
        cuda = try HostCUDA.environment()
    }

    private func on(_ extra: [String: String]) -> [String: String] { cuda.merging(extra) { $1 } }

    func testDevicesListsTheGPUAndItsChecksPass() throws {
        let listed = try charrnn(["devices"], environment: cuda)
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("cuda:0: charrnn host CUDA stand-in, 16.0 GiB, compute capability 9.0"), listed.stdout)
        XCTAssertTrue(listed.stdout.contains("NVRTC 99.0: "), listed.stdout)
        let checked = try charrnn(["devices", "--check"], environment: cuda)
        XCTAssertEqual(checked.status, 0, checked.stdout + checked.stderr)
        XCTAssertTrue(checked.stdout.contains("all kernel checks passed"), checked.stdout)
        XCTAssertTrue(checked.stdout.contains("chunks replayed from a captured graph"), checked.stdout)
        XCTAssertFalse(checked.stdout.contains("FAIL"), checked.stdout)
        // Each launch's threads from the last to the first: a kernel whose threads read what others of the
        // same launch write (a race on a GPU, hidden by running them in order) would fail its check.
        let reversed = try charrnn(["devices", "--check"], environment: on(["CHARRNN_HOST_CUDA_THREAD_ORDER": "reverse"]))
        XCTAssertEqual(reversed.status, 0, reversed.stdout + reversed.stderr)
        XCTAssertTrue(reversed.stdout.contains("all kernel checks passed"), reversed.stdout)
        // bf16 products read bfloat16 operands (cublasGemmEx with CUDA_R_16BF, which the stand-in widens):
        // their worst error is bf16's, above tf32's, within its bound.
        func worst(_ precision: String) -> Double? {
            checked.stdout.split(separator: "\n").first { $0.contains("with --precision \(precision): worst relative error ") }
                .flatMap { Double($0.split(separator: " ")[7]) }
        }
        let tf32 = try XCTUnwrap(worst("tf32"), checked.stdout), bf16 = try XCTUnwrap(worst("bf16"), checked.stdout)
        XCTAssertGreaterThan(bf16, 3 * tf32, checked.stdout)
        XCTAssertLessThan(bf16, 0.04, "within the bound, Precision.bf16.tolerance")
    }

    /// The GPU path computes what the CPU does, so the losses agree to the printed digits; a run saved on
    /// one resumes on the other and goes on as an uninterrupted run would.
    func testTrainingMatchesTheCPUAndResumesOnEitherDevice() throws {
        let gpu = dir + "/gpu", cpu = dir + "/cpu"
        var r = try charrnn(["train", text, "-o", gpu, "--max-steps", "40", "--eval-every", "20", "--device", "cuda"] + small,
                            environment: cuda)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("on charrnn host CUDA stand-in (cuda:0)"), r.stdout)
        XCTAssertEqual(try train(cpu, steps: 60).status, 0)
        let cpuLosses = try csvLosses(cpu), gpuLosses = try csvLosses(gpu)
        XCTAssertEqual(gpuLosses.count, 4)
        for (a, b) in zip(gpuLosses, cpuLosses) { XCTAssertEqual(a, b, accuracy: 1e-4 * b) }
        r = try charrnn(["train", "--resume", gpu, "--max-steps", "60", "--device", "cpu"], environment: cuda)
        XCTAssertEqual(r.status, 0, r.stderr)
        let resumed = try csvLosses(gpu)
        XCTAssertEqual(resumed.count, cpuLosses.count)
        for (a, b) in zip(resumed, cpuLosses) { XCTAssertEqual(a, b, accuracy: 1e-4 * b) }

        let back = dir + "/back"
        XCTAssertEqual(try train(back, steps: 40).status, 0)
        r = try charrnn(["train", "--resume", back, "--max-steps", "60", "--device", "cuda"], environment: cuda)
        XCTAssertEqual(r.status, 0, r.stderr)
        for (a, b) in zip(try csvLosses(back), cpuLosses) { XCTAssertEqual(a, b, accuracy: 1e-4 * b) }
    }

    /// With dropout, weight drop and embedding dropout the GPU draws the CPU's masks from the same seeds,
    /// so the losses still agree.
    func testRegularisedTrainingMatchesTheCPU() throws {
        let regularisers = ["--dropout", "0.3", "--weight-drop", "0.2", "--embed-dropout", "0.1", "--variational-dropout"]
        for device in ["cuda", "cpu"] {
            let r = try charrnn(["train", text, "-o", dir + "/regularised-" + device, "--max-steps", "30", "--eval-every", "10",
                                 "--device", device] + small + regularisers, environment: cuda)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let gpu = try csvLosses(dir + "/regularised-cuda"), cpu = try csvLosses(dir + "/regularised-cpu")
        XCTAssertEqual(gpu.count, 3)
        XCTAssertEqual(gpu.count, cpu.count)
        for (a, b) in zip(gpu, cpu) { XCTAssertEqual(a, b, accuracy: 1e-4 * b) }
    }

    /// With no --device, a usable GPU is taken (auto) and every command says so: train and serve in the
    /// line they always print, sample, eval and classify predict in a line on stderr; CHARRNN_DEVICE=cpu
    /// keeps them on the CPU, as does a machine without a driver, silently.
    func testAutoIsTheDefaultAndSaysWhichGPU() throws {
        let out = dir + "/auto"
        let auto = on(["CHARRNN_DEVICE": ""])
        var r = try charrnn(["train", text, "-o", out, "--max-steps", "4", "--eval-every", "4"] + small, environment: auto)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("on charrnn host CUDA stand-in (cuda:0)"), r.stdout)
        let said = "charrnn: on charrnn host CUDA stand-in (cuda:0) (--device auto; --device cpu for the CPU)\n"
        r = try charrnn(["sample", "-c", out, "--length", "20", "--seed", "1"], environment: auto)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, said)
        let explicit = try charrnn(["sample", "-c", out, "--length", "20", "--seed", "1", "--device", "cuda"], environment: auto)
        XCTAssertEqual(explicit.stdout, r.stdout)
        XCTAssertEqual(explicit.stderr, "")
        r = try charrnn(["eval", "-c", out, text], environment: auto)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, said)
        // A resumed run keeps the device it was started with ("auto" here), unless given another.
        r = try charrnn(["train", "--resume", out, "--max-steps", "6"], environment: on(["CHARRNN_DEVICE": "cpu"]))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("on charrnn host CUDA stand-in (cuda:0)"), r.stdout)

        let cpu = try charrnn(["sample", "-c", out, "--length", "20", "--seed", "1"], environment: on(["CHARRNN_DEVICE": "cpu"]))
        XCTAssertEqual(cpu.status, 0, cpu.stderr)
        XCTAssertEqual(cpu.stderr, "")
        XCTAssertNotEqual(cpu.stdout, explicit.stdout)  // the CPU's draws differ from the GPU's
        let noDriver = try charrnn(["sample", "-c", out, "--length", "20", "--seed", "1"],
                                   environment: on(["CHARRNN_DEVICE": "", "CHARRNN_LIBCUDA": "/nonexistent/libcuda.so.1"]))
        XCTAssertEqual(noDriver.status, 0, noDriver.stderr)
        XCTAssertEqual(noDriver.stderr, "")
        XCTAssertEqual(noDriver.stdout, cpu.stdout)
    }

    /// The same seed on the GPU gives the same text, with CUDA graphs or without, and with a capture the
    /// driver refuses (a note, then step by step); eval agrees with the CPU.
    func testSamplingAndEvaluationOnTheGPU() throws {
        let out = dir + "/run"
        XCTAssertEqual(try train(out, steps: 30).status, 0)
        // Two full chunks of 256 steps: the second is replayed from a graph.
        let args = ["sample", "-c", out, "--device", "cuda", "--seed", "4", "--length", "600", "--count", "2"]
        let first = try charrnn(args, environment: cuda)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(first.stderr, "")
        XCTAssertGreaterThan(first.stdout.count, 600, first.stdout)
        XCTAssertEqual(try charrnn(args, environment: cuda).stdout, first.stdout)
        XCTAssertEqual(try charrnn(args, environment: on(["CHARRNN_CUDA_GRAPHS": "0"])).stdout, first.stdout)
        let refused = try charrnn(args, environment: on(["CHARRNN_HOST_CUDA_FAIL": "cuStreamBeginCapture_v2"]))
        XCTAssertEqual(refused.status, 0, refused.stderr)
        XCTAssertEqual(refused.stdout, first.stdout)
        XCTAssertTrue(refused.stderr.hasPrefix("charrnn: note: generating step by step, as a CUDA graph failed: CUDA: "
                                               + "cuStreamBeginCapture: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"), refused.stderr)

        let onGPU = try charrnn(["eval", "-c", out, text, "--device", "cuda"], environment: cuda)
        XCTAssertEqual(onGPU.status, 0, onGPU.stderr)
        XCTAssertEqual(onGPU.stdout, try charrnn(["eval", "-c", out, text, "--device", "cpu"]).stdout)

        let bench = try charrnn(["bench", "--device", "cuda", "--rows", "sample", "--only", "2", "--seconds", "0.2"],
                                environment: cuda)
        XCTAssertEqual(bench.status, 0, bench.stderr)
        XCTAssertTrue(bench.stdout.contains(#""config":"sample LSTM 2x128 b1""#), bench.stdout)
        XCTAssertTrue(bench.stdout.contains(#""peak_device_mb":"#), bench.stdout)
    }

    /// `bench --phases --device cuda`: the GPU's time by phase adds up to the step, and the time by
    /// operation names each product and kernel with its calls per step, which follow from the model's
    /// shape (a 2x128 LSTM over 50 steps of 3 streams: a recurrent product and a cell kernel per layer
    /// and step forward; backward the same but for the first step's product, which has no h_{-1} to reach).
    func testPhasesOnTheGPUTimeEachPhaseAndOperation() throws {
        let r = try charrnn(["bench", "--device", "cuda", "--rows", "train", "--only", "1", "--batch", "3", "--seconds", "0.2",
                             "--phases"], environment: cuda)
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        func number(_ key: String) throws -> Double { try XCTUnwrap((json[key] as? NSNumber)?.doubleValue, key) }
        let phases = try ["input", "recurrentForward", "decoder", "loss", "recurrentBackward", "weightGradients", "update", "other"]
            .map { try number("phase_\($0)_ms") }
        let step = try number("ms_per_step")
        XCTAssertEqual(phases.reduce(0, +), step, accuracy: 0.1 * step, r.stdout)
        XCTAssertTrue(phases[1] > 0 && phases[4] > 0 && phases[5] > 0 && phases[6] > 0, r.stdout)
        let operations = try XCTUnwrap(json["operations"] as? [[String: Any]], r.stdout)
        var calls: [String: Double] = [:], ms: [String: Double] = [:]
        for o in operations {
            let name = try XCTUnwrap(o["name"] as? String)
            calls[name] = (o["calls"] as? NSNumber)?.doubleValue
            ms[name] = (o["ms"] as? NSNumber)?.doubleValue
        }
        XCTAssertEqual(calls["kernel lstm_forward"], 100, r.stdout)
        XCTAssertEqual(calls["kernel lstm_backward"], 100, r.stdout)
        XCTAssertEqual(calls["product 3x512x128 N T"], 100, "h W_hh^T, each layer and step: \(r.stdout)")
        XCTAssertEqual(calls["product 3x128x512 N N"], 98, "dPre W_hh, each layer and step but the first: \(r.stdout)")
        XCTAssertEqual(calls["product 512x128x150 T N"], 3, "dW_hh of both layers and dW_ih of the second: \(r.stdout)")
        XCTAssertEqual(calls["kernel adam_update"], 1, r.stdout)
        // Each phase holds its own operations: the two tallies, one by marks and one by operation, agree.
        func sum(_ names: [String]) -> Double { names.reduce(0) { $0 + (ms[$1] ?? .nan) } }
        XCTAssertGreaterThanOrEqual(phases[1], sum(["kernel lstm_forward", "product 3x512x128 N T"]), r.stdout)
        XCTAssertGreaterThanOrEqual(phases[4], sum(["kernel lstm_backward", "product 3x128x512 N N"]), r.stdout)
        XCTAssertGreaterThanOrEqual(phases[5], sum(["product 512x128x150 T N", "product 512x64x150 T N"]), r.stdout)
        XCTAssertGreaterThanOrEqual(phases[6], sum(["kernel adam_update"]), r.stdout)
        let busy = operations.reduce(0) { $0 + (($1["ms"] as? NSNumber)?.doubleValue ?? 0) }
        XCTAssertTrue(busy > 0 && busy <= step * 1.05, "the operations fit in the step: \(busy) of \(step) ms")

        // A failure while timing (a fault surfacing at an event, an unreadable event) is one line.
        let phased = ["bench", "--device", "cuda", "--rows", "train", "--only", "1", "--batch", "2", "--seconds", "0.05", "--phases"]
        assertCleanError(try charrnn(phased, environment: on(["CHARRNN_HOST_CUDA_FAIL": "cuEventRecord:500"])),
                         "CUDA: cuEventRecord: CUDA_ERROR_ILLEGAL_ADDRESS")
        assertCleanError(try charrnn(phased, environment: on(["CHARRNN_HOST_CUDA_FAIL": "cuEventElapsedTime:3"])),
                         "CUDA: cuEventElapsedTime: CUDA_ERROR_NOT_READY")
    }

    /// Requests served together on the GPU each get the text they get alone.
    func testServeOnTheGPUBatchesWithoutChangingText() throws {
        let out = dir + "/run"
        XCTAssertEqual(try train(out, steps: 30).status, 0)
        let (p, base) = try serve(["-c", "poem=" + out, "--device", "cuda"], environment: cuda)
        defer { kill(p.processIdentifier, SIGTERM); p.waitUntilExit() }
        @Sendable func generate(seed: Int) throws -> String {
            var request = URLRequest(url: URL(string: base + "v1/generate")!)
            request.httpMethod = "POST"
            request.httpBody = Data(#"{"model": "poem", "prompt": "to be", "length": 300, "seed": \#(seed)}"#.utf8)
            let object = try JSONSerialization.jsonObject(with: try Self.fetch(request)) as? [String: Any]
            return try XCTUnwrap(object?["text"] as? String)
        }
        let alone = try (1...4).map { try generate(seed: $0) }
        final class Texts: @unchecked Sendable { var values = [String](repeating: "", count: 4); let lock = NSLock() }
        let together = Texts()
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            let text = (try? generate(seed: i + 1)) ?? "failed"
            together.lock.lock(); together.values[i] = text; together.lock.unlock()
        }
        XCTAssertEqual(together.values, alone)
        XCTAssertEqual(Set(alone).count, 4, "different seeds, different texts")
    }

    /// `serve --device cuda` runs a classifier's forward passes there: the probabilities are the CPU
    /// server's, and a GPU whose products fail turns /v1/classify into an error that says so.
    func testServeClassifiesOnTheGPU() throws {
        let folder = try labelledFolder()
        let classifier = dir + "/classifier"
        let trained = try charrnn(["classify", "train", folder, "-o", classifier, "--epochs", "2", "--hidden", "16", "--embed", "4",
                                   "--threads", "1"])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        func classify(device: String, environment: [String: String]) throws -> [String: Any] {
            let (p, base) = try serve(["-c", "names=" + classifier, "--device", device], environment: environment)
            defer { kill(p.processIdentifier, SIGTERM); p.waitUntilExit() }
            var request = URLRequest(url: URL(string: base + "v1/classify")!)
            request.httpMethod = "POST"
            request.httpBody = Data(#"{"model": "names", "items": ["Abcab", "Feged", "Hgihj"], "top": 2}"#.utf8)
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: try Self.fetch(request)) as? [String: Any])
        }
        func probabilities(_ reply: [String: Any]) -> [Double] {
            ((reply["results"] as? [[String: Any]]) ?? []).flatMap { item in
                ((item["categories"] as? [[String: Any]]) ?? []).map { ($0["probability"] as? NSNumber)?.doubleValue ?? -1 }
            }
        }
        let onGPU = probabilities(try classify(device: "cuda", environment: cuda))
        let onCPU = probabilities(try classify(device: "cpu", environment: [:]))
        XCTAssertEqual(onGPU.count, 6)
        XCTAssertEqual(onGPU.count, onCPU.count)
        for (g, c) in zip(onGPU, onCPU) { XCTAssertEqual(g, c, accuracy: 1e-5) }
        let failing = try classify(device: "cuda", environment: on(["CHARRNN_HOST_CUDA_FAIL": "cublasSgemm_v2"]))
        let error = try XCTUnwrap(failing["error"] as? [String: Any], "\(failing)")
        XCTAssertEqual(error["status"] as? Int, 500, "a failing GPU is the server's fault")
        XCTAssertTrue((error["message"] as? String ?? "").contains("cublasSgemm"), "\(failing)")
    }

    /// What a GPU can do wrong is one line, and a training run that fails leaves nothing behind.
    func testGPUFailuresAreOneLine() throws {
        let out = dir + "/run"
        let trainArgs = ["train", text, "-o", out, "--max-steps", "20", "--device", "cuda"] + small
        assertCleanError(try charrnn(trainArgs, environment: on(["CHARRNN_HOST_CUDA_FAIL": "cuMemAlloc_v2:12"])),
                         "CUDA: out of GPU memory: ")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        assertCleanError(try charrnn(trainArgs, environment: on(["CHARRNN_HOST_CUDA_FAIL": "cublasSgemm_v2:50"])),
                         "CUDA: cublasSgemm (")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        assertCleanError(try charrnn(["train", text, "-o", out, "--hidden", "2048", "--device", "cuda"],
                                     environment: on(["CHARRNN_HOST_CUDA_MEMORY_MIB": "64"])),
                         "GPU memory and charrnn host CUDA stand-in (cuda:0) has 64 MB free; choose smaller sizes")
        assertCleanError(try charrnn(trainArgs, environment: on(["CHARRNN_HOST_CUDA_DEVICES": "0"])),
                         "CUDA: no usable GPU: the driver at ")
        assertCleanError(try charrnn(trainArgs.map { $0 == "cuda" ? "cuda:1" : $0 }, environment: cuda),
                         "CUDA: there is no cuda:1: the driver sees 1 GPU")
        assertCleanError(try charrnn(trainArgs, environment: on(["CHARRNN_HOST_CUDA_FAIL": "nvrtcCompileProgram",
                                                                 "CHARRNN_CACHE_DIR": dir + "/empty-cache"])),
                         "CUDA: NVRTC 99.0 could not compile charrnn_kernels.cu for sm_90: ")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))

        XCTAssertEqual(try train(out, steps: 10).status, 0)
        // A fault in the middle of generation: the error alone, no note about graphs before it.
        let fault = try charrnn(["sample", "-c", out, "--device", "cuda", "--length", "500", "--seed", "1"],
                                environment: on(["CHARRNN_HOST_CUDA_FAIL": "cuLaunchKernel:100"]))
        XCTAssertNotEqual(fault.status, 0)
        XCTAssertFalse(fault.signaled)
        XCTAssertEqual(fault.stderr.split(separator: "\n").count, 1, fault.stderr)
        XCTAssertTrue(fault.stderr.hasPrefix("charrnn: error: CUDA: launching "), fault.stderr)
    }

    /// Every kernel that `devices --check` runs, training with each regulariser and sampling by slices from
    /// a vocabulary of thousands, with the kernels compiled with AddressSanitizer: a read or write outside
    /// a buffer (which a GPU may not report at all) stops the run.
    func testKernelsStayInsideTheirBuffers() throws {
        // Under scripts/test-tsan.sh the binary is a ThreadSanitizer build, and AddressSanitizer's runtime
        // preloaded into it crashes it before main.
        try XCTSkipIf(dlsym(dlopen(nil, RTLD_NOW), "__tsan_init") != nil,
                      "the AddressSanitizer stand-in cannot run inside a ThreadSanitizer build of charrnn")
        let sanitized = try HostCUDA.environment(sanitized: true)
        let checked = try charrnn(["devices", "--check"], environment: sanitized)
        XCTAssertEqual(checked.status, 0, checked.stderr)
        XCTAssertFalse(checked.stderr.contains("AddressSanitizer"), checked.stderr)
        XCTAssertTrue(checked.stdout.contains("all kernel checks passed"), checked.stdout)

        var poem = ""
        for i in 0..<3000 { poem += String(UnicodeScalar(0x4E00 + (i * 7919) % 1500)!) + (i % 12 == 11 ? "\n" : "") }
        let chinese = dir + "/poem-zh.txt"
        try poem.write(toFile: chinese, atomically: true, encoding: .utf8)
        let out = dir + "/zh"
        let trained = try charrnn(["train", chinese, "-o", out, "--max-steps", "12", "--eval-every", "6", "--device", "cuda",
                                   "--dropout", "0.2", "--variational-dropout", "--weight-drop", "0.2", "--embed-dropout", "0.1"] + small,
                                  environment: sanitized)
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertFalse(trained.stderr.contains("AddressSanitizer"), trained.stderr)
        let sliced = try charrnn(["sample", "-c", out, "--device", "cuda", "--top-k", "40", "--count", "3", "--length", "40", "--seed", "1"],
                                 environment: sanitized.merging(["CHARRNN_SAMPLE_SLICED_ABOVE": "0"]) { $1 })
        XCTAssertEqual(sliced.status, 0, sliced.stderr)
        XCTAssertFalse(sliced.stderr.contains("AddressSanitizer"), sliced.stderr)
    }

    /// The issue's rule for a GPU step, seen at the driver: 40 more steps are 40 more graph launches and
    /// no more launches or products of their own, and cross to the host only for the loss logged every
    /// --log-every steps (one copy and one wait each).
    func testATrainingStepCopiesToTheHostOnlyTheLoggedLoss() throws {
        func stats(steps: Int) throws -> [String: Int] {
            let out = dir + "/steps-\(steps)"
            let r = try charrnn(["train", text, "-o", out, "--max-steps", "\(steps)", "--eval-every", "1000", "--log-every", "8",
                                 "--device", "cuda", "--hidden", "32", "--seq-length", "16", "--batch-size", "8", "--sample-length", "0"],
                                environment: on(["CHARRNN_HOST_CUDA_STATS": "1"]))
            XCTAssertEqual(r.status, 0, r.stderr)
            let line = try XCTUnwrap(r.stderr.split(separator: "\n").last { $0.hasPrefix("host CUDA: ") }, r.stderr)
            var counts: [String: Int] = [:]
            for (pattern, key) in [(#"(\d+) kernel launches"#, "launches"), (#"(\d+) products"#, "products"),
                                   (#"(\d+) graph launches"#, "graphs"), (#"(\d+) to the host"#, "toHost"), (#"(\d+) waits"#, "waits")] {
                let match = try XCTUnwrap(line.range(of: pattern, options: .regularExpression), String(line))
                counts[key] = Int(line[match].split(separator: " ")[0])
            }
            return counts
        }
        let shorter = try stats(steps: 40), longer = try stats(steps: 80)
        XCTAssertEqual(longer["graphs"]! - shorter["graphs"]!, 40)
        XCTAssertEqual(longer["launches"], shorter["launches"])
        XCTAssertEqual(longer["products"], shorter["products"])
        XCTAssertEqual(longer["toHost"]! - shorter["toHost"]!, 5)
        XCTAssertEqual(longer["waits"]! - shorter["waits"]!, 5)
    }

    /// A GPU fault in the middle of a run (an illegal address surfacing at a graph launch) is one line;
    /// the folder keeps its last checkpoint, and --resume from it ends where an unbroken run ends.
    func testAFaultMidRunKeepsTheLastCheckpointAndResumesExactly() throws {
        let broken = dir + "/broken", whole = dir + "/whole"
        let args = ["--max-steps", "60", "--eval-every", "20", "--device", "cuda"] + small
        let fault = try charrnn(["train", text, "-o", broken] + args, environment: on(["CHARRNN_HOST_CUDA_FAIL": "cuGraphLaunch:30"]))
        assertCleanError(fault, "CUDA: cuGraphLaunch: CUDA_ERROR_ILLEGAL_ADDRESS")
        let saved = try String(contentsOfFile: broken + "/checkpoint.json", encoding: .utf8)
        XCTAssertTrue(saved.contains(#""step":20"#), saved)
        let resumed = try charrnn(["train", "--resume", broken], environment: cuda)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try charrnn(["train", text, "-o", whole] + args, environment: cuda).status, 0)
        XCTAssertEqual(try csvLosses(broken), try csvLosses(whole))
    }

    /// #14's regularisers on the GPU path, killed inside the second save and resumed there: the files of
    /// the run that was never interrupted, bit for bit (the masks come from the device's counter-based
    /// generator, whose seeds the saved state carries).
    func testAllRegularisersResumeExactlyAfterAKillOnTheGPU() throws {
        let awd = ["--dropout", "0.2", "--variational-dropout", "--weight-drop", "0.3", "--embed-dropout", "0.1",
                   "--optimizer", "adamw", "--weight-decay", "0.05", "--lr-schedule", "cosine", "--warmup", "10",
                   "--ema", "0.9", "--device", "cuda", "--max-steps", "40", "--eval-every", "20"] + small
        let full = dir + "/full", killed = dir + "/killed"
        XCTAssertEqual(try charrnn(["train", text, "-o", full] + awd, environment: cuda).status, 0)
        let k = try charrnn(["train", text, "-o", killed] + awd, environment: on(["CHARRNN_TEST_KILL_AT_SAVE_POINT": "17"]))
        XCTAssertTrue(k.signaled, "killed inside the second save")
        let resumed = try charrnn(["train", "--resume", killed], environment: cuda)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        for f in ["latest.safetensors", "best.safetensors", "loss.csv"] {
            XCTAssertEqual(FileManager.default.contents(atPath: killed + "/" + f), FileManager.default.contents(atPath: full + "/" + f), f)
        }
    }

    /// A cached module that no longer loads is compiled again and replaced.
    func testADamagedKernelCacheIsCompiledAgain() throws {
        let cache = dir + "/cache"
        let environment = try HostCUDA.environment(cache: cache)
        let out = dir + "/run"
        XCTAssertEqual(try train(out, steps: 10).status, 0)
        let args = ["sample", "-c", out, "--device", "cuda", "--seed", "2", "--length", "50"]
        let first = try charrnn(args, environment: environment)
        XCTAssertEqual(first.status, 0, first.stderr)
        let files = try FileManager.default.contentsOfDirectory(atPath: cache).filter { $0.hasSuffix(".cubin") }
        XCTAssertEqual(files.count, 1, "\(files)")
        let path = cache + "/" + files[0]
        let module = try Data(contentsOf: URL(fileURLWithPath: path))
        try Data("not a module".utf8).write(to: URL(fileURLWithPath: path))
        let again = try charrnn(args, environment: environment)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stdout, first.stdout)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)).count, module.count, "the module was written again")
    }
}
