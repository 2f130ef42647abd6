import CharRNN
import Foundation
import XCTest

/// A kill at any instant of a save loses nothing; crafted files and sizes are one-line errors.
final class HardeningCLITests: CLITestCase {
    let setFiles = ["latest.safetensors", "best.safetensors", "loss.csv", "loss.svg"]

    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// Kills training (SIGKILL) at every numbered point inside its saves, resumes, and compares the
    /// files with an uninterrupted run's, bit for bit.
    func testKillAtEverySavePointThenResumeGivesTheUninterruptedFiles() throws {
        let args = ["--max-steps", "40", "--eval-every", "20", "--dropout", "0.1"]
        let full = dir + "/full"
        XCTAssertEqual(try train(full, steps: 40, extra: ["--dropout", "0.1"]).status, 0)
        var point = 1
        while true {
            let out = dir + "/killed-\(point)"
            let command = ["train", text, "-o", out] + args + small
            let killed = try charrnn(command, environment: ["CHARRNN_TEST_KILL_AT_SAVE_POINT": "\(point)"])
            if !killed.signaled {
                XCTAssertEqual(killed.status, 0, killed.stderr)
                break  // past the last save point: the run finished untouched
            }
            var resumed = try charrnn(["train", "--resume", out])
            if resumed.stderr.contains("no train-state") {
                // Killed before the first save was committed: nothing to resume; the same command again.
                resumed = try charrnn(command)
            }
            XCTAssertEqual(resumed.status, 0, "point \(point): \(resumed.stderr)")
            for f in setFiles {
                XCTAssertEqual(bytes(out + "/" + f), bytes(full + "/" + f), "point \(point): \(f) differs")
            }
            let left = try FileManager.default.contentsOfDirectory(atPath: out)
                .filter { $0.hasPrefix(".pending-") || $0.contains(".tmp-") }
            XCTAssertEqual(left, [], "point \(point): leftovers")
            point += 1
        }
        XCTAssertGreaterThan(point, 20, "two saves have more save points than that")
    }

    /// Ctrl-C in the middle of a validation: the step is saved with its evaluation pending, and the
    /// resumed run does it first, so the files are the uninterrupted run's.
    func testCtrlCDuringValidationThenResumeGivesTheUninterruptedFiles() throws {
        let full = dir + "/full", out = dir + "/interrupted"
        XCTAssertEqual(try train(full, steps: 60).status, 0)
        let r = try charrnn(["train", text, "-o", out, "--max-steps", "60", "--eval-every", "20"] + small,
                            environment: ["CHARRNN_TEST_SIGINT_AT_VALIDATION": "2"])
        XCTAssertEqual(r.status, 130, r.stderr)
        XCTAssertTrue(r.stderr.contains("interrupted at step 40"), r.stderr)
        XCTAssertEqual(try charrnn(["train", "--resume", out]).status, 0)
        for f in setFiles { XCTAssertEqual(bytes(out + "/" + f), bytes(full + "/" + f), f) }
    }

    func testDamagedFilesAreRefusedByTheirChecksums() throws {
        let out = dir + "/run"
        XCTAssertEqual(try train(out, steps: 20).status, 0)
        // A flipped byte in the optimizer state: refused on resume, not trained on.
        let state = out + "/train-state.safetensors"
        var s = try XCTUnwrap(bytes(state))
        s[s.count - 5] ^= 0x10
        try s.write(to: URL(fileURLWithPath: state))
        assertCleanError(try charrnn(["train", "--resume", out, "--max-steps", "30"]), "checkpoint.json")
        // A flipped byte in a checkpoint file, loaded directly: its tensor checksum names it.
        let copy = dir + "/copy.safetensors"
        var c = try XCTUnwrap(bytes(out + "/latest.safetensors"))
        c[c.count - 9] ^= 0x01
        try c.write(to: URL(fileURLWithPath: copy))
        assertCleanError(try charrnn(["sample", "-c", copy, "--length", "5"]), "does not match its checksum")
        assertCleanError(try charrnn(["eval", "-c", copy, text]), "does not match its checksum")
    }

    func testCraftedCheckpointSizesAreOneLineErrors() throws {
        let out = dir + "/run"
        XCTAssertEqual(try train(out, steps: 20).status, 0)
        let cp = try Checkpoint.load(out)
        let tensors = cp.model.layout.tensors(of: cp.model.parameters)
        let json = String(decoding: try JSONEncoder().encode(cp.info), as: UTF8.self)
        // A header whose shape overflows: [2^62, 2^62].
        var header = String(decoding: Data(SafeTensors.encode([tensors[0]], metadata: ["charrnn": json]).dropFirst(8)), as: UTF8.self)
        header = header.replacingOccurrences(of: "\"shape\":[\(tensors[0].shape[0]),\(tensors[0].shape[1])]",
                                             with: "\"shape\":[4611686018427387904,4611686018427387904]")
        var huge = [UInt8](repeating: 0, count: 8)
        let h = Array(header.utf8)
        for i in 0..<8 { huge[i] = UInt8((h.count >> (8 * i)) & 0xFF) }
        let hugePath = dir + "/huge.safetensors"
        try Data(huge + h + [UInt8](repeating: 0, count: tensors[0].values.count * 4)).write(to: URL(fileURLWithPath: hugePath))
        // Metadata that claims a far larger model than the tensors hold.
        let claim = json.replacingOccurrences(of: "\"hidden\":32", with: "\"hidden\":60000")
        XCTAssertNotEqual(claim, json)
        let claimPath = dir + "/claim.safetensors"
        try Data(SafeTensors.encode(tensors, metadata: ["charrnn": claim])).write(to: URL(fileURLWithPath: claimPath))
        for path in [hugePath, claimPath] {
            assertCleanError(try charrnn(["sample", "-c", path, "--length", "5"]), "not a usable charrnn checkpoint")
            assertCleanError(try charrnn(["eval", "-c", path, text]), "not a usable charrnn checkpoint")
            assertCleanError(try charrnn(["serve", "-c", path, "--port", "0"]), "not a usable charrnn checkpoint")
        }
    }

    func testSizesAndNumbersUsersGiveAreOneLineErrors() throws {
        let out = dir + "/run"
        let cases: [([String], String)] = [
            (["train", text, "-o", out, "--hidden", "50000"], "of memory"),
            (["train", text, "-o", out, "--seq-length", "9223372036854775000"], "characters per step"),
            (["train", text, "-o", out, "--batch-size", "-5"], "--batch-size must be at least 1 (got -5)"),
            (["train", text, "-o", out, "--learning-rate", "inf"], "finite"),
            (["train", text, "-o", ""], "--output"),
            (["train", "/dev/zero", "-o", out], "NUL"),
            (["train", text, "-o", out, "--sample-length", "9223372036854775807"], "--sample-length"),
            (["bench", "--seconds", "inf"], "finite"),
            (["sample", "-c", dir, "--threads", "100000"], "--threads"),
        ]
        for (args, fragment) in cases { assertCleanError(try charrnn(args), fragment) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a refused run leaves no folder")

        let utf16 = dir + "/utf16.txt"
        try "to be or not to be\n".data(using: .utf16)!.write(to: URL(fileURLWithPath: utf16))
        assertCleanError(try charrnn(["train", utf16, "-o", out]), "UTF-16")

        // A diverging run leaves no empty folder; huge losses print as numbers, not traps.
        let diverged = try charrnn(["train", text, "-o", out, "--max-steps", "50", "--learning-rate", "1e30"] + small.filter { $0 != "--learning-rate" && $0 != "0.01" })
        assertCleanError(diverged, "diverged")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a run that diverged before its first save leaves no folder")

        XCTAssertEqual(try train(out, steps: 20).status, 0)
        assertCleanError(try charrnn(["sample", "-c", out, "--stop", "Z"]), "never stop")
        assertCleanError(try charrnn(["train", "--resume", out, "--hidden", "64"]), "--hidden 64 differs from the resumed run's 32")
        assertCleanError(try charrnn(["train", "--resume", out, "-o", dir + "/elsewhere"]), "its own folder")
        let e = try charrnn(["eval", "-c", out, text, "--chunk", "9223372036854775807"])
        XCTAssertEqual(e.status, 0, e.stderr)
        // A second trainer in the same folder is refused while the first holds it.
        let p = Process()
        p.executableURL = Self.binary
        p.arguments = ["train", "--resume", out, "--max-steps", "100000000"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        Thread.sleep(forTimeInterval: 1)
        assertCleanError(try charrnn(["train", "--resume", out, "--max-steps", "30"]), "in use")
        p.terminate()
        p.waitUntilExit()
    }
}
