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
}
