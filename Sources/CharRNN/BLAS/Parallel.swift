import CCharRNNKernels

/// Splits work over the persistent worker pool (see charrnn_pool.h). With one thread everything runs
/// on the caller, in order.
public enum Parallel {
    /// Threads taking part, the caller included.
    public static var threads: Int { Int(crn_pool_threads()) }

    /// Sets the threads for charrnn's own splits; BLAS itself stays single-threaded, since charrnn
    /// splits every product it makes (OpenBLAS's threads spin between the many small products).
    public static func setThreads(_ n: Int) {
        crn_pool_set_threads(Int32(max(1, n)))
        BLAS.setLibraryThreads(1)
    }

    private final class Job {
        let body: (Int) -> Void
        init(_ body: @escaping (Int) -> Void) { self.body = body }
    }

    /// Runs body(0..<count), spread over the pool; returns when every part is done.
    public static func run(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 || threads <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            let job = Job(escapable)
            let context = Unmanaged.passUnretained(job).toOpaque()
            crn_pool_run(Int32(count), { ctx, i in
                Unmanaged<Job>.fromOpaque(ctx!).takeUnretainedValue().body(Int(i))
            }, context)
            withExtendedLifetime(job) {}
        }
    }

    /// The half-open range of part `part` when `total` items are cut into `parts` nearly equal parts.
    @inline(__always)
    public static func range(part: Int, of parts: Int, total: Int) -> Range<Int> {
        let base = total / parts, extra = total % parts
        let start = part * base + min(part, extra)
        return start..<(start + base + (part < extra ? 1 : 0))
    }

    /// body(r) for every row, rows cut into one part per thread (serial when rows are few).
    @inline(__always)
    public static func forRows(_ rows: Int, minimum: Int = 64, _ body: (Int) -> Void) {
        let parts = rows < minimum ? 1 : threads
        run(parts) { p in for r in range(part: p, of: parts, total: rows) { body(r) } }
    }

    /// Zeroes a buffer, split over the threads.
    public static func zero(_ b: FloatBuffer) {
        let parts = b.count < 1 << 16 ? 1 : threads, ptr = b.pointer, n = b.count
        run(parts) { p in
            let r = range(part: p, of: parts, total: n)
            (ptr + r.lowerBound).update(repeating: 0, count: r.count)
        }
    }

    /// body(range) over 0..<n cut into one part per thread (serial when n is small).
    public static func forRanges(_ n: Int, minimum: Int = 1 << 15, _ body: (Range<Int>) -> Void) {
        let parts = n < minimum ? 1 : threads
        run(parts) { p in body(range(part: p, of: parts, total: n)) }
    }
}
