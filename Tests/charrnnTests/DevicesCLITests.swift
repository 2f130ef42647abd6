import Foundation
import XCTest

/// `charrnn devices`: what it reports with no GPU, and one clear line when a library named by a
/// variable cannot be used.
final class DevicesCLITests: CLITestCase {
    /// A machine without the NVIDIA driver (this one, or CI) as far as charrnn can tell.
    private let noDriver = ["CHARRNN_LIBCUDA": "/nonexistent/libcuda.so.1"]

    func testListsTheCPUAndSaysWhyThereIsNoGPU() throws {
        let r = try charrnn(["devices"], environment: noDriver)
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.first?.hasPrefix("cpu: ") == true, r.stdout)
        XCTAssertTrue(lines.contains("NVIDIA driver: CHARRNN_LIBCUDA=/nonexistent/libcuda.so.1: cannot load libcuda "
                                     + "(the NVIDIA driver): /nonexistent/libcuda.so.1: cannot open shared object file: "
                                     + "No such file or directory"), r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("NVRTC") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("cuBLAS") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("MPI: ") }, r.stdout)
        XCTAssertEqual(lines.last, "GPU: none usable, so charrnn runs on the CPU")
    }

    /// The MPI library charrnn would load for `mpirun ... charrnn train`, or why there is none.
    func testSaysWhetherAnMPILibraryIsThere() throws {
        let missing = try charrnn(["devices"], environment: noDriver.merging(["CHARRNN_MPI": "/nonexistent/libmpi.so"]) { $1 })
        XCTAssertTrue(missing.stdout.contains("MPI: none found, so training runs in one process (data-parallel training: "
                                              + "CHARRNN_MPI=/nonexistent/libmpi.so: cannot load an MPI library"), missing.stdout)
        let found = try charrnn(["devices"], environment: noDriver)
        if FileManager.default.fileExists(atPath: "/usr/lib/x86_64-linux-gnu/libmpi.so.40") {
            XCTAssertTrue(found.stdout.contains("MPI: /usr/lib/x86_64-linux-gnu/libmpi.so.40"), found.stdout)
        }
    }

    func testCheckWithoutAGPUIsOneClearError() throws {
        let r = try charrnn(["devices", "--check"], environment: noDriver)
        XCTAssertEqual(r.status, 1)
        let errors = r.stderr.split(separator: "\n")
        XCTAssertEqual(errors.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("charrnn: error: CUDA: --check needs a usable GPU: CHARRNN_LIBCUDA="), r.stderr)
    }

    /// A file that is not the driver (here NVRTC itself, which has no cuInit) is refused by name.
    func testALibraryThatIsNotTheDriverIsNamed() throws {
        guard let nvrtc = ProcessInfo.processInfo.environment["CHARRNN_NVRTC"] else {
            throw XCTSkip("CHARRNN_NVRTC is not set (scripts/test.sh sets it)")
        }
        let r = try charrnn(["devices", "--check"], environment: ["CHARRNN_LIBCUDA": nvrtc])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "charrnn: error: CUDA: --check needs a usable GPU: \(nvrtc) has no cuInit (too old a version?)\n")
    }
}

/// `--device` on train: a GPU that is not there is one clear line, and nothing is left on disk.
final class DeviceOptionCLITests: CLITestCase {
    func testTrainOnAMissingGPUIsOneClearError() throws {
        let out = dir + "/run"
        let r = try charrnn(["train", text, "-o", out, "--max-steps", "2", "--device", "cuda"] + small,
                            environment: ["CHARRNN_LIBCUDA": "/nonexistent/libcuda.so.1"])
        assertCleanError(r, "CUDA: no usable GPU: CHARRNN_LIBCUDA=/nonexistent/libcuda.so.1: cannot load libcuda")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a failed start leaves no folder")
        assertCleanError(try charrnn(["train", text, "-o", out, "--device", "tpu"] + small),
                         "--device must be auto, cpu, cuda or cuda:N (got 'tpu')")
        assertCleanError(try charrnn(["train", text, "-o", out, "--device", "cuda:-1"] + small), "--device must be")
    }

    func testAutoWithoutAGPUTrainsOnTheCPU() throws {
        let r = try charrnn(["train", text, "-o", dir + "/auto", "--max-steps", "3", "--device", "auto"] + small,
                            environment: ["CHARRNN_LIBCUDA": "/nonexistent/libcuda.so.1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.split(separator: "\n").first?.hasSuffix("1 thread") == true, r.stdout)
    }
}

extension DeviceOptionCLITests {
    func testSampleAndEvalOnAMissingGPUAreOneClearError() throws {
        let out = dir + "/run"
        XCTAssertEqual(try train(out, steps: 3).status, 0)
        let noDriver = ["CHARRNN_LIBCUDA": "/nonexistent/libcuda.so.1"]
        assertCleanError(try charrnn(["sample", "-c", out, "--device", "cuda"], environment: noDriver), "CUDA: no usable GPU")
        assertCleanError(try charrnn(["eval", "-c", out, text, "--device", "cuda:1"], environment: noDriver), "CUDA: no usable GPU")
        assertCleanError(try charrnn(["sample", "-c", out, "--device", "cpu:0"]), "--device must be")
        assertCleanError(try charrnn(["serve", "-c", out, "--port", "0", "--device", "cuda"], environment: noDriver),
                         "CUDA: no usable GPU")
        let r = try charrnn(["sample", "-c", out, "--device", "auto", "--length", "5", "--seed", "1"], environment: noDriver)
        XCTAssertEqual(r.status, 0, r.stderr)
        assertCleanError(try charrnn(["sample", "-c", out, "--length", "5"], environment: ["CHARRNN_DEVICE": "gpu0"]),
                         "CHARRNN_DEVICE must be auto, cpu, cuda or cuda:N (got 'gpu0')")
    }
}

extension DeviceOptionCLITests {
    func testPrecisionIsCheckedBeforeAnythingRuns() throws {
        let out = dir + "/precision"
        assertCleanError(try charrnn(["train", text, "-o", out, "--precision", "bf16"] + small), "--precision bf16 is for a GPU")
        assertCleanError(try charrnn(["train", text, "-o", out, "--precision", "fp16"] + small),
                         "--precision must be fp32, tf32 or bf16 (got 'fp16')")
        assertCleanError(try charrnn(["train", text, "-o", out, "--precision", "tf32"] + small), "--precision tf32 is for a GPU")
        assertCleanError(try charrnn(["bench", "--precision", "tf32"]), "--precision tf32 is for a GPU")
        assertCleanError(try charrnn(["bench", "--precision", "bf16"]), "--precision bf16 is for a GPU")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
