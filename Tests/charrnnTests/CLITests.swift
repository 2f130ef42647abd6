import CharRNN
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// Helpers for end-to-end runs of the built charrnn binary.
class CLITestCase: XCTestCase {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var signaled: Bool
    }

    /// This process's environment with `extra` on top. Commands run on the CPU unless a test names a
    /// device (or sets CHARRNN_DEVICE): a GPU on the machine running the tests changes no expected output.
    static func environment(_ extra: [String: String]) -> [String: String] {
        ProcessInfo.processInfo.environment.merging(["CHARRNN_DEVICE": "cpu"]) { $1 }.merging(extra) { $1 }
    }

    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("charrnn")
    }

    @discardableResult
    func charrnn(_ args: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> Run {
        try run(Self.binary, args, stdin: stdin, environment: environment)
    }

    /// Runs a built program of this package (`charrnn`, or another beside it) in `directory` (nil: here).
    func run(_ program: URL, _ args: [String] = [], in directory: String? = nil, stdin: String? = nil,
             environment: [String: String] = [:]) throws -> Run {
        let p = Process()
        p.executableURL = program
        p.arguments = args
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        p.environment = Self.environment(environment)
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inp.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                   stderr: String(decoding: e, as: UTF8.self), signaled: p.terminationReason == .uncaughtSignal)
    }

    var dir = ""
    var text = ""

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("charrnn-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var s = ""
        var rng = RandomGenerator(seed: 3)
        let lines = ["to be or not to be", "that is the question", "whether tis nobler", "in the mind to suffer"]
        for _ in 0..<300 { s += lines[rng.nextInt(below: lines.count)] + "\n" }
        text = dir + "/poem.txt"
        try s.write(toFile: text, atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    let small = ["--hidden", "32", "--embed", "16", "--seq-length", "16", "--batch-size", "8", "--threads", "1",
                 "--learning-rate", "0.01", "--sample-length", "30"]

    func train(_ out: String, steps: Int, extra: [String] = []) throws -> Run {
        try charrnn(["train", text, "-o", out, "--max-steps", "\(steps)", "--eval-every", "20"] + small + extra)
    }

    func csvLosses(_ out: String) throws -> [Double] {
        try String(contentsOfFile: out + "/loss.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[2])! }
    }

    /// One line on stderr, starting with "charrnn: error:", and a non-zero exit.
    func assertCleanError(_ r: Run, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, "exit status", file: file, line: line)
        XCTAssertFalse(r.signaled, "must not crash", file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("charrnn: error: "), r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(fragment), "'\(fragment)' in: \(r.stderr)", file: file, line: line)
    }
}

/// End-to-end runs of the built charrnn binary.
final class CLITests: CLITestCase {
    func testHelpIsTheManual() throws {
        let r = try charrnn(["--help"])
        XCTAssertEqual(r.status, 0)
        for sub in ["train", "sample", "eval"] { XCTAssertTrue(r.stdout.contains(sub)) }
        let t = try charrnn(["train", "--help"])
        XCTAssertTrue(t.stdout.contains("--learning-rate"))
        XCTAssertTrue(t.stdout.contains("--batching"))
    }

    /// The committed man page has every option the CLI takes (scripts/make-manual.sh writes it again).
    func testManPageHasEveryOption() throws {
        let dump = try charrnn(["--experimental-dump-help"])
        XCTAssertEqual(dump.status, 0, dump.stderr)
        var names = Set<String>()
        func walk(_ command: [String: Any]) {
            for argument in command["arguments"] as? [[String: Any]] ?? [] {
                for name in argument["names"] as? [[String: Any]] ?? [] where name["kind"] as? String == "long" {
                    names.insert(name["name"] as! String)
                }
            }
            for sub in command["subcommands"] as? [[String: Any]] ?? [] { walk(sub) }
        }
        walk(try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])?["command"] as? [String: Any]))
        XCTAssertGreaterThan(names.count, 50)
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let page = try String(contentsOf: root.appendingPathComponent("docs/man/charrnn.1"), encoding: .utf8)
        for name in names.sorted() {
            XCTAssertTrue(page.contains("Fl -\(name)") || page.contains(", -\(name)"),
                          "docs/man/charrnn.1 lacks --\(name): run scripts/make-manual.sh")
        }
    }

    /// One version everywhere: `--version`, and the newest release in CHANGELOG.md (above it, an
    /// "Unreleased" section gathers what the next one will bring).
    func testVersionIsTheChangelogsNewest() throws {
        let r = try charrnn(["--version"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, CharRNNVersion.current + "\n")
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let changelog = try String(contentsOf: root.appendingPathComponent("CHANGELOG.md"), encoding: .utf8)
        let newest = changelog.split(separator: "\n").first { $0.hasPrefix("## ") && $0 != "## Unreleased" }
        XCTAssertEqual(newest?.split(separator: " ").dropFirst().first.map(String.init), CharRNNVersion.current)
    }

    func testTrainSampleEval() throws {
        let out = dir + "/run"
        let r = try train(out, steps: 100)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("done: step 100"), r.stdout)
        XCTAssertTrue(r.stdout.contains("--- sample ---"))
        let losses = try csvLosses(out)
        XCTAssertLessThan(losses.last!, losses.first! * 0.6, "\(losses)")
        for f in ["latest.safetensors", "best.safetensors", "train-state.safetensors", "loss.csv", "loss.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), f)
        }
        XCTAssertTrue(try String(contentsOfFile: out + "/loss.svg", encoding: .utf8).contains("<polyline"))

        let a = try charrnn(["sample", "-c", out, "--prime", "to be", "--length", "80", "--seed", "5", "--temperature", "0.7"])
        let b = try charrnn(["sample", "-c", out, "--prime", "to be", "--length", "80", "--seed", "5", "--temperature", "0.7"])
        let c = try charrnn(["sample", "-c", out, "--prime", "to be", "--length", "80", "--seed", "6", "--temperature", "0.7"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.stdout, b.stdout)
        XCTAssertNotEqual(a.stdout, c.stdout)
        XCTAssertTrue(a.stdout.hasPrefix("to be"))

        // With no prime the model starts from the corpus's first character, which is shown like a prime:
        // in the sample, in an empty interactive line and in the preview printed while training.
        let first = String(try String(contentsOfFile: text, encoding: .utf8).prefix(1))
        let unprimed = try charrnn(["sample", "-c", out, "--length", "40", "--seed", "5"])
        XCTAssertEqual(unprimed.status, 0, unprimed.stderr)
        XCTAssertTrue(unprimed.stdout.hasPrefix(first), unprimed.stdout)
        XCTAssertEqual(unprimed.stdout, try charrnn(["sample", "-c", out, "--prime", first, "--length", "40", "--seed", "5"]).stdout)
        XCTAssertEqual(unprimed.stdout, try charrnn(["sample", "-c", out, "--interactive", "--length", "40", "--seed", "5"],
                                                     stdin: "\n").stdout)
        XCTAssertTrue(r.stdout.contains("--- sample ---\n" + first), r.stdout)

        let lines = try charrnn(["sample", "-c", out, "--count", "4", "--stop", "\\n", "--length", "100", "--seed", "1"])
        XCTAssertEqual(lines.stdout.split(separator: "\n", omittingEmptySubsequences: false).count, 5, lines.stdout)

        let e = try charrnn(["eval", "-c", out, text])
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertTrue(e.stdout.contains("cross-entropy:"))
        XCTAssertTrue(e.stdout.contains("perplexity:"))
        XCTAssertTrue(e.stdout.contains("bits per character:"))
        let nats = Double(e.stdout.split(separator: "\n").first { $0.hasPrefix("cross-entropy") }!
            .split(separator: " ")[1])!
        XCTAssertLessThan(nats, 1.5)

        let unknown = dir + "/other.txt"
        try "to be? Zebra!".write(toFile: unknown, atomically: true, encoding: .utf8)
        assertCleanError(try charrnn(["eval", "-c", out, unknown]), "never saw")
        let skipped = try charrnn(["eval", "-c", out, unknown, "--skip-unknown"])
        XCTAssertEqual(skipped.status, 0)
        XCTAssertTrue(skipped.stdout.contains("unknown skipped"))

        let inter = try charrnn(["sample", "-c", out, "--interactive", "--length", "20", "--seed", "2", "--stop", "\\n"],
                                stdin: "to be\n:temp 0.5\nthat is\n:bogus\n")
        XCTAssertEqual(inter.status, 0, inter.stderr)
        XCTAssertEqual(inter.stdout.filter { $0 == "\n" }.count, 2, "one completion per prime line: \(inter.stdout)")
        XCTAssertTrue(inter.stderr.contains("unknown command"))
    }

    func testResumeAfterSIGKILLGivesTheSameLosses() throws {
        let full = dir + "/full", killed = dir + "/killed"
        let steps = ["--max-steps", "400", "--eval-every", "25", "--hidden", "64", "--embed", "16",
                     "--seq-length", "32", "--batch-size", "16", "--threads", "1", "--sample-length", "0", "--dropout", "0.1"]
        XCTAssertEqual(try charrnn(["train", text, "-o", full] + steps).status, 0)

        let p = Process()
        p.executableURL = Self.binary
        p.arguments = ["train", text, "-o", killed] + steps
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let state = killed + "/train-state.safetensors"
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: state) && Date() < deadline { usleep(2000) }
        usleep(30_000)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal, "the run must be killed mid-way")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: killed).filter { $0.contains(".tmp-") }
        _ = leftovers  // a temporary file may remain after SIGKILL; the real files are whole

        let r = try charrnn(["train", "--resume", killed])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("resuming at step"), r.stdout)
        XCTAssertEqual(try String(contentsOfFile: full + "/loss.csv", encoding: .utf8),
                       try String(contentsOfFile: killed + "/loss.csv", encoding: .utf8))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: full + "/latest.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: killed + "/latest.safetensors")))
    }

    func testCtrlCSavesAndStops() throws {
        let out = dir + "/int"
        let p = Process()
        p.executableURL = Self.binary
        p.arguments = ["train", text, "-o", out, "--max-steps", "100000", "--eval-every", "100000"] + small
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        usleep(1_500_000)
        kill(p.processIdentifier, SIGINT)
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 130)
        XCTAssertTrue(e.contains("interrupted at step"), e)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/latest.safetensors"))
        let r = try charrnn(["train", "--resume", out, "--max-steps", "5"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testEveryUserErrorIsOneLine() throws {
        let out = dir + "/run"
        XCTAssertEqual(try train(out, steps: 20).status, 0)
        let empty = dir + "/empty.txt", bad = dir + "/bad.txt", bin = dir + "/bin.txt", short = dir + "/short.txt"
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        _ = FileManager.default.createFile(atPath: bad, contents: Data([0x61, 0x62, 0xC3, 0x28]))
        _ = FileManager.default.createFile(atPath: bin, contents: Data([0x7F, 0x45, 0x4C, 0x46, 0, 1, 2]))
        try "abc".write(toFile: short, atomically: true, encoding: .utf8)
        assertCleanError(try charrnn(["train", dir + "/missing.txt"]), "no such file")
        assertCleanError(try charrnn(["train", empty]), "empty")
        assertCleanError(try charrnn(["train", bad]), "not valid UTF-8")
        assertCleanError(try charrnn(["train", bin]), "binary")
        assertCleanError(try charrnn(["train", short, "-o", dir + "/s"]), "too short")
        assertCleanError(try charrnn(["train", text, "--hidden=-3"]), "--hidden")
        assertCleanError(try charrnn(["train", text, "--layers", "0"]), "--layers")
        assertCleanError(try charrnn(["train", text, "--learning-rate", "0"]), "--learning-rate")
        assertCleanError(try charrnn(["train", text, "--lr", "0"]), "--learning-rate must")  // PyTorch's short name
        assertCleanError(try charrnn(["train", text, "--dropout", "1"]), "--dropout")
        assertCleanError(try charrnn(["train", text, "--cell", "transformer"]), "transformer")
        assertCleanError(try charrnn(["train", "--resume", dir + "/nothing"]), "resume")
        assertCleanError(try charrnn(["sample", "-c", out, "--temperature", "0"]), "--temperature")
        assertCleanError(try charrnn(["sample", "-c", out, "--temperature=-1"]), "--temperature")
        assertCleanError(try charrnn(["sample", "-c", out, "--top-k", "0"]), "--top-k")
        assertCleanError(try charrnn(["sample", "-c", out, "--length=-5"]), "--length")
        assertCleanError(try charrnn(["sample", "-c", out, "--prime", "QXé"]), "'Q', 'X', 'é'")
        assertCleanError(try charrnn(["sample", "-c", dir + "/nope.safetensors"]), "no such file")
        assertCleanError(try charrnn(["sample", "-c", text]), "not a usable charrnn checkpoint")
        assertCleanError(try charrnn(["sample"]), "--checkpoint")

        let bytes = try Data(contentsOf: URL(fileURLWithPath: out + "/latest.safetensors"))
        let truncated = dir + "/trunc.safetensors"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        assertCleanError(try charrnn(["sample", "-c", truncated]), "truncated")
        let foreign = dir + "/foreign.safetensors"
        try Data(SafeTensors.encode([.init(name: "w", shape: [1], values: [1])], metadata: [:])).write(to: URL(fileURLWithPath: foreign))
        assertCleanError(try charrnn(["eval", "-c", foreign, text]), "no charrnn metadata")
        let cp = try Checkpoint.load(out)
        var info = cp.info
        info.formatVersion = 99
        let json = String(decoding: try JSONEncoder().encode(info), as: UTF8.self)
        let file = try SafeTensors.decode(Array(bytes), path: "x")
        let tensors = cp.model.layout.slots.map { file.tensors[$0.name]! }
        let future = dir + "/future.safetensors"
        try Data(SafeTensors.encode(tensors, metadata: ["charrnn": json])).write(to: URL(fileURLWithPath: future))
        assertCleanError(try charrnn(["sample", "-c", future]), "version 99 is not supported")
    }

    /// A mistake in the options alone is a usage error (status 64), said before any file is read: here
    /// the checkpoint does not exist, and the option is what the line names.
    func testOptionMistakesAreUsageErrorsBeforeAnyFileIsRead() throws {
        let missing = dir + "/missing"
        for (arguments, fragment) in [
            (["sample", "-c", missing, "--count", "0"], "--count must be at least 1"),
            (["sample", "-c", missing, "--logprobs", "21"], "--logprobs must be between 0 and 20"),
            (["sample", "-c", missing, "--beam", "0"], "--beam must be at least 1"),
            (["sample", "-c", missing, "--prime", "a", "--prime-file", missing], "not both"),
            (["eval", "-c", missing, missing, "--chunk", "0"], "--chunk must be at least 1"),
            (["eval", "-c", missing, missing, "--threads", "0"], "--threads must be between 1"),
            (["classify", "predict", "-c", missing, "--top", "0", "x"], "--top must be at least 1"),
            (["classify", "eval", "-c", missing, "--split", "dev"], "--split must be test, validation, train or all"),
            (["train", missing, "--precision", "fp16"], "--precision must be fp32, tf32 or bf16"),
        ] {
            let r = try charrnn(arguments)
            assertCleanError(r, fragment)
            XCTAssertEqual(r.status, 64, arguments.joined(separator: " "))
        }
        // A mistake that needs the file is the file's: status 1.
        let r = try charrnn(["sample", "-c", missing, "--count", "2"])
        assertCleanError(r, "no such file")
        XCTAssertEqual(r.status, 1)
    }

    func testServeAnswersOverHTTPAndStopsOnSIGTERM() throws {
        let out = dir + "/run"
        XCTAssertEqual(try train(out, steps: 20).status, 0)
        assertCleanError(try charrnn(["serve"]), "--checkpoint")
        assertCleanError(try charrnn(["serve", "-c", out, "--port", "70000"]), "--port")
        assertCleanError(try charrnn(["serve", "-c", out, "--max-batch", "0"]), "--max-batch")
        assertCleanError(try charrnn(["serve", "-c", text]), "not a usable charrnn checkpoint")

        let (p, base) = try serve(["-c", "poem=" + out])
        var request = URLRequest(url: URL(string: base + "v1/generate")!)
        request.httpMethod = "POST"
        request.httpBody = Data(#"{"model": "poem", "prompt": "to be", "length": 40, "seed": 5}"#.utf8)
        let reply = try Self.fetch(request)
        let expected = try charrnn(["sample", "-c", out, "--prime", "to be", "--length", "40", "--seed", "5"]).stdout
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: reply) as? [String: Any])
        XCTAssertEqual("to be" + (object["text"] as? String ?? "") + "\n", expected)

        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "a SIGTERM is a clean stop")
        XCTAssertEqual(p.terminationReason, .exit)
    }
}

extension CLITestCase {
    /// A labelled folder (dir/labelled) of three categories with their own letters; returns its path.
    func labelledFolder() throws -> String {
        let folder = dir + "/labelled"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let alphabets = ["abcdx": "Alpha", "defgx": "Delta", "ghijx": "Gamma"]
        var rng = RandomGenerator(seed: 5)
        for (letters, name) in alphabets {
            let lines = (0..<120).map { _ in
                String((0..<(3 + rng.nextInt(below: 6))).map { _ in Array(letters)[rng.nextInt(below: letters.count)] }).capitalized
            }
            try lines.joined(separator: "\n").write(toFile: folder + "/\(name).txt", atomically: true, encoding: .utf8)
        }
        return folder
    }

    /// `charrnn serve ARGS --port 0`, started, and the address it announced.
    func serve(_ args: [String], environment: [String: String] = [:]) throws -> (Process, String) {
        let p = Process()
        p.executableURL = Self.binary
        p.arguments = ["serve"] + args + ["--port", "0"]
        p.environment = Self.environment(environment)
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        var said = ""
        let deadline = Date().addingTimeInterval(20)
        while !said.contains("\n") && Date() < deadline {
            let data = err.fileHandleForReading.availableData
            if data.isEmpty { break }
            said += String(decoding: data, as: UTF8.self)
        }
        guard let range = said.range(of: #"http://127\.0\.0\.1:\d+/"#, options: .regularExpression) else {
            p.terminate()
            throw SetupFailure(description: "charrnn serve announced no address: \(said)")
        }
        return (p, String(said[range]))
    }

    /// A blocking HTTP round trip.
    static func fetch(_ request: URLRequest) throws -> Data {
        final class Box: @unchecked Sendable { var data: Data?; var error: Error? }  // written before the semaphore signals
        let box = Box(), done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, _, error in
            box.data = data; box.error = error; done.signal()
        }.resume()
        done.wait()
        if let error = box.error { throw error }
        return try XCTUnwrap(box.data)
    }
}

/// Something a test needs that could not be made (a server that did not start, a library that did not build).
struct SetupFailure: Error, CustomStringConvertible {
    let description: String
}

extension CLITests {
    /// --max-time is the run's total: a resumed run's first line says how much of it is left.
    func testResumedRunSaysWhatItsTimeLimitLeaves() throws {
        let out = dir + "/timed"
        XCTAssertEqual(try charrnn(["train", text, "-o", out, "--max-time", "1"] + small).status, 0)
        let more = try charrnn(["train", "--resume", out, "--max-time", "2"])
        XCTAssertEqual(more.status, 0, more.stderr)
        let first = String(more.stdout.split(separator: "\n").first ?? "")
        XCTAssertTrue(first.hasPrefix("resuming at step "), first)
        XCTAssertTrue(first.contains("s of training done; --max-time 2 is the run's total, so 1s more)"), first)
        let none = try charrnn(["train", "--resume", out, "--max-time", "1"])
        XCTAssertEqual(none.status, 0, none.stderr)
        XCTAssertTrue(none.stdout.contains("which --max-time 1 (the run's total) has reached: give a larger one to train more"), none.stdout)
    }
}

extension CLITests {
    /// Every name of an option counts on resume: `--lr` is refused exactly as `--learning-rate` is.
    func testResumeTreatsEveryNameOfAnOptionAlike() throws {
        let out = dir + "/aliases"
        XCTAssertEqual(try train(out, steps: 3).status, 0)
        let long = try charrnn(["train", "--resume", out, "--learning-rate", "0.5", "--max-steps", "4"])
        let short = try charrnn(["train", "--resume", out, "--lr", "0.5", "--max-steps", "4"])
        let attached = try charrnn(["train", "--resume", out, "--lr=0.5", "--max-steps", "4"])
        assertCleanError(long, "--learning-rate 0.5 differs from the resumed run's 0.01")
        XCTAssertEqual(short.stderr, long.stderr)
        XCTAssertEqual(attached.stderr, long.stderr)
    }
}
