import CharRNN
import Foundation
import XCTest

/// --precision tf32 and bf16 on the emulated device, whose products round their operands as the
/// tensor cores do: the model checks stay within each precision's bound, the rounding is really there
/// (fp32's bound would fail), and training tracks the fp32 run.
final class PrecisionTests: XCTestCase {
    nonisolated(unsafe) static let device: EmulatedDevice = try! EmulatedDevice()

    override func tearDown() { Self.device.precision = .fp32 }

    func testRoundingKeepsTheMantissaBitsAndTiesToEven() {
        XCTAssertEqual(EmulatedDevice.round(1 + 0x1p-8, mantissaBits: 7), 1)  // a tie: to the even neighbour
        XCTAssertEqual(EmulatedDevice.round(1 + 3 * 0x1p-8, mantissaBits: 7), 1 + 0x1p-6)  // a tie: up to the even one
        XCTAssertEqual(EmulatedDevice.round(1 + 0x1p-8 + 0x1p-12, mantissaBits: 7), 1 + 0x1p-7)
        XCTAssertEqual(EmulatedDevice.round(-3.14159265, mantissaBits: 7), -3.140625)
        XCTAssertEqual(EmulatedDevice.round(1 + 0x1p-11, mantissaBits: 10), 1)
        XCTAssertEqual(EmulatedDevice.round(1 + 0x1p-10, mantissaBits: 10), 1 + 0x1p-10)
        XCTAssertEqual(EmulatedDevice.round(.greatestFiniteMagnitude, mantissaBits: 7), .infinity)  // as bfloat16 overflows
    }

    /// Precision.bfloat16Bits, the reference of the kernel to_bf16 that makes bf16 products' operands on a
    /// GPU, is the emulated device's rounding to 7 mantissa bits: for random values over many magnitudes,
    /// the ties, and the edges.
    func testBfloat16BitsAreTheEmulatedRounding() {
        var rng = RandomGenerator(seed: 3)
        var values: [Float] = [1 + 0x1p-8, 1 + 3 * 0x1p-8, -3.14159265, .greatestFiniteMagnitude, 0, -0.0, .infinity, Float.leastNormalMagnitude / 3]
        for _ in 0..<20_000 { values.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))) }
        for x in values where !x.isNaN {
            let widened = Float(bitPattern: UInt32(Precision.bfloat16Bits(x)) << 16)
            XCTAssertEqual(widened.bitPattern, EmulatedDevice.round(x, mantissaBits: 7).bitPattern, "\(x)")
        }
        XCTAssertTrue(Float(bitPattern: UInt32(Precision.bfloat16Bits(.nan)) << 16).isNaN)
        XCTAssertEqual(Precision.bfloat16Bits(1 + 0x1p-8), 0x3f80)  // a tie, to even
        XCTAssertEqual(Precision.bfloat16Bits(1 + 3 * 0x1p-8), 0x3f82)
    }

    /// The same checks `charrnn devices --check` runs again at tf32 and bf16 on a GPU (the optimizers'
    /// steps are left to fp32: see ModelChecks).
    func testModelChecksAtEachPrecisionStayWithinItsBound() throws {
        for precision in [Precision.tf32, .bf16] {
            Self.device.precision = precision
            let outcomes = try KernelChecks.products(on: Self.device) + ModelChecks.run(on: Self.device)
            XCTAssertEqual(outcomes.count, 4 + CellKind.allCases.count * 2 + 2 + 2 + 2 + 4)
            for o in outcomes { XCTAssertTrue(o.passed, "\(precision): \(o.name): relative error \(o.relativeError)") }
            let worst = outcomes.map(\.relativeError).max()!
            print("\(precision): worst relative error \(worst) (bound \(precision.tolerance))")
            XCTAssertGreaterThan(worst, KernelChecks.tolerance, "\(precision): the products were not rounded")
            XCTAssertGreaterThan(worst, precision.tolerance / 5, "\(precision): the bound is looser than it needs to be")
        }
        XCTAssertLessThan(Precision.tf32.tolerance, Precision.bf16.tolerance)
    }

    /// 150 steps of the small model with bf16 products: each logged loss within 2% of the fp32 run's, and
    /// the model learns as much.
    func testTrainingWithRoundedProductsTracksFP32() throws {
        let dir = scratchDirectory()
        let text = try writeTrainingText(dir)
        var o = smallTrainingOptions(text, dir + "/fp32")
        o.maxSteps = 150
        o.evalEvery = 150
        Self.device.precision = .fp32
        _ = try Trainer(options: o, device: Self.device).run()
        var rounded = o
        rounded.outputDirectory = dir + "/bf16"
        Self.device.precision = .bf16
        _ = try Trainer(options: rounded, device: Self.device).run()
        let exact = try losses(o.outputDirectory), bf16 = try losses(rounded.outputDirectory)
        XCTAssertEqual(exact.count, bf16.count)
        var worst = 0.0
        for (a, b) in zip(exact, bf16) { worst = max(worst, abs(a - b) / a) }
        print("bf16 against fp32 over \(exact.count) logged losses: worst relative difference \(worst)")
        XCTAssertGreaterThan(worst, 0, "the bf16 run should differ from fp32 somewhere")
        XCTAssertLessThan(worst, 0.02)
        XCTAssertLessThan(bf16.last!, 0.6 * bf16.first!)
    }

    private func losses(_ folder: String) throws -> [Double] {
        try String(contentsOfFile: folder + "/loss.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[2])! }
    }
}
