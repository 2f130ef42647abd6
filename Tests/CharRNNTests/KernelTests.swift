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
