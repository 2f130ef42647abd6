import CCharRNNKernels
import CharRNN
import XCTest

/// The counter-based dropout masks (crn_dropout_mask, DropoutMask). The GPU kernel is checked against
/// the same function (KernelChecks), and the CPU and device models against each other with dropout
/// (ModelChecks); these pin down the function itself.
final class DropoutMaskTests: XCTestCase {
    override func tearDown() { BLAS.setThreads(2) }

    /// The generator written out again: SplitMix64's finaliser of seed + golden ratio * (i + 1), top 24 bits.
    private func reference(seed: UInt64, _ i: UInt64) -> Float {
        var z = seed &+ 0x9E37_79B9_7F4A_7C15 &* (i + 1)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(z >> 40) / 16_777_216
    }

    private func mask(_ n: Int, p: Float, seed: UInt64, period: Int, pieces: [Int] = []) -> [Float] {
        var m = [Float](repeating: .nan, count: n)
        let cuts = [0] + pieces + [n]
        for (a, b) in zip(cuts, cuts.dropFirst()) {
            crn_dropout_mask(Int64(a), Int64(b), &m, p, 1 / (1 - p), seed, Int64(period))
        }
        return m
    }

    func testEachElementIsTheHashOfItsSeedAndIndex() {
        let p: Float = 0.35, keep = 1 / (1 - p), seed: UInt64 = 0xDEAD_BEEF_1234
        let m = mask(5_000, p: p, seed: seed, period: 5_000)
        for (i, v) in m.enumerated() {
            XCTAssertEqual(v, reference(seed: seed, UInt64(i)) < p ? 0 : keep, "element \(i)")
        }
        // Its rate: 5000 draws at 0.35 have a standard deviation of 0.0067.
        let rate = Double(m.filter { $0 == 0 }.count) / Double(m.count)
        XCTAssertEqual(rate, 0.35, accuracy: 0.03)
        // Another seed, another mask.
        XCTAssertNotEqual(m, mask(5_000, p: p, seed: seed + 1, period: 5_000))
    }

    /// Filled in pieces that start and end inside a period, the mask is the whole one, and it repeats
    /// with the period (variational dropout's one mask per step).
    func testPiecesAndPeriods() {
        let period = 37, n = 37 * 9 + 11
        let whole = mask(n, p: 0.5, seed: 9, period: period)
        XCTAssertEqual(whole.map(\.bitPattern), mask(n, p: 0.5, seed: 9, period: period, pieces: [1, 36, 37, 100, 333]).map(\.bitPattern))
        for i in 0..<n { XCTAssertEqual(whole[i], whole[i % period], "element \(i)") }
        XCTAssertEqual(Array(whole.prefix(period)), mask(period, p: 0.5, seed: 9, period: period))
    }

    /// The threads share a mask out; it is the same mask on any number of them.
    func testTheSameMaskOnAnyNumberOfThreads() {
        let n = 100_003
        func drawn(threads: Int) -> [Float] {
            BLAS.setThreads(threads)
            return Parallel.sharingEverything {
                let m = FloatBuffer(count: n)
                DropoutMask.draw(m.pointer, count: n, p: 0.25, seed: 77, period: 1_000)
                return m.array
            }
        }
        let one = drawn(threads: 1)
        XCTAssertEqual(one, mask(n, p: 0.25, seed: 77, period: 1_000))
        XCTAssertEqual(one, drawn(threads: 3))
    }
}
