import Foundation
import XCTest

/// `charrnn train FILE` with no model options chooses the settings, says which and why in one line,
/// and keeps them on resume; options given win; a shape option or a preset leaves the choice to the user.
final class AutomaticSettingsCLITests: CLITestCase {
    func settingsLine(_ r: Run) -> String? {
        r.stdout.split(separator: "\n").first { $0.hasPrefix("settings: ") }.map(String.init)
    }

    func testNoModelOptionsChoosesSaysWhyAndTheRunKeepsTheChoice() throws {
        let out = dir + "/auto"
        let r = try charrnn(["train", text, "-o", out, "--max-steps", "30", "--threads", "1", "--sample-length", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let line = try XCTUnwrap(settingsLine(r), r.stdout)
        // About 5,500 training characters: 4 streams of 50 give 27 batches an epoch; 30 steps see 6,000
        // characters. The smallest model has 12 weights a character: read once, it is regularised.
        XCTAssertTrue(line.contains("30 steps on 1 thread: LSTM 2x64, dropout 0.25, batch 4 x 50, AdamW 0.002 cosine, validation every 10 steps"), line)
        XCTAssertTrue(line.contains("Why: about 6k characters to train on (1.1 epochs)"), line)
        XCTAssertTrue(line.contains("no early stop"), "about 600 held-out characters say too little to stop on: \(line)")
        assertCleanError(try charrnn(["train", "--resume", out, "--hidden", "128", "--max-steps", "31"]), "the resumed run's 64")
        let more = try charrnn(["train", "--resume", out, "--max-steps", "40"])
        XCTAssertEqual(more.status, 0, more.stderr)
        XCTAssertNil(settingsLine(more), "a resumed run keeps its settings")
    }

    func testGivenOptionsWinAndAShapeOrAPresetLeavesTheChoiceToTheUser() throws {
        let given = dir + "/given"
        let r = try charrnn(["train", text, "-o", given, "--max-steps", "20", "--threads", "1", "--dropout", "0.3", "--batch-size", "8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(try XCTUnwrap(settingsLine(r), r.stdout).contains("batch 8 x 50"), "planned with the batch given")
        assertCleanError(try charrnn(["train", "--resume", given, "--dropout", "0.5", "--max-steps", "21"]), "the resumed run's 0.3")

        let shaped = try charrnn(["train", text, "-o", dir + "/shaped", "--max-steps", "5", "--val-characters", "100"] + small)
        XCTAssertEqual(shaped.status, 0, shaped.stderr)
        XCTAssertNil(settingsLine(shaped))
        XCTAssertTrue(shaped.stdout.contains(" training and 100 validation characters"), shaped.stdout)
        assertCleanError(try charrnn(["train", "--resume", dir + "/shaped", "--val-characters", "200", "--max-steps", "6"]), "the resumed run's 100")

        let preset = dir + "/char-rnn"
        let old = try charrnn(["train", text, "-o", preset, "--preset", "char-rnn", "--max-steps", "3", "--threads", "1"])
        XCTAssertEqual(old.status, 0, old.stderr)
        XCTAssertNil(settingsLine(old))
        assertCleanError(try charrnn(["train", "--resume", preset, "--hidden", "64", "--max-steps", "4"]), "the resumed run's 128")
        assertCleanError(try charrnn(["train", "--resume", preset, "--batch-size", "8", "--max-steps", "4"]), "the resumed run's 50")
    }

    func testATimeBudgetIsPlannedWithTheMachinesMeasuredSpeed() throws {
        let r = try charrnn(["train", text, "-o", dir + "/timed", "--max-time", "2", "--threads", "1", "--sample-length", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let line = try XCTUnwrap(settingsLine(r), r.stdout)
        XCTAssertTrue(line.contains("2 s on 1 thread: LSTM 2x"), line)
        XCTAssertTrue(line.contains(" a second)"), "the measured speed: \(line)")
    }
}
