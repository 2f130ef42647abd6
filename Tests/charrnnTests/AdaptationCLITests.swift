import CharRNN
import Foundation
import XCTest

/// `eval --dynamic` and `sample --adapt`, end to end.
final class AdaptationCLITests: CLITestCase {
    func figures(_ table: String, _ row: String) throws -> [Double] {
        let line = try XCTUnwrap(table.split(separator: "\n").first { $0.hasPrefix(row) }, "no \(row) row in\n\(table)")
        return line.dropFirst(row.count).split(separator: " ").compactMap { Double($0) }
    }

    func testEvalDynamicReportsStaticAndDynamicSideBySide() throws {
        let out = dir + "/run"
        XCTAssertEqual(try train(out, steps: 60).status, 0)
        let plain = try charrnn(["eval", "-c", out, text])
        let dynamic = try charrnn(["eval", "-c", out, text, "--dynamic", "--adapt-lr", "0.0003"])
        XCTAssertEqual(dynamic.status, 0, dynamic.stderr)
        XCTAssertTrue(dynamic.stdout.contains("segments of 50 characters from \(text)"), dynamic.stdout)
        let nats = try figures(dynamic.stdout, "cross-entropy (nats)")
        XCTAssertEqual(nats.count, 2)
        XCTAssertTrue(plain.stdout.contains("cross-entropy: \(fmt(nats[0], 4)) nats/char"), "static is eval's\n\(plain.stdout)")
        XCTAssertLessThan(nats[1], nats[0], "a text the model was trained on, read again: adapting still helps")
        XCTAssertEqual(try figures(dynamic.stdout, "seconds").count, 2)

        let rows = try charrnn(["eval", "-c", out, text, "--dynamic", "--adapt-lr", "0.0003", "--per-char"])
        XCTAssertEqual(rows.status, 0, rows.stderr)
        XCTAssertTrue(rows.stderr.contains("cross-entropy: \(fmt(nats[1], 4)) nats/char"), "the rows' mean is the dynamic loss\n\(rows.stderr)")
        let chars = try String(contentsOfFile: text, encoding: .utf8).unicodeScalars.count
        XCTAssertEqual(rows.stdout.split(separator: "\n").count, chars, "a header and a row per predicted character")

        assertCleanError(try charrnn(["eval", "-c", out, text, "--adapt-lr", "0.001"]), "add it")
        assertCleanError(try charrnn(["eval", "-c", out, text, "--dynamic", "--adapt-lr", "0"]), "learning rate must be above 0")
        assertCleanError(try charrnn(["eval", "-c", out, text, "--dynamic", "--adapt-segment", "0"]), "at least 1 character")
        assertCleanError(try charrnn(["eval", "-c", out, text, "--dynamic", "--statistics-text", dir + "/none.txt"]),
                         "give --statistics-text")
    }

    func testSampleAdaptsToThePrime() throws {
        let out = dir + "/run"
        XCTAssertEqual(try train(out, steps: 60).status, 0)
        let base = ["sample", "-c", out, "--prime", "to be or ", "--length", "200", "--seed", "3"]
        let plain = try charrnn(base)
        let adapted = try charrnn(base + ["--adapt", "--adapt-lr", "0.003"])
        XCTAssertEqual(adapted.status, 0, adapted.stderr)
        XCTAssertTrue(adapted.stderr.contains("adapted to the prime's 9 characters"), adapted.stderr)
        XCTAssertTrue(adapted.stdout.hasPrefix("to be or "))
        XCTAssertNotEqual(adapted.stdout, plain.stdout, "the adapted weights draw another text")
        let again = try charrnn(base + ["--adapt", "--adapt-lr", "0.003"])
        XCTAssertEqual(again.stdout, adapted.stdout, "deterministic")

        assertCleanError(try charrnn(["sample", "-c", out, "--adapt"]), "at least 2 characters")
        assertCleanError(try charrnn(["sample", "-c", out, "--prime", "the", "--adapt", "--interactive"]), "--interactive")
        assertCleanError(try charrnn(["sample", "-c", out, "--prime", "the", "--adapt-lr", "0.1"]), "add it")
    }
}
