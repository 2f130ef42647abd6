import CharRNN
import Foundation
import XCTest

/// AWD-LSTM's regularisers, AdamW, schedules and early stopping through the CLI.
final class RegularisationCLITests: CLITestCase {
    let awd = ["--dropout", "0.2", "--variational-dropout", "--weight-drop", "0.3", "--embed-dropout", "0.1",
               "--optimizer", "adamw", "--weight-decay", "0.05", "--lr-schedule", "cosine", "--warmup", "10", "--log-every", "1",
               "--ema", "0.9"]

    func file(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// A run with every new option, killed inside its second save and resumed, ends with the files of
    /// the run that was never interrupted; a checkpoint keeps PyTorch's names and shapes (no masks).
    func testAllRegularisersResumeExactlyAfterAKill() throws {
        let full = dir + "/full", killed = dir + "/killed"
        let r = try train(full, steps: 40, extra: awd)
        XCTAssertEqual(r.status, 0, r.stderr)
        let k = try charrnn(["train", text, "-o", killed, "--max-steps", "40", "--eval-every", "20"] + small + awd,
                            environment: ["CHARRNN_TEST_KILL_AT_SAVE_POINT": "17"])
        XCTAssertTrue(k.signaled, "killed inside the second save")
        XCTAssertEqual(try charrnn(["train", "--resume", killed]).status, 0)
        for f in ["latest.safetensors", "best.safetensors", "loss.csv"] {
            XCTAssertEqual(file(killed + "/" + f), file(full + "/" + f), f)
        }
        let cp = try Checkpoint.load(full)
        XCTAssertEqual(cp.model.layout.slots.map(\.name), ParameterLayout(cp.model.config).slots.map(\.name))
        // The rate climbs through the warmup, then falls along the cosine to near 0.
        let rates = try String(contentsOfFile: full + "/loss.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[4])! }
        XCTAssertLessThan(rates[0], rates[1], "warmup: \(rates)")
        XCTAssertLessThan(rates.last!, 0.1 * rates.max()!, "cosine: \(rates)")
    }

    /// Validation that cannot improve (a learning rate too small to change a float) stops the run
    /// after --early-stop evaluations, naming the best model.
    func testEarlyStopEndsTheRunAtTheBestModel() throws {
        let out = dir + "/stopped"
        let r = try charrnn(["train", text, "-o", out, "--max-steps", "1000", "--eval-every", "5", "--early-stop", "2",
                             "--optimizer", "sgd"] + small.filter { $0 != "0.01" && $0 != "--learning-rate" } + ["--learning-rate", "1e-30"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("stopped early: validation has not improved for 2 evaluations; best.safetensors (step 5"),
                      r.stdout)
        XCTAssertTrue(r.stdout.contains("done: step 15"), r.stdout)
        // Resumed, it stays stopped.
        let again = try charrnn(["train", "--resume", out, "--max-steps", "1000"])
        XCTAssertTrue(again.stdout.contains("done: step 15"), again.stdout)
    }

    func testNonsenseCombinationsAreOneLineErrors() throws {
        let out = dir + "/x"
        let cases: [([String], String)] = [
            (["--embed", "0", "--embed-dropout", "0.2"], "--embed-dropout"),
            (["--weight-decay", "0.1"], "--optimizer adamw"),
            (["--variational-dropout"], "--dropout above 0"),
            (["--weight-drop", "1"], "--weight-drop must be in [0, 1)"),
            (["--lr-schedule", "cosine", "--lr-decay", "0.5"], "--lr-decay belongs to --lr-schedule step"),
            (["--early-stop", "3", "--val-fraction", "0"], "validation part"),
            (["--early-stop", "-1"], "--early-stop must be 1 or more evaluations, or 0 for none"),
            (["--warmup", "-1"], "--warmup"),
            (["--ema", "1"], "--ema must be between 0 and 1"),
            (["--lr-schedule", "plateau"], "give --lr-decay below 1"),
            (["--lr-schedule", "plateau", "--lr-decay", "0.5", "--val-fraction", "0"], "plateau needs a validation part"),
            (["--lr-schedule", "step", "--lr-decay", "0.5", "--lr-patience", "3"], "--lr-patience reduces the rate by --lr-decay"),
            (["--lr-schedule", "cosine", "--lr-patience", "3"], "--lr-patience multiplies the rate by --lr-decay"),
            (["--lr-schedule", "plateau", "--lr-decay", "0.5", "--lr-patience", "-1"], "--lr-patience must be 0 or more"),
        ]
        for (extra, fragment) in cases {
            let limit = extra.contains("--max-time") ? [] : ["--max-steps", "2"]
            assertCleanError(try charrnn(["train", text, "-o", out] + limit + small + extra), fragment)
        }
        XCTAssertEqual(try train(out, steps: 20).status, 0)
        assertCleanError(try charrnn(["train", "--resume", out, "--weight-drop", "0.5"]), "--weight-drop 0.5 differs")
        assertCleanError(try charrnn(["train", "--resume", out, "--preset", "small"]), "--preset")
        assertCleanError(try charrnn(["train", "--resume", out, "--lr-patience", "4"]), "--lr-patience 4 differs")
    }

    func rates(_ folder: String) throws -> [Double] {
        try String(contentsOfFile: folder + "/loss.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[4])! }
    }

    /// 30 steps of SGD at 1e-5 under `schedule`, evaluated every 5, halving after more than one
    /// evaluation without a new best; a run that must have succeeded.
    func stalledRun(_ out: String, schedule: String) throws -> Run {
        let r = try charrnn(["train", text, "-o", out, "--max-steps", "30", "--eval-every", "5", "--log-every", "1", "--optimizer", "sgd",
                             "--lr-schedule", schedule, "--lr-decay", "0.5", "--lr-patience", "1"]
                            + small.filter { $0 != "0.01" && $0 != "--learning-rate" } + ["--learning-rate", "1e-5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r
    }

    /// With validation stuck (a rate too small to move it by 1e-4 relative, yet large enough for
    /// ReduceLROnPlateau's smallest reduction, 1e-8), --lr-schedule plateau halves the rate at every
    /// evaluation after more than --lr-patience without a new best, and says so.
    func testPlateauReducesTheRateWhileValidationStalls() throws {
        let out = dir + "/plateau"
        let r = try stalledRun(out, schedule: "plateau")
        // Evaluations at 5 (the best), 10 and 15 (reduced), 20 and 25 (reduced again).
        XCTAssertEqual(try rates(out), Array(repeating: 1e-5, count: 15) + Array(repeating: 5e-6, count: 10)
                       + Array(repeating: 2.5e-6, count: 5))
        XCTAssertTrue(r.stdout.contains("; learning rate reduced to 5e-06\n"), r.stdout)
        XCTAssertEqual(r.stdout.components(separatedBy: "learning rate reduced").count, 3, r.stdout)
    }

    /// --lr-patience on top of cosine: the cosine's rate times --lr-decay for each reduction.
    func testPatienceOnTopOfCosineScalesTheCosine() throws {
        let out = dir + "/cosine"
        let r = try stalledRun(out, schedule: "cosine")
        let cosine = LearningRateSchedule(base: 1e-5, kind: .cosine, total: 30)
        let expected = (0..<30).map { u in cosine.rate(update: u) * (u >= 25 ? 0.25 : u >= 15 ? 0.5 : 1) }
        for (got, want) in zip(try rates(out), expected) { XCTAssertEqual(got, want, accuracy: 1e-6 * want + 1e-15) }
        XCTAssertEqual(r.stdout.components(separatedBy: "learning rate reduced").count, 3, r.stdout)
    }

    /// A plateau run killed inside a save after its first reduction, and resumed, goes on reducing its
    /// rate where the uninterrupted run did (its count and best are in the train state).
    func testPlateauResumesExactlyAfterAKill() throws {
        let full = dir + "/full", killed = dir + "/killed"
        let plateau = ["--lr-schedule", "plateau", "--lr-decay", "0.5", "--lr-patience", "0", "--learning-rate", "0.5",
                       "--optimizer", "sgd", "--log-every", "1"]
        let options = small.filter { $0 != "0.01" && $0 != "--learning-rate" } + plateau
        let r = try charrnn(["train", text, "-o", full, "--max-steps", "60", "--eval-every", "4"] + options)
        XCTAssertEqual(r.status, 0, r.stderr)
        let k = try charrnn(["train", text, "-o", killed, "--max-steps", "60", "--eval-every", "4"] + options,
                            environment: ["CHARRNN_TEST_KILL_AT_SAVE_POINT": "150"])
        XCTAssertTrue(k.signaled, "killed inside a save")
        let before = k.stdout.components(separatedBy: "learning rate reduced").count - 1
        let all = r.stdout.components(separatedBy: "learning rate reduced").count - 1
        XCTAssertTrue(before >= 1 && all > before, "reductions before the kill (\(before)) and after it (\(all - before)): \(r.stdout)")
        XCTAssertEqual(try charrnn(["train", "--resume", killed]).status, 0)
        for f in ["latest.safetensors", "best.safetensors", "loss.csv"] {
            XCTAssertEqual(file(killed + "/" + f), file(full + "/" + f), f)
        }
    }

    /// A preset fills in what the command line leaves out, and what it names wins.
    func testPresetSetsDefaultsThatOptionsOverride() throws {
        let out = dir + "/preset"
        let r = try charrnn(["train", text, "-o", out, "--preset", "small", "--hidden", "24", "--embed", "8", "--seq-length", "16",
                             "--batch-size", "8", "--max-steps", "20", "--threads", "1", "--sample-length", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains(", 1 thread\n"), "the first line says how many threads: \(r.stdout)")
        let state = try Data(contentsOf: URL(fileURLWithPath: out + "/train-state.safetensors"))
        let text = String(decoding: state.prefix(20000), as: UTF8.self)
        for expected in ["\\\"hidden\\\":24", "\\\"layers\\\":2", "\\\"optimizer\\\":\\\"adamw\\\"", "\\\"lrSchedule\\\":\\\"cosine\\\"",
                         "\\\"variationalDropout\\\":true", "\\\"dropout\\\":0.2,", "\\\"weightDrop\\\":0.2}", "\\\"earlyStop\\\":8"] {
            XCTAssertTrue(text.contains(expected), "\(expected) in the saved options")
        }

        // --early-stop 0 turns the preset's early stop off.
        let never = dir + "/never"
        let n = try charrnn(["train", self.text, "-o", never, "--preset", "small", "--early-stop", "0", "--hidden", "24", "--embed", "8",
                             "--seq-length", "16", "--batch-size", "8", "--max-steps", "5", "--threads", "1", "--sample-length", "0"])
        XCTAssertEqual(n.status, 0, n.stderr)
        let neverState = try Data(contentsOf: URL(fileURLWithPath: never + "/train-state.safetensors"))
        XCTAssertFalse(String(decoding: neverState.prefix(20000), as: UTF8.self).contains("earlyStop"), "no early stop saved")
    }

    /// A run bounded by time alone anneals over its seconds: with the preset (which picks cosine) and
    /// --max-time, the rate falls from the full rate after the warmup to near 0 at the last update.
    func testCosineUnderMaxTimeEndsNearZero() throws {
        let out = dir + "/timed"
        let r = try charrnn(["train", text, "-o", out, "--preset", "small", "--hidden", "24", "--embed", "8", "--seq-length", "16",
                             "--batch-size", "8", "--max-time", "2", "--warmup", "5", "--log-every", "1", "--eval-every", "100000",
                             "--threads", "1", "--sample-length", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rates = try String(contentsOfFile: out + "/loss.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[4])! }
        XCTAssertGreaterThan(rates.count, 50, "steps in 2 seconds")
        let peak = try XCTUnwrap(rates.max())
        XCTAssertEqual(peak, 2e-3, accuracy: 1e-4, "the preset's rate, reached after the warmup")
        let afterWarmup = Array(rates.dropFirst(5))
        for (a, b) in zip(afterWarmup, afterWarmup.dropFirst()) { XCTAssertLessThanOrEqual(b, a, "falls: \(rates)") }
        XCTAssertLessThan(rates.last!, 0.05 * peak, "near 0 when the time is up: \(rates.suffix(5))")
    }
}
