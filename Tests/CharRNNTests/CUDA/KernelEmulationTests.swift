import CharRNN
import XCTest

/// The CUDA kernels, compiled for the host and run thread by thread, against the CPU kernels.
final class KernelEmulationTests: XCTestCase {
    func testEveryKernelMatchesItsCPUTwin() throws {
        let device = try EmulatedDevice()
        let outcomes = try KernelChecks.run(on: device)
        XCTAssertGreaterThanOrEqual(outcomes.count, 25)
        for o in outcomes {
            XCTAssertTrue(o.passed, "\(o.name): relative error \(o.relativeError)")
            print("\(o.name): \(o.relativeError)")
        }
        XCTAssertTrue(device.live.isEmpty, "the checks leaked \(device.live.count) allocations")
        let covered = Set(outcomes.map { $0.name.split(separator: " ")[0].split(separator: "/") }.joined().map(String.init))
        for kernel in KernelSource.kernelNames where !["sgd_update", "sgd_momentum_update", "adam_update",
                                                        "rmsprop_update", "adagrad_update"].contains(kernel) {
            XCTAssertTrue(covered.contains(kernel), "no check covers \(kernel)")
        }
    }

    /// The checks can fail: a kernel with a one-percent error in its cell state is caught.
    func testAWrongKernelFailsItsCheck() throws {
        let broken = KernelSource.moduleSource.replacingOccurrences(of: "c[k] = cn;", with: "c[k] = cn * 1.01f;")
        XCTAssertNotEqual(broken, KernelSource.moduleSource)
        let outcomes = try KernelChecks.run(on: try EmulatedDevice(source: broken))
        let failed = outcomes.filter { !$0.passed }.map(\.name)
        XCTAssertTrue(failed.contains("lstm_forward"), "failed: \(failed)")
    }

    /// Sampling by slices is caught when it strays from one thread per stream (the ties in the slices
    /// before one counted with its own) and when both keep a tie too many at the k-th place.
    func testWrongSamplingFailsItsCheck() throws {
        for (wrong, right) in [("for (int q = 0; q < p; q++)", "for (int q = 0; q <= p; q++)"), ("(*ties)++ < keep", "(*ties)++ <= keep")] {
            let broken = KernelSource.moduleSource.replacingOccurrences(of: wrong, with: right)
            XCTAssertNotEqual(broken, KernelSource.moduleSource)
            let outcomes = try KernelChecks.run(on: try EmulatedDevice(source: broken))
            let failed = outcomes.filter { !$0.passed }.map(\.name)
            XCTAssertEqual(failed.count, 1, "\(right): failed \(failed)")
            XCTAssertTrue(failed.first?.hasPrefix("sample_slice_max/") ?? false, "\(right): failed \(failed)")
        }
    }

    /// A nucleus that forgets the mass above its digit, or whose target is the whole mass, keeps too
    /// much: both ways' checks fail (one thread and by slices).
    func testAWrongNucleusFailsItsChecks() throws {
        for (wrong, right) in [("*above += mass[d];", ";"), ("__fmul_rn(top_p, total)", "total")] {
            let broken = KernelSource.moduleSource.replacingOccurrences(of: wrong, with: right)
            XCTAssertNotEqual(broken, KernelSource.moduleSource)
            let outcomes = try KernelChecks.run(on: try EmulatedDevice(source: broken))
            let failed = outcomes.filter { !$0.passed }.map(\.name)
            XCTAssertEqual(failed.count, 2, "\(right): failed \(failed)")
            XCTAssertTrue(failed.allSatisfy { $0.contains("top-p") }, "\(right): failed \(failed)")
        }
    }

    func testCSRIndexGroupsRowsByCharacterInOrder() {
        let index = CSRIndex(ids: [2, 0, 2, 1, 0, 2], vocabulary: 4)
        XCTAssertEqual(index.first, [0, 2, 3, 6, 6])
        XCTAssertEqual(index.rows, [1, 4, 3, 0, 2, 5])
    }
}
