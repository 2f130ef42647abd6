import CharRNN
import Foundation
import SystemPackage
import XCTest

/// A run folder is never replaced silently, a crafted one writes nothing outside itself, and a reader
/// beside a saving run always gets a committed set.
final class RunFolderTests: XCTestCase {
    func files(_ folder: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name != ".lock" {
            out[name] = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
        }
        return out
    }

    func testANewRunRefusesAFolderHoldingARunUnlessReplacing() throws {
        let dir = scratchDirectory()
        let text = try writeTrainingText(dir)
        var o = smallTrainingOptions(text, dir + "/run")
        o.maxSteps = 20
        _ = try Trainer(options: o).run()
        let before = try files(dir + "/run")
        var again = o
        again.maxSteps = 3
        XCTAssertThrowsError(try Trainer(options: again)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("already holds a training run saved at step 20"), message)
            XCTAssertTrue(message.contains("--resume") && message.contains("--overwrite"), message)
        }
        XCTAssertEqual(try files(dir + "/run"), before, "a refused run changes nothing")

        try "keep me\n".write(toFile: dir + "/run/notes.txt", atomically: true, encoding: .utf8)
        let result = try Trainer(options: again, replacing: true).run()
        XCTAssertEqual(result.step, 3)
        XCTAssertEqual(try String(contentsOfFile: dir + "/run/notes.txt", encoding: .utf8), "keep me\n", "files a run does not save stay")
        XCTAssertNotEqual(try files(dir + "/run")["latest.safetensors"], before["latest.safetensors"])
    }

    func testAFileOfTheUsersWithARunsNameIsNotReplaced() throws {
        let dir = scratchDirectory()
        let text = try writeTrainingText(dir)
        try FileManager.default.createDirectory(atPath: dir + "/mine", withIntermediateDirectories: true)
        try "my own numbers\n".write(toFile: dir + "/mine/loss.csv", atomically: true, encoding: .utf8)
        var o = smallTrainingOptions(text, dir + "/mine")
        o.maxSteps = 2
        XCTAssertThrowsError(try Trainer(options: o)) { XCTAssertTrue("\($0)".contains("loss.csv"), "\($0)") }
        XCTAssertEqual(try String(contentsOfFile: dir + "/mine/loss.csv", encoding: .utf8), "my own numbers\n")

        // A folder with only other files is used, and they stay.
        try FileManager.default.createDirectory(atPath: dir + "/notes", withIntermediateDirectories: true)
        try "keep\n".write(toFile: dir + "/notes/a.txt", atomically: true, encoding: .utf8)
        o.outputDirectory = dir + "/notes"
        _ = try Trainer(options: o).run()
        XCTAssertEqual(try String(contentsOfFile: dir + "/notes/a.txt", encoding: .utf8), "keep\n")
    }

    func testAnEpochLimitBeyondAStepCounterIsRefusedBeforeAnyFolderIsMade() throws {
        let dir = scratchDirectory()
        let text = try writeTrainingText(dir)
        for epochs in [1e18, 1e300] {
            var o = smallTrainingOptions(text, dir + "/far")
            o.maxSteps = nil
            o.maxEpochs = epochs
            XCTAssertThrowsError(try Trainer(options: o)) { XCTAssertTrue("\($0)".contains("--max-epochs"), "\($0)") }
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/far"), "nothing is left behind")
        }
    }

    func testARunStoresTheAbsolutePathOfItsText() throws {
        let dir = scratchDirectory()
        _ = try writeTrainingText(dir)
        let previous = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(dir)
        defer { FileManager.default.changeCurrentDirectoryPath(previous) }
        var o = smallTrainingOptions("./text.txt", "run")
        o.maxSteps = 2
        _ = try Trainer(options: o).run()
        FileManager.default.changeCurrentDirectoryPath(previous)
        let cp = try Checkpoint.load(dir + "/run")
        XCTAssertEqual(cp.info.training?.corpus, FilePath(dir).appending("text.txt").lexicallyNormalized().string)
        let resumed = try Trainer(resumeFrom: dir + "/run") { $0.maxSteps = 4 }
        XCTAssertEqual(try resumed.run().step, 4, "resumed from another folder")
    }

    /// A manifest that names anything but the files a save writes is refused before any rename, and
    /// the file it aims at is untouched.
    func testCraftedManifestEntriesWriteNothingOutsideTheFolder() throws {
        let dir = scratchDirectory()
        let text = try writeTrainingText(dir)
        var o = smallTrainingOptions(text, dir + "/run")
        o.maxSteps = 4
        _ = try Trainer(options: o).run()
        let victim = dir + "/victim.txt"
        for (k, name) in ["../victim.txt", "sub/x", "..", ".lock", "checkpoint.json", "notes.txt", "a\u{0}b"].enumerated() {
            let folder = dir + "/crafted-\(k)"
            try FileManager.default.copyItem(atPath: dir + "/run", toPath: folder)
            try "the victim\n".write(toFile: victim, atomically: true, encoding: .utf8)
            let payload = Array("pwned\n".utf8)
            var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/checkpoint.json"))) as! [String: Any]
            var entries = manifest["files"] as! [String: Any]
            entries[name] = ["bytes": payload.count, "crc32": CRC32.hex(CRC32.checksum(payload))]
            manifest["files"] = entries
            try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: folder + "/checkpoint.json"))
            if !name.contains("\u{0}") { FileManager.default.createFile(atPath: folder + "/.pending-" + name, contents: Data(payload)) }
            XCTAssertThrowsError(try Trainer(resumeFrom: folder) { $0.maxSteps = 6 }, name) { error in
                XCTAssertTrue("\(error)".contains("checkpoint.json"), "\(name): \(error)")
            }
            // A reader writes nothing: it refuses only names that are not plain file names.
            if name.contains("/") || name.hasPrefix(".") || name.contains("\u{0}") { XCTAssertThrowsError(try Checkpoint.load(folder), name) }
            XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "the victim\n", name)
        }
    }

    /// Readers in a loop beside a writer that commits a save after another: every read is a whole,
    /// committed file (before readers re-read the manifest, some reads failed their checksum).
    func testReadersBesideASavingWriterAlwaysGetACommittedFile() throws {
        let dir = scratchDirectory() + "/busy"
        try AtomicFile.makeDirectory(dir)
        let names: Set<String> = ["latest.safetensors", "loss.csv"]
        @Sendable func content(_ step: Int) -> [UInt8] { Array("step \(step) ".utf8) + [UInt8](repeating: UInt8(step % 251), count: 4096 + step % 97) }
        let lock = try DirectoryLock(FilePath(dir))
        final class Writer: @unchecked Sendable {  // used by the writer thread alone once it starts
            var set: CheckpointSet
            init(_ set: CheckpointSet) { self.set = set }
        }
        let box = Writer(try CheckpointSet.open(FilePath(dir), managing: names, resuming: false))
        try box.set.commit(step: 0, files: [("latest.safetensors", content(0)), ("loss.csv", content(0))], keep: [])
        let saves = 400
        let done = DispatchSemaphore(value: 0)
        let writer = Thread {
            for step in 1...saves {
                try! box.set.commit(step: step, files: [("latest.safetensors", content(step)), ("loss.csv", content(step))], keep: [])
            }
            done.signal()
        }
        writer.start()
        var reads = 0, failures: [String] = [], lastStep = 0
        while reads < 2000 {
            do {
                let bytes = try XCTUnwrap(try CheckpointSet.committedBytes(of: "latest.safetensors", in: FilePath(dir)))
                let step = Int(String(decoding: bytes, as: UTF8.self).split(separator: " ")[1]) ?? -1
                XCTAssertEqual(bytes, content(step), "a read is one whole save")
                XCTAssertGreaterThanOrEqual(step, lastStep, "reads never go back in time")
                lastStep = step
            } catch {
                failures.append("\(error)")
            }
            reads += 1
        }
        done.wait()
        withExtendedLifetime(lock) {}
        XCTAssertEqual(failures, [], "\(failures.count) of \(reads) reads failed")
    }

    func testTwoClassifierTrainingsCannotShareAFolder() throws {
        let dir = scratchDirectory()
        let data = dir + "/names"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try "Abcab\nAbbac\nAcab\nAbba\nAaab\nAcca\n".write(toFile: data + "/A.txt", atomically: true, encoding: .utf8)
        try "Bdebd\nBddeb\nBede\nBddb\nBbbd\nBeed\n".write(toFile: data + "/B.txt", atomically: true, encoding: .utf8)
        var o = ClassifierOptions(dataDirectory: data, outputDirectory: dir + "/clf")
        o.hidden = 8; o.embed = 4; o.epochs = 1; o.threads = 1; o.validationFraction = 0.2; o.testFraction = 0
        o.ensemble = 3
        _ = try ClassifierTrainer.train(o)
        do {
            let held = try DirectoryLock(FilePath(dir + "/clf"))
            XCTAssertThrowsError(try ClassifierTrainer.train(o, replacing: true)) { XCTAssertTrue("\($0)".contains("in use by another"), "\($0)") }
            withExtendedLifetime(held) {}
        }
        XCTAssertThrowsError(try ClassifierTrainer.train(o)) { XCTAssertTrue("\($0)".contains("--overwrite"), "\($0)") }
        o.ensemble = 1
        _ = try ClassifierTrainer.train(o, replacing: true)
        let members = try FileManager.default.contentsOfDirectory(atPath: dir + "/clf").filter { $0.hasPrefix("classifier") }
        XCTAssertEqual(members, ["classifier.safetensors"], "no member of the old ensemble is left to mix with the new one")
        XCTAssertEqual(try ClassifierEnsemble.load(dir + "/clf").members.count, 1)
    }

    func testMessagesShowInvisibleAndBidirectionalCharactersEscaped() {
        XCTAssertEqual(CharRNNError.visible("a\u{200D}b\u{FEFF}c\u{00A0}d\u{202E}e\u{1B}f\ng"), "aU+200DbU+FEFFcU+00A0dU+202EeU+001Bf\\ng")
        XCTAssertEqual(CharRNNError.visible("plain text, é and 王"), "plain text, é and 王")
        let error = CharRNNError.unknownCharacters(what: "the prime text", chars: ["\u{202E}", "\u{200D}"])
        XCTAssertEqual(error.description, "the prime text has characters the model never saw: 'U+202E', 'U+200D'")
    }
}

/// A names model stops at the end of a name on every generation path, with no stop given, so the
/// CLI, the server and the page give the same names for the same seed.
final class NamesModeTests: XCTestCase {
    func namesCheckpoint() -> Checkpoint {
        let vocab = Vocabulary(scalars: Array("\nabcdefg".unicodeScalars))
        let config = ModelConfig(cell: .lstm, layers: 1, hidden: 16, embed: 4, vocabSize: vocab.count)
        let model = randomModel(config, seed: 9)
        // Lean towards the line break, so names end within a few characters.
        model.parameters[model.layout["decoder.bias"]!.offset] += 1.5
        var cp = Checkpoint(model: model, vocabulary: vocab, startCharacter: "\n", training: nil)
        cp.info.names = true
        return cp
    }

    func testEveryPathEndsANameAtItsLineBreak() throws {
        let cp = namesCheckpoint()
        let batch = GenerationBatch(checkpoint: cp)
        let sampler = Sampler(checkpoint: cp)
        for seed: UInt64 in 1...20 {
            let stream = try batch.start(prompt: "", length: 500, options: SamplingOptions(), seed: seed)
            var text = "", last: GenerationStream.Outcome? = nil
            while !stream.finished {
                let outcome = try batch.step([stream])[0]
                if case .character(let c) = outcome { text.unicodeScalars.append(c) }
                last = outcome
            }
            XCTAssertEqual(last, .stopped, "seed \(seed): the name ends at its line break, not at the length")
            XCTAssertFalse(text.contains("\n"))
            XCTAssertEqual(try sampler.generate(prime: "", length: 500, options: SamplingOptions(), seed: seed), text,
                           "seed \(seed): the server's batch and the CLI's sampler give the same name")
        }
        // A stop the caller chose wins.
        let stream = try batch.start(prompt: "", length: 50, options: SamplingOptions(stop: "g"), seed: 3)
        var produced = ""
        while !stream.finished { if case .character(let c) = try batch.step([stream])[0] { produced.unicodeScalars.append(c) } }
        XCTAssertFalse(produced.contains("g"))
    }
}
