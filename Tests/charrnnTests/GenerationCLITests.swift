import CharRNN
import Foundation
import XCTest

/// `sample --stop` (strings, repeatable), `--top-p`, `--logprobs`, `--prime-file` and `eval --per-char`,
/// end to end.
final class GenerationCLITests: CLITestCase {
    func model() throws -> String {
        let out = dir + "/run"
        let r = try train(out, steps: 60)
        XCTAssertEqual(r.status, 0, r.stderr)
        return out
    }

    func testStopStringsCutTheTextExactly() throws {
        let out = try model()
        let whole = try charrnn(["sample", "-c", out, "--prime", "to be", "--length", "300", "--seed", "4"]).stdout
        let generated = String(whole.dropFirst(5))
        let stop = try XCTUnwrap(["e q", "th", "o", "e"].first { generated.contains($0) })
        let cut = try charrnn(["sample", "-c", out, "--prime", "to be", "--length", "300", "--seed", "4", "--stop", stop, "--stop", "qqqq"])
        XCTAssertEqual(cut.status, 0, cut.stderr)
        let before = generated.components(separatedBy: stop)[0]
        XCTAssertEqual(cut.stdout, "to be" + before + (before.hasSuffix("\n") ? "" : "\n"))
        let blank = try charrnn(["sample", "-c", out, "--prime", "to be", "--length", "300", "--seed", "4", "--stop", "\\n"])
        XCTAssertEqual(blank.stdout, "to be" + generated.components(separatedBy: "\n")[0] + "\n", "one character: the model's own stop")
        assertCleanError(try charrnn(["sample", "-c", out, "--stop", ""]), "--stop must not be empty")
        assertCleanError(try charrnn(["sample", "-c", out, "--stop", "to€"]), "never saw")
    }

    func testPrimeFileIsThePrime() throws {
        let out = try model()
        let prime = "whether tis nobler in the mind\nto suffer "
        try prime.write(toFile: dir + "/prime.txt", atomically: true, encoding: .utf8)
        let a = try charrnn(["sample", "-c", out, "--prime-file", dir + "/prime.txt", "--length", "80", "--seed", "2"])
        let b = try charrnn(["sample", "-c", out, "--prime", prime, "--length", "80", "--seed", "2"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.stdout, b.stdout)
        assertCleanError(try charrnn(["sample", "-c", out, "--prime", "x", "--prime-file", dir + "/prime.txt"]), "not both")
        assertCleanError(try charrnn(["sample", "-c", out, "--prime-file", dir + "/none.txt"]), "no such file")
    }

    /// Each generated character as a JSON line; its log-probability is what `eval --per-char` gives the
    /// same character of the same text, and their mean is eval's loss.
    func testLogprobsAreTheModelsAndEvalPerCharAgrees() throws {
        let out = try model()
        let plain = try charrnn(["sample", "-c", out, "--prime", "to be", "--length", "120", "--seed", "9"]).stdout
        let scored = try charrnn(["sample", "-c", out, "--prime", "to be", "--length", "120", "--seed", "9", "--logprobs", "3"])
        XCTAssertEqual(scored.status, 0, scored.stderr)
        let lines = try scored.stdout.split(separator: "\n").map {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(lines.count, 120)
        let text = lines.map { $0["character"] as! String }.joined()
        XCTAssertEqual("to be" + text + (text.hasSuffix("\n") ? "" : "\n"), plain, "the same draws as without --logprobs")
        XCTAssertEqual(lines.map { $0["offset"] as! Int }, Array(0..<120))
        for line in lines { XCTAssertEqual((line["top"] as! [String: Double]).count, 3) }

        try ("to be" + text).write(toFile: dir + "/generated.txt", atomically: true, encoding: .utf8)
        let table = try charrnn(["eval", "-c", out, dir + "/generated.txt", "--per-char"])
        XCTAssertEqual(table.status, 0, table.stderr)
        let rows = table.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        XCTAssertEqual(rows.count, 124, "every character after the first")
        for (k, line) in lines.enumerated() {
            let row = rows[k + 4]
            XCTAssertEqual(Int(row[0]), k + 5)
            XCTAssertEqual(Double(row[2])!, -(line["logprob"] as! Double), accuracy: 2e-4, "character \(k)")
        }
        let mean = rows.map { Double($0[2])! }.reduce(0, +) / Double(rows.count)
        let summary = try charrnn(["eval", "-c", out, dir + "/generated.txt"]).stdout
        let reported = Double(summary.components(separatedBy: "cross-entropy: ")[1].split(separator: " ")[0])!
        XCTAssertEqual(mean, reported, accuracy: 2e-4)
        XCTAssertTrue(table.stderr.contains("cross-entropy: "), "the summary goes to stderr")
        assertCleanError(try charrnn(["sample", "-c", out, "--logprobs", "21"]), "--logprobs must be between 0 and 20")
        assertCleanError(try charrnn(["sample", "-c", out, "--logprobs", "2", "--interactive"]), "--interactive")
    }

    func testTopPNarrowsTheDraws() throws {
        let out = try model()
        var narrow = Set<String>(), wide = Set<String>()
        for seed in 0..<30 {
            narrow.insert(try charrnn(["sample", "-c", out, "--prime", "to b", "--length", "1", "--seed", "\(seed)", "--top-p", "0.2"]).stdout)
            wide.insert(try charrnn(["sample", "-c", out, "--prime", "to b", "--length", "1", "--seed", "\(seed)", "--temperature", "2"]).stdout)
        }
        XCTAssertLessThan(narrow.count, wide.count)
        assertCleanError(try charrnn(["sample", "-c", out, "--top-p", "0"]), "top-p")
        assertCleanError(try charrnn(["sample", "-c", out, "--top-p", "1.5"]), "top-p")
    }
}

/// `train --init-from` end to end: the message, the refusals, and a resume.
final class FineTuningCLITests: CLITestCase {
    func testInitFromSaysWhatItAddedAndRefusesAnotherShape() throws {
        let base = dir + "/base"
        XCTAssertEqual(try train(base, steps: 20).status, 0)
        try String(repeating: "xylophone zebra quiz\n", count: 100).write(toFile: dir + "/new.txt", atomically: true, encoding: .utf8)
        let r = try charrnn(["train", dir + "/new.txt", "--init-from", base, "-o", dir + "/ft", "--max-steps", "10", "--threads", "1",
                             "--sample-length", "0", "--seq-length", "16", "--batch-size", "8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("fine-tuning from \(base): lstm 2x32, vocabulary "), r.stdout)
        XCTAssertTrue(r.stdout.contains(" new characters (fresh rows)"), r.stdout)
        XCTAssertEqual(try charrnn(["train", "--resume", dir + "/ft", "--max-steps", "12"]).status, 0)
        assertCleanError(try charrnn(["train", dir + "/new.txt", "--init-from", base, "-o", dir + "/ft2", "--hidden", "64"]),
                         "--hidden 64 differs from the --init-from model's 32")
        assertCleanError(try charrnn(["train", dir + "/new.txt", "--init-from", base, "-o", dir + "/ft3", "--names"]), "drop --names")
        assertCleanError(try charrnn(["train", "--resume", dir + "/ft", "--init-from", base]), "--init-from starts a new run")
        assertCleanError(try charrnn(["train", dir + "/new.txt", "--init-from", dir + "/none", "-o", dir + "/ft4"]), "no such file")
    }
}
