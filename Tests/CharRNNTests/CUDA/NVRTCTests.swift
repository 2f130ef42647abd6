import CharRNN
import Foundation
import XCTest

/// Every kernel compiles with NVRTC for the GPUs charrnn targets, on any machine: NVRTC needs neither a
/// GPU nor the driver. scripts/test.sh fetches PyPI's nvidia-cuda-nvrtc and sets CHARRNN_REQUIRE_NVRTC,
/// so in CI a missing NVRTC is a failure, not a skip.
final class NVRTCTests: XCTestCase {
    private func compiler() throws -> NVRTCCompiler {
        do {
            return try NVRTCCompiler.shared()
        } catch {
            if ProcessInfo.processInfo.environment["CHARRNN_REQUIRE_NVRTC"] == "1" { throw error }
            throw XCTSkip("NVRTC not found (\(error)); scripts/test.sh installs it")
        }
    }

    func testEveryKernelCompilesForAmpereAndHopper() throws {
        let nvrtc = try compiler()
        for architecture in [80, 90] {
            let cubin = try nvrtc.compile(KernelSource.moduleSource, architecture: architecture)
            XCTAssertEqual(Array(cubin.prefix(4)), [0x7F, 0x45, 0x4C, 0x46], "sm_\(architecture): not an ELF CUBIN")
            let text = String(decoding: cubin, as: UTF8.self)
            for kernel in KernelSource.kernelNames {
                XCTAssertTrue(text.contains(kernel), "sm_\(architecture): the CUBIN has no \(kernel)")
            }
        }
    }

    func testACompileErrorNamesTheProblem() throws {
        let nvrtc = try compiler()
        XCTAssertThrowsError(try nvrtc.compile("extern \"C\" __global__ void broken() { undeclared_name = 1; }",
                                               name: "broken.cu", architecture: 90)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("CUDA: NVRTC \(nvrtc.versionString) could not compile broken.cu for sm_90"), message)
            XCTAssertTrue(message.contains("undeclared_name"), message)
        }
    }
}
