import CCharRNNKernels
import CharRNN
import Foundation
import XCTest

final class KernelTests: XCTestCase {
    func testVectorisedMathMatchesLibm() {
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
    /// (and the 14-row one of the AVX-512 kernel), column counts around the 16-column panel, both weight
    /// layouts, overwrite and accumulate; with each kernel this CPU has. The two kernels give the same bits.
    func testPackedProductMatchesNaive() {
        let automatic = crn_packed_kernel_width()
        defer { crn_packed_set_kernel_width(0) }
        XCTAssertEqual(crn_packed_set_kernel_width(8), 8)
        let eight = packedProducts()
        guard crn_packed_set_kernel_width(16) == 16 else {
            XCTAssertEqual(automatic, 8)
            print("KernelTests: no AVX-512 on this CPU, so only the 8-lane packed kernel was checked")
            return
        }
        XCTAssertEqual(automatic, getenv("CHARRNN_AVX512").map { String(cString: $0) } == "0" ? 8 : 16)
        let sixteen = packedProducts()
        XCTAssertEqual(eight.count, sixteen.count)
        if crn_packed_built_with_fma() == 1 {
            XCTAssertEqual(eight.map(\.bitPattern), sixteen.map(\.bitPattern), "the 8- and 16-lane kernels differ")
        } else {
            for (a, b) in zip(eight, sixteen) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        }
    }

    /// Every product of testPackedProductMatchesNaive with the kernel in use, checked and concatenated.
    private func packedProducts() -> [Float] {
        var all: [Float] = []
        var rng = RandomGenerator(seed: 9)
        for (K, N) in [(1, 1), (7, 16), (13, 33), (64, 100), (37, 48)] {
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
