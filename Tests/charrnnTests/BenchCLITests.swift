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

    /// `--phases`: each training row's step timed phase by phase, the phases adding up to the step the
    /// table above measured; with `--threads-sweep`, a block per row with a line per thread count.
    func testPhasesAddUpToTheStep() throws {
        let r = try charrnn(["bench", "--rows", "train", "--seconds", "0.1", "--threads", "2", "--batch", "8", "--phases"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("ms per training step by phase") }) else {
            return XCTFail("no phase table: \(r.stdout)")
        }
        let steps = lines[..<start].filter { $0.hasPrefix("train ") }, phased = lines[start...].filter { $0.hasPrefix("train ") }
        XCTAssertEqual(steps.count, 6, r.stdout)
        XCTAssertEqual(phased.count, 6, r.stdout)
        let header = lines[start + 1]
        for name in ["input", "forward", "decoder", "loss", "backward", "weight grads", "update", "other", "total"] {
            XCTAssertTrue(header.contains(name), header)
        }
        for (step, line) in zip(steps, phased) {
            let fields = line.split(separator: " ")
            // A row's name is six words, then threads, chars/s and ms/step; the phase line has eight
            // "ms (share%)" pairs, then the total.
            let msPerStep = try XCTUnwrap(Double(step.split(separator: " ")[8]), step)
            let phases = try fields.indices.filter { fields[$0].hasPrefix("(") }.map { try XCTUnwrap(Double(fields[$0 - 1]), line) }
            XCTAssertEqual(phases.count, 8, line)
            let total = try XCTUnwrap(Double(fields.last!), line)
            XCTAssertEqual(phases.reduce(0, +), total, accuracy: 0.03 + 0.01 * total, line)
            XCTAssertEqual(total, msPerStep, accuracy: 0.05 * msPerStep + 0.02, "\(line) against \(step)")
            if line.contains("LSTM") {
                XCTAssertTrue(phases[1] > 0 && phases[4] > 0 && phases[5] > 0, "forward, backward and weight gradients: \(line)")
            }
        }
        let sweep = try charrnn(["bench", "--rows", "train", "--seconds", "0.05", "--threads-sweep", "1,2", "--batch", "4", "--phases"])
        XCTAssertEqual(sweep.status, 0, sweep.stderr)
        let blocks = sweep.stdout.components(separatedBy: "ms per training step by phase").last!
        XCTAssertEqual(blocks.split(separator: "\n").filter { $0.hasPrefix("  1 ") || $0.hasPrefix("  2 ") }.count, 12, sweep.stdout)
        assertCleanError(try charrnn(["bench", "--phases", "--rows", "sample"]), "--phases times the training rows")
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
