import CCharRNNKernels

/// Splits work over the persistent worker pool (see charrnn_pool.h). With one thread everything runs
/// on the caller, in order.
package enum Parallel {
    /// Threads taking part, the caller included.
    package static var threads: Int { Int(crn_pool_threads()) }

    /// Sets the threads for charrnn's own splits; BLAS itself stays single-threaded, since charrnn
    /// splits every product it makes (OpenBLAS's threads spin between the many small products).
    package static func setThreads(_ n: Int) {
        crn_pool_set_threads(Int32(max(1, n)))
        BLAS.setLibraryThreads(1)
    }

    private final class Job {
        let body: (Int) -> Void
        init(_ body: @escaping (Int) -> Void) { self.body = body }
    }

    /// Hands body to a pool entry point as its C task and context, for the duration of the call.
    private static func onPool(_ body: (Int) -> Void,
                               _ start: (crn_task_fn, UnsafeMutableRawPointer) -> Void) {
        withoutActuallyEscaping(body) { escapable in
            let job = Job(escapable)
            start({ ctx, i in Unmanaged<Job>.fromOpaque(ctx!).takeUnretainedValue().body(Int(i)) },
                  Unmanaged.passUnretained(job).toOpaque())
            withExtendedLifetime(job) {}
        }
    }

    /// Runs body(0..<count), spread over the pool; returns when every part is done.
    package static func run(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 || threads <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        onPool(body) { crn_pool_run(Int32(count), $0, $1) }
    }

    /// Runs body(part) for every part in 0..<parts (at most the threads; all of them unless asked for
    /// fewer), each on its own thread at the same time, so that the parts may wait for each other at
    /// `barrier()`: work with a sequential dependency (the steps of a recurrence, the blocks of a product)
    /// split over threads without a pool job per step.
    package static func together(parts: Int = threads, _ body: (Int) -> Void) {
        if parts <= 1 {
            body(0)
            return
        }
        onPool(body) { task, context in
            let ran = crn_pool_run_together(Int32(parts), task, context)
            precondition(ran != 0, "more parts than the pool's threads run together")
        }
    }

    /// Inside `together`: returns when every part has reached it; what each part wrote before it is
    /// visible to every part after it. Outside `together` (or with one thread) it returns at once.
    @inline(__always)
    package static func barrier() { crn_pool_barrier() }

    /// The half-open range of part `part` when `total` items are cut into `parts` nearly equal parts.
    @inline(__always)
    package static func range(part: Int, of parts: Int, total: Int) -> Range<Int> {
        let base = total / parts, extra = total % parts
        let start = part * base + min(part, extra)
        return start..<(start + base + (part < extra ? 1 : 0))
    }

    /// The least work worth giving a thread. What another core writes stays in its cache, and the
    /// caller's next, often serial, work (the recurrence, the optimizer) fetches it from there: on a
    /// 2-core VM whose cores were far apart (a cache line's round trip 370 ns), a batch-1 RNN step that
    /// split its 0.4-2M multiply-add products and 10-20k-float copies in two ran its serial recurrence
    /// 31% and its optimizer 2.4 times slower than on one thread, and the whole step 15% slower. So a
    /// part gets at least 2M multiply-adds of a product or 16k floats of a copy, sum or update: work
    /// under twice that runs on the caller (every size in that step does), and larger work takes one
    /// thread per such part, up to all of them (every training row of a batch of 32 or more shares).
    /// (Tests set both to 0, so that models small enough to check take every split path.)
    nonisolated(unsafe) public static var minimumMACsPerPart = 1 << 21
    nonisolated(unsafe) public static var minimumFloatsPerPart = 1 << 14

    /// Runs body with every size shared among all the threads (for tests of the split paths).
    package static func sharingEverything<R>(_ body: () throws -> R) rethrows -> R {
        let saved = (minimumMACsPerPart, minimumFloatsPerPart)
        (minimumMACsPerPart, minimumFloatsPerPart) = (0, 0)
        defer { (minimumMACsPerPart, minimumFloatsPerPart) = saved }
        return try body()
    }

    /// Parts for a product of `macs` multiply-adds: one per minimumMACsPerPart, at least 1, at most the threads.
    @inline(__always)
    package static func parts(macs: Int) -> Int { parts(work: macs, perPart: minimumMACsPerPart) }

    /// Parts for memory-bound work (copies, adds, sums, updates) over `floats` floats: one per minimumFloatsPerPart.
    @inline(__always)
    package static func parts(floats: Int) -> Int { parts(work: floats, perPart: minimumFloatsPerPart) }

    @inline(__always)
    private static func parts(work: Int, perPart: Int) -> Int {
        perPart <= 0 ? threads : max(1, min(threads, work / perPart))
    }

    /// body(r) for every row of `rowLength` floats, rows cut into one part per thread (serial when small).
    @inline(__always)
    package static func forRows(_ rows: Int, rowLength: Int, _ body: (Int) -> Void) {
        let parts = min(parts(floats: rows * rowLength), max(rows, 1))
        run(parts) { p in for r in range(part: p, of: parts, total: rows) { body(r) } }
    }

    /// Zeroes a buffer, split over the threads.
    package static func zero(_ b: FloatBuffer) {
        let parts = parts(floats: b.count), ptr = b.pointer, n = b.count
        run(parts) { p in
            let r = range(part: p, of: parts, total: n)
            (ptr + r.lowerBound).update(repeating: 0, count: r.count)
        }
    }

    /// body(range) over 0..<n cut into one part per thread (serial when n is small).
    package static func forRanges(_ n: Int, _ body: (Range<Int>) -> Void) {
        let parts = parts(floats: n)
        run(parts) { p in body(range(part: p, of: parts, total: n)) }
    }

    /// One thread's share of a product split in two dimensions: a block of rows times a run of column
    /// panels. A thread that keeps its tile from one product to the next reads only its panels of the
    /// weights, which stay in its own cache.
    package struct Tile: Sendable {
        package let rows: Range<Int>
        package let panels: Range<Int>
    }

    /// The tile of part `part` when a [rows, columns] product is cut into at most `parts` tiles: as many
    /// column groups as the parts allow with at least two panels each (each thread reads less of the
    /// weights), then the rows cut to use the other parts. Parts beyond the grid get an empty tile.
    /// Two panels, because the packed kernel's tiles hold two panels' accumulators: a one-panel run went
    /// at two thirds of the speed on a Zen 5 core (64 rows by one panel over k = 1024, as 16 threads cut
    /// a 2x256 LSTM's backward steps: 172 GFLOP/s; 32 rows by two panels: 239; 64 by two: 257).
    package static func tile(part: Int, of parts: Int, rows: Int, columns: Int, panelWidth: Int) -> Tile {
        let panels = (columns + panelWidth - 1) / panelWidth
        var best = (used: 0, rowBlocks: 1, groups: 1)
        for groups in stride(from: min(parts, max(1, panels / 2)), through: 1, by: -1) {
            let rowBlocks = min(parts / groups, max(rows, 1))
            if rowBlocks * groups > best.used { best = (rowBlocks * groups, rowBlocks, groups) }
        }
        guard part < best.used else { return Tile(rows: 0..<0, panels: 0..<0) }
        return Tile(rows: range(part: part / best.groups, of: best.rowBlocks, total: rows),
                    panels: range(part: part % best.groups, of: best.groups, total: panels))
    }
}
