import CCharRNNKernels
import CharRNN
import Foundation
import XCTest

final class KernelTests: XCTestCase {
    /// `body`'s result with the 8-lane kernels and, where the CPU has AVX-512, with the 16-lane ones, in
    /// that order. The automatic choice is restored afterwards.
    private func atEachKernelWidth<R>(_ body: () -> R) -> [R] {
        defer { crn_set_kernel_width(0) }
        XCTAssertEqual(crn_set_kernel_width(8), 8)
        let eight = body()
        guard crn_set_kernel_width(16) == 16 else { return [eight] }
        return [eight, body()]
    }

    /// The 8- and 16-lane kernels' outputs (from atEachKernelWidth) are the same bits, or within
    /// `tolerance(value)` where the plain build has no FMA to fuse as the AVX-512 one does.
    private func assertKernelWidthsAgree(_ outputs: [[Float]], _ what: String, tolerance: (Float) -> Float) {
        guard outputs.count == 2 else {
            print("KernelTests: no AVX-512 on this CPU, so only the 8-lane \(what) ran")
            return
        }
        XCTAssertEqual(outputs[0].count, outputs[1].count)
        if crn_built_with_fma() == 1 {
            XCTAssertEqual(outputs[0].map(\.bitPattern), outputs[1].map(\.bitPattern), "the 8- and 16-lane \(what) differ")
        } else {
            for (a, b) in zip(outputs[0], outputs[1]) { XCTAssertEqual(a, b, accuracy: tolerance(a)) }
        }
    }

    /// The cells' gate kernels forward and backward (LSTM, GRU, tanh and ReLU RNN) at
    /// row widths around the 16-lane vector: the 8- and 16-lane builds give the same bits (within 1e-6
    /// where the plain build has no FMA to fuse as the AVX-512 one does).
    func testCellKernelsAgreeAtBothWidths() {
        let outputs = atEachKernelWidth { () -> [Float] in
            var rng = RandomGenerator(seed: 21)
            func values(_ n: Int, _ scale: Float = 6) -> [Float] { (0..<n).map { _ in (rng.nextFloat() - 0.5) * scale } }
            var all: [Float] = []
            for (B, H) in [(1, 1), (2, 5), (3, 16), (2, 17), (1, 33), (4, 128)] {
                var gates = values(B * 4 * H), c = [Float](repeating: 0, count: B * H), h = c
                let bias = values(4 * H, 1), cPrev = values(B * H, 2)
                crn_lstm_forward(Int32(B), Int32(H), &gates, bias, cPrev, &c, &h)
                var dc = values(B * H, 1), dgates = [Float](repeating: 0, count: B * 4 * H)
                crn_lstm_backward(Int32(B), Int32(H), gates, cPrev, c, values(B * H, 1), values(B * H, 1), &dc, &dgates)
                let xp = values(B * 3 * H), hp = values(B * 3 * H), hPrev = values(B * H, 2)
                var act = [Float](repeating: 0, count: B * 3 * H), gh = [Float](repeating: 0, count: B * H)
                crn_gru_forward(Int32(B), Int32(H), xp, hp, hPrev, &act, &gh)
                var dxp = act, dhp = act, dhPrev = gh
                crn_gru_backward(Int32(B), Int32(H), act, hp, hPrev, values(B * H, 1), nil, &dxp, &dhp, &dhPrev)
                var tanhH = gh, reluH = gh
                crn_rnn_forward(Int32(B), Int32(H), xp, bias, &tanhH, 0)
                crn_rnn_forward(Int32(B), Int32(H), xp, bias, &reluH, 1)
                all += gates + c + h + dc + dgates + act + gh + dxp + dhp + dhPrev + tanhH + reluH
            }
            XCTAssertTrue(all.allSatisfy(\.isFinite))
            return all
        }
        assertKernelWidthsAgree(outputs, "cell kernels") { 1e-6 * max(1, abs($0)) }
    }

    func testVectorisedMathMatchesLibm() {
        _ = atEachKernelWidth(vectorisedMathMatchesLibm)
    }

    private func vectorisedMathMatchesLibm() {
        let xs = stride(from: -30.0, through: 30.0, by: 0.0137).map { Float($0) }
        var y = [Float](repeating: 0, count: xs.count)
        crn_exp(xs, &y, xs.count)
        for (x, v) in zip(xs, y) { XCTAssertEqual(v, Foundation.exp(x), accuracy: 3e-7 * Foundation.exp(x), "exp(\(x))") }
        crn_sigmoid(xs, &y, xs.count)
        for (x, v) in zip(xs, y) { XCTAssertEqual(v, 1 / (1 + Foundation.exp(-x)), accuracy: 2e-7, "sigmoid(\(x))") }
        crn_tanh(xs, &y, xs.count)
        for (x, v) in zip(xs, y) { XCTAssertEqual(v, Foundation.tanh(x), accuracy: 3e-7, "tanh(\(x))") }
    }

    /// The packed small-M product against a plain triple loop, over row counts around the 6-row tile
    /// (and the 14-row one of the AVX-512 kernel), column counts around the 16-column panel and panel
    /// counts from 1 to 13 (the AVX-512 kernel takes one or two rows eight panels at a time, then the rest
    /// together), both weight layouts, overwrite and accumulate; with each kernel this CPU has. The two
    /// kernels give the same bits.
    func testPackedProductMatchesNaive() {
        XCTAssertEqual(crn_kernel_width(), getenv("CHARRNN_AVX512").map { String(cString: $0) } == "0" || crn_cpu_has_avx512f() == 0 ? 8 : 16)
        assertKernelWidthsAgree(atEachKernelWidth(packedProducts), "packed kernels") { _ in 1e-5 }
    }

    /// Every product of testPackedProductMatchesNaive with the kernel in use, checked and concatenated.
    private func packedProducts() -> [Float] {
        var all: [Float] = []
        var rng = RandomGenerator(seed: 9)
        for (K, N) in [(1, 1), (7, 16), (13, 33), (64, 100), (37, 48), (4, 32), (11, 64), (5, 130), (3, 96), (9, 200)] {
            let W = (0..<K * N).map { _ in rng.nextFloat() - 0.5 }
            for transposed in [false, true] {
                // transposed: W is stored N x K and B[k, n] = W[n, k]; else W is K x N.
                func b(_ k: Int, _ n: Int) -> Float { transposed ? W[n * K + k] : W[k * N + n] }
                var packed = [Float](repeating: .nan, count: crn_packed_size(Int32(K), Int32(N)))
                let panels = Int32((N + 15) / 16)
                // Two calls over disjoint panel ranges, as threads share the packing.
                crn_pack_b(Int32(K), Int32(N), W, Int32(transposed ? K : N), transposed ? 1 : 0, &packed, 0, panels / 2)
                crn_pack_b(Int32(K), Int32(N), W, Int32(transposed ? K : N), transposed ? 1 : 0, &packed, panels / 2, panels)
                for M in [1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 14, 15, 29] {
                    let A = (0..<M * K).map { _ in rng.nextFloat() - 0.5 }
                    let C0 = (0..<M * N).map { _ in rng.nextFloat() }
                    for accumulate in [false, true] {
                        var C = C0
                        crn_gemm_packed(Int32(M), Int32(N), Int32(K), A, Int32(K), packed, &C, Int32(N), accumulate ? 1 : 0)
                        // A stored [K, M + 2] and read as its transpose: the same chains, so the same bits.
                        var At = [Float](repeating: .nan, count: K * (M + 2)), Ct = C0
                        for i in 0..<M { for k in 0..<K { At[k * (M + 2) + i] = A[i * K + k] } }
                        crn_gemm_packed_at(Int32(M), Int32(N), Int32(K), At, Int32(M + 2), packed, &Ct, Int32(N), accumulate ? 1 : 0)
                        XCTAssertEqual(Ct.map(\.bitPattern), C.map(\.bitPattern), "A^T: M \(M) K \(K) N \(N)")
                        for i in 0..<M {
                            for n in 0..<N {
                                var want: Float = accumulate ? C0[i * N + n] : 0
                                for k in 0..<K { want += A[i * K + k] * b(k, n) }
                                XCTAssertEqual(C[i * N + n], want, accuracy: 1e-4, "M \(M) K \(K) N \(N) t \(transposed) acc \(accumulate)")
                            }
                        }
                        all += C
                    }
                }
            }
        }
        return all
    }

    /// The sum of squares (sixteen partial sums and a scalar tail) against a plain double loop, at
    /// lengths around the sixteen.
    func testSumOfSquares() {
        var rng = RandomGenerator(seed: 4)
        for n in [0, 1, 15, 16, 17, 31, 100, 1000, 4099] {
            let x = (0..<n).map { _ in (rng.nextFloat() - 0.5) * 10 }
            let want = x.reduce(0.0) { $0 + Double($1) * Double($1) }
            XCTAssertEqual(crn_sumsq(x, n), want, accuracy: 1e-12 * max(1, want), "n \(n)")
        }
    }

    func testExtremeInputsStayFinite() {
        let xs: [Float] = [-1e30, -200, -88, 88, 200, 1e30]
        var y = [Float](repeating: 0, count: xs.count)
        crn_sigmoid(xs, &y, xs.count)
        XCTAssertEqual(y[0], 0, accuracy: 1e-30); XCTAssertEqual(y[5], 1)
        crn_tanh(xs, &y, xs.count)
        XCTAssertEqual(y[0], -1); XCTAssertEqual(y[5], 1)
        XCTAssertTrue(y.allSatisfy { $0.isFinite })
    }

    func testSoftmaxCrossEntropy() {
        var logits: [Float] = [1, 2, 3, 0, 0, 0]
        let targets: [Int32] = [2, 0]
        let loss = crn_softmax_xent(2, 3, &logits, targets, 0.5, 1)
        let l0 = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3, l1 = log(3.0)
        XCTAssertEqual(loss, l0 + l1, accuracy: 1e-6)
        XCTAssertEqual(Double(logits[2]), 0.5 * (exp(3.0) / (exp(1.0) + exp(2.0) + exp(3.0)) - 1), accuracy: 1e-6)
        XCTAssertEqual(Double(logits[3]), 0.5 * (1.0 / 3 - 1), accuracy: 1e-6)
    }

    /// The vectorised softmax (eight lanes, a scalar tail) against a double-precision one at every length
    /// around the lane width and a Chinese-sized vocabulary, with the maximum in the tail and large
    /// negative logits (whose padding lanes must not count).
    func testSoftmaxAtEveryLengthAgainstDoublePrecision() {
        var rng = RandomGenerator(seed: 3)
        for V in [1, 2, 7, 8, 9, 15, 16, 17, 65, 2574] {
            var row = (0..<V).map { _ in Float(rng.nextDouble() * 8 - 60) }
            row[V - 1] = -40
            let m = Double(row.max()!)
            let e = row.map { exp(Double($0) - m) }, s = e.reduce(0, +)
            var logits = row
            let target = Int32(V / 2)
            let loss = crn_softmax_xent(1, Int32(V), &logits, [target], 1, 1)
            XCTAssertEqual(loss, log(s) - (Double(row[Int(target)]) - m), accuracy: 1e-5, "V = \(V)")
            for j in 0..<V {
                XCTAssertEqual(Double(logits[j]), e[j] / s - (j == Int(target) ? 1 : 0), accuracy: 1e-6, "V = \(V), j = \(j)")
            }
            var p = [Float](repeating: -1, count: V)
            crn_softmax_temperature(Int32(V), row, 0.5, &p)
            let e2 = row.map { exp((Double($0) - m) * 0.5) }, s2 = e2.reduce(0, +)
            for j in 0..<V { XCTAssertEqual(Double(p[j]), e2[j] / s2, accuracy: 1e-6, "V = \(V), j = \(j)") }
        }
    }

    func testGemmAgainstNaiveProduct() {
        let m = 5, n = 4, k = 3
        let a = (0..<(m * k)).map { Float($0) * 0.1 }, b = (0..<(k * n)).map { Float($0) * -0.2 + 1 }
        for transB in [false, true] {
            // For transB, store B^T ([n, k]) holding the same values.
            var bt = [Float](repeating: 0, count: k * n)
            for p in 0..<k { for j in 0..<n { bt[j * k + p] = b[p * n + j] } }
            for rows in [m, 1] {
                var c = [Float](repeating: 7, count: rows * n)
                BLAS.gemm(transB: transB, m: rows, n: n, k: k, a: a, lda: k, b: transB ? bt : b, ldb: transB ? k : n,
                          beta: 0, c: &c, ldc: n)
                for i in 0..<rows {
                    for j in 0..<n {
                        var s: Float = 0
                        for p in 0..<k { s += a[i * k + p] * b[p * n + j] }
                        XCTAssertEqual(c[i * n + j], s, accuracy: 1e-4, "rows \(rows) transB \(transB)")
                    }
                }
            }
        }
    }
}
