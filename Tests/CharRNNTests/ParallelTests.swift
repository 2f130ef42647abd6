import CharRNN
import XCTest

/// How much of the pool a piece of work takes (Parallel.parts): one thread per part of at least
/// minimumMACsPerPart or minimumFloatsPerPart, so small work stays on the caller and more threads
/// never cut it finer than pays.
final class ParallelTests: XCTestCase {
    override func tearDown() { BLAS.setThreads(1) }

    func testPartsGrowWithTheWork() {
        BLAS.setThreads(8)
        let macs = Parallel.minimumMACsPerPart, floats = Parallel.minimumFloatsPerPart
        XCTAssertEqual(Parallel.parts(macs: 0), 1)
        XCTAssertEqual(Parallel.parts(macs: 2 * macs - 1), 1, "under two parts' worth runs on the caller")
        XCTAssertEqual(Parallel.parts(macs: 2 * macs), 2)
        XCTAssertEqual(Parallel.parts(macs: 5 * macs + 1), 5)
        XCTAssertEqual(Parallel.parts(macs: 100 * macs), 8, "never more parts than threads")
        XCTAssertEqual(Parallel.parts(floats: 2 * floats - 1), 1)
        XCTAssertEqual(Parallel.parts(floats: 3 * floats), 3)
        XCTAssertEqual(Parallel.parts(floats: 1 << 30), 8)
        Parallel.sharingEverything {
            XCTAssertEqual(Parallel.parts(macs: 1), 8)
            XCTAssertEqual(Parallel.parts(floats: 1), 8)
        }
        XCTAssertEqual(Parallel.parts(floats: 1), 1, "sharingEverything puts the sizes back")
        BLAS.setThreads(1)
        XCTAssertEqual(Parallel.parts(macs: 100 * macs), 1)
    }

    /// A product cut into fewer parts than there are threads (3 of 8), by rows and by columns, gives
    /// the product of one call.
    func testProductInFewerPartsThanThreads() {
        BLAS.setThreads(8)
        var rng = RandomGenerator(seed: 5)
        for (m, n) in [(240, 100), (12, 2000)] {
            let k = 3 * Parallel.minimumMACsPerPart / (m * n) + 1
            XCTAssertEqual(Parallel.parts(macs: m * n * k), 3)
            let a = (0..<m * k).map { _ in rng.nextFloat() - 0.5 }, b = (0..<k * n).map { _ in rng.nextFloat() - 0.5 }
            var whole = [Float](repeating: 0, count: m * n), split = whole
            BLAS.gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &whole, ldc: n)
            BLAS.pgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &split, ldc: n)
            assertClose(split, whole, rtol: 1e-5, atol: 1e-5, "\(m)x\(n)x\(k) in 3 parts")
        }
    }
}

/// The weight gradients' product (SharedPanelProduct): C += A^T B against a double-precision loop, at
/// sizes around the kernel's tiles, the panels and the blocks of k, and the same bits whatever the
/// threads.
final class SharedPanelProductTests: XCTestCase {
    override func tearDown() { BLAS.setThreads(1) }

    private func product(m: Int, n: Int, k: Int, threads: Int, seed: UInt64) -> (got: [Float], want: [Double]) {
        var rng = RandomGenerator(seed: seed)
        let lda = m + 3, ldb = n + 5, ldc = n + 2
        let a = (0..<k * lda).map { _ in rng.nextFloat() - 0.5 }, b = (0..<k * ldb).map { _ in rng.nextFloat() - 0.5 }
        var c = (0..<m * ldc).map { _ in rng.nextFloat() - 0.5 }
        var want = c.map(Double.init)
        for i in 0..<m {
            for j in 0..<n {
                for p in 0..<k { want[i * ldc + j] += Double(a[p * lda + i]) * Double(b[p * ldb + j]) }
            }
        }
        BLAS.setThreads(threads)
        Parallel.sharingEverything {
            SharedPanelProduct().accumulateSharingPanels(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, into: &c, ldc: ldc)
        }
        return (c, want)
    }

    func testMatchesNaiveAndDoesNotDependOnThreads() {
        let block = SharedPanelProduct.kBlock
        // (3, 40, ...) on 4 threads: fewer rows than threads, so 3 of the 4 run together.
        for (m, n, k) in [(1, 1, 1), (13, 17, block - 1), (29, 33, block), (30, 16, block + 1), (100, 70, 2 * block + 7), (5, 3, 4),
                          (3, 40, 2 * block + 1)] {
            var first: [Float]?
            for threads in [1, 2, 3, 4] {
                let (got, want) = product(m: m, n: n, k: k, threads: threads, seed: UInt64(m * 1000 + n))
                for (g, w) in zip(got, want) {
                    XCTAssertEqual(Double(g), w, accuracy: 1e-5 * Double(k).squareRoot() + 1e-6, "\(m)x\(n)x\(k) on \(threads)")
                }
                if let first {
                    XCTAssertEqual(got.map(\.bitPattern), first.map(\.bitPattern), "\(m)x\(n)x\(k): \(threads) threads changed bits")
                } else {
                    first = got
                }
            }
        }
    }
}
