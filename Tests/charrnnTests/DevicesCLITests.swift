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
        XCTAssertEqual(lines.last, "GPU: none usable, so charrnn runs on the CPU")
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
