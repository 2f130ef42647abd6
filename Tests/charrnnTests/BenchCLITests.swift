import Foundation
import XCTest

/// `charrnn bench --threads-sweep`: every row at each thread count, in one table.
final class BenchCLITests: CLITestCase {
    func testThreadsSweepPrintsEveryRowAtEveryCount() throws {
        let r = try charrnn(["bench", "--rows", "sample", "--seconds", "0.05", "--threads-sweep", "2,1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.hasPrefix("config") && $0.contains("1 thr") && $0.contains("2 thr") }, r.stdout)
        let rows = lines.filter { $0.hasPrefix("sample ") }
        XCTAssertEqual(rows.count, 3, r.stdout)
        for row in rows {
            XCTAssertTrue(row.contains("x1.00"), "speed-up against one thread: \(row)")
            XCTAssertFalse(row.contains("nan"), String(row))
        }
        assertCleanError(try charrnn(["bench", "--threads-sweep", "1,x"]), "--threads-sweep")
        assertCleanError(try charrnn(["bench", "--threads-sweep", "1,1000"]), "--threads")
    }

    /// `--split` and `--batch` reach the child processes: a forced split and batch show in the rows' names
    /// and the rows train (finite loss); nonsense values are one line.
    func testSplitAndBatchReachEveryRow() throws {
        let r = try charrnn(["bench", "--rows", "train", "--seconds", "0.05", "--threads", "2", "--split", "tiles",
                             "--batch", "4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = r.stdout.split(separator: "\n").filter { $0.hasPrefix("train ") }
        XCTAssertEqual(rows.count, 6, r.stdout)
        XCTAssertTrue(rows.allSatisfy { $0.contains(" b4 ") && !$0.contains("failed") }, r.stdout)
        assertCleanError(try charrnn(["bench", "--split", "columns"]), "--split must be auto, rows or tiles")
        assertCleanError(try charrnn(["bench", "--batch", "0"]), "--batch must be between 1 and 4096")
    }
}
