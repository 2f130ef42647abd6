import Foundation
import XCTest

/// `mpirun -np 2 charrnn train`: two ranks with half the streams each train as one process with all
/// of them, a resumed two-rank run is the uninterrupted one, and a rank that dies ends the other
/// with one line and the run folder intact. Needs Open MPI's mpirun (scripts/test.sh installs
/// openmpi-bin and sets CHARRNN_REQUIRE_MPI=1, so that CI fails rather than skips without it).
final class DataParallelCLITests: CLITestCase {
    /// Both ranks on this machine's two cores or fewer, as root when the tests run as root.
    static let launcherEnvironment = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
                                      "OMPI_MCA_rmaps_base_oversubscribe": "1"]

    private func mpirunPath() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(folder)/mpirun") {
            return "\(folder)/mpirun"
        }
        if ProcessInfo.processInfo.environment["CHARRNN_REQUIRE_MPI"] == "1" {
            XCTFail("mpirun not found though CHARRNN_REQUIRE_MPI=1 (apt install openmpi-bin)")
        }
        throw XCTSkip("mpirun not found (apt install openmpi-bin); data-parallel tests skipped")
    }

    private func launch(ranks: Int, _ args: [String], environment: [String: String] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try mpirunPath())
        p.arguments = ["-np", "\(ranks)", Self.binary.path] + args
        p.environment = Self.environment(Self.launcherEnvironment.merging(environment) { $1 })
        return p
    }

    private func mpirun(ranks: Int, _ args: [String], environment: [String: String] = [:]) throws -> Run {
        let p = try launch(ranks: ranks, args, environment: environment)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                   stderr: String(decoding: e, as: UTF8.self), signaled: p.terminationReason == .uncaughtSignal)
    }

    private let run = ["--hidden", "32", "--embed", "16", "--seq-length", "16", "--batch-size", "8", "--learning-rate", "0.01",
                       "--sample-length", "0", "--log-every", "1", "--eval-every", "20"]

    /// The same global batch of 8 streams: 2 ranks x 4 against 1 process x 8. Their sums over the
    /// streams are grouped differently (each rank sums its 4 rows, then the all-reduce adds the two
    /// halves), so the numbers agree to float rounding, not bit for bit: about 1e-7 relative a step,
    /// compounded over the steps. loss.csv rounds to 1e-5, so its losses are compared to 1e-4; the
    /// parameters differed by about 1e-6 after 60 steps (weights near 1), and the bound is 1e-4.
    func testTwoRanksTrainAsOneProcessWithAllTheStreams() throws {
        let one = dir + "/one", two = dir + "/two"
        let single = try charrnn(["train", text, "-o", one, "--max-steps", "60", "--threads", "1"] + run)
        XCTAssertEqual(single.status, 0, single.stderr)
        let pair = try mpirun(ranks: 2, ["train", text, "-o", two, "--max-steps", "60"] + run)
        XCTAssertEqual(pair.status, 0, pair.stderr)
        XCTAssertTrue(pair.stdout.contains("1 thread on each of 2 ranks"), pair.stdout)
        XCTAssertEqual(pair.stdout.components(separatedBy: "done: step 60").count, 2, "rank 0 alone reports: \(pair.stdout)")

        let a = try csv(one), b = try csv(two)
        XCTAssertEqual(a.count, 60)
        XCTAssertEqual(a.map(\.step), b.map(\.step))
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x.train, y.train, accuracy: 1e-4, "train loss at step \(x.step)")
            XCTAssertEqual(x.validation == nil, y.validation == nil)
            if let u = x.validation, let v = y.validation { XCTAssertEqual(u, v, accuracy: 1e-4, "validation at step \(x.step)") }
        }
        XCTAssertLessThan(a[59].train, a[0].train - 0.5, "it learned")
        let p = try parameters(one + "/latest.safetensors"), q = try parameters(two + "/latest.safetensors")
        XCTAssertEqual(p.count, q.count)
        let worst = zip(p, q).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 1e-4, "largest parameter difference")
        XCTAssertGreaterThan(worst, 0, "the ranks' sums are grouped differently: equal bits would mean one rank did all the work")
    }

    /// 40 steps (a validation step, so that both histories have the same rows), then a resume to 60
    /// under mpirun, against 60 at once: the same files, bit for bit (each rank resumes its own
    /// streams' state from the one saved for all).
    func testAResumedTwoRankRunIsTheUninterruptedOne() throws {
        let whole = dir + "/whole", parts = dir + "/parts"
        XCTAssertEqual(try mpirun(ranks: 2, ["train", text, "-o", whole, "--max-steps", "60"] + run).status, 0)
        let first = try mpirun(ranks: 2, ["train", text, "-o", parts, "--max-steps", "40"] + run)
        XCTAssertEqual(first.status, 0, first.stderr)
        let second = try mpirun(ranks: 2, ["train", "--resume", parts, "--max-steps", "60"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.hasPrefix("resuming at step 40"), second.stdout)
        for file in ["latest.safetensors", "best.safetensors", "loss.csv"] {
            XCTAssertEqual(FileManager.default.contents(atPath: "\(whole)/\(file)"), FileManager.default.contents(atPath: "\(parts)/\(file)"),
                           file)
        }
        // The saved state is every stream's, so one process resumes a two-rank run too.
        let alone = try charrnn(["train", "--resume", parts, "--max-steps", "70", "--threads", "1"])
        XCTAssertEqual(alone.status, 0, alone.stderr)
    }

    /// SIGKILL to rank 1 in the middle of a run: rank 0 ends within seconds with one line of its own,
    /// and the folder holds the last checkpoint, which a new two-rank run resumes.
    func testARankThatDiesEndsTheOthersAndLeavesTheFolderIntact() throws {
        let out = dir + "/killed"
        let p = try launch(ranks: 2, ["train", text, "-o", out, "--max-steps", "1000000"] + run)
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let started = Date()
        while !FileManager.default.fileExists(atPath: out + "/checkpoint.json") {
            XCTAssertLessThan(Date().timeIntervalSince(started), 60, "no checkpoint within a minute")
            Thread.sleep(forTimeInterval: 0.1)
        }
        Thread.sleep(forTimeInterval: 0.5)
        let ranks = try children(of: p.processIdentifier)
        XCTAssertEqual(ranks.count, 2, "mpirun's children: \(ranks)")
        let rankOne = try XCTUnwrap(ranks.first { pid in
            (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ")))?.split(separator: 0)
                .contains { String(decoding: $0, as: UTF8.self) == "OMPI_COMM_WORLD_RANK=1" } == true
        })
        let killedAt = Date()
        kill(rankOne, SIGKILL)
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertLessThan(Date().timeIntervalSince(killedAt), 10, "the survivor must not hang")
        XCTAssertNotEqual(p.terminationStatus, 0)
        let ours = String(decoding: errors, as: UTF8.self).split(separator: "\n").filter { $0.hasPrefix("charrnn:") }
        XCTAssertEqual(ours.count, 1, String(decoding: errors, as: UTF8.self))
        XCTAssertTrue(ours.first?.hasPrefix("charrnn: error: data-parallel training: rank 0 of 2: ") == true, "\(ours)")

        let resumed = try mpirun(ranks: 2, ["train", "--resume", out, "--max-steps", "\(try savedStep(out) + 5)"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
    }

    /// --max-time is rank 0's training time, agreed every step: both ranks stop at the same step.
    func testMaxTimeStopsEveryRank() throws {
        let started = Date()
        let r = try mpirun(ranks: 2, ["train", text, "-o", dir + "/timed", "--max-time", "1.5"] + run + ["--log-every", "10"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("done: step "), r.stdout)
        XCTAssertLessThan(Date().timeIntervalSince(started), 30)
    }

    /// With no model option, rank 0 times the machine and every rank takes its figure: one settings line,
    /// and ranks that chose alike (a model of another size on one rank would fail the gradient's
    /// all-reduce, whose length is the parameter count).
    func testSettingsChosenUnderMpirunAreRankZerosForEveryRank() throws {
        let r = try mpirun(ranks: 2, ["train", text, "-o", dir + "/chosen", "--max-time", "4", "--sample-length", "0",
                                      "--batch-size", "8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let settings = r.stdout.split(separator: "\n").filter { $0.hasPrefix("settings: ") }
        XCTAssertEqual(settings.count, 1, r.stdout)
        XCTAssertTrue(settings.first?.contains(": LSTM 2x") == true, r.stdout)
        XCTAssertTrue(r.stdout.contains("on each of 2 ranks"), r.stdout)
        XCTAssertTrue(r.stdout.contains("done: step "), r.stdout)
        let state = try String(decoding: Data(contentsOf: URL(fileURLWithPath: dir + "/chosen/train-state.safetensors")), as: UTF8.self)
        XCTAssertTrue(state.contains("automaticChoice"), "the choice is saved with the run")
    }

    func testMisfitOptionsAreOneLineFromRankZero() throws {
        let odd = try mpirun(ranks: 2, ["train", text, "-o", dir + "/odd", "--max-steps", "2"] + run + ["--batch-size", "9"])
        XCTAssertNotEqual(odd.status, 0)
        let lines = odd.stderr.split(separator: "\n").filter { $0.hasPrefix("charrnn:") }
        XCTAssertEqual(lines, ["charrnn: error: --batch-size 9 does not split evenly across 2 ranks; give a multiple of 2"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/odd"), "a failed start leaves no folder")

        let names = try mpirun(ranks: 2, ["train", text, "--names", "-o", dir + "/names", "--max-steps", "2"] + run)
        XCTAssertEqual(names.stderr.split(separator: "\n").filter { $0.hasPrefix("charrnn:") }.count, 1, names.stderr)
        XCTAssertTrue(names.stderr.contains("charrnn: error: names mode trains in one process"), names.stderr)
    }

    /// On GPUs (the host stand-in's two, one per rank): NCCL averages the gradients on the device, in
    /// the step's captured graph, and the run is the one-GPU run with all the streams, to rounding.
    func testTwoRanksOnTwoGPUsTrainAsOneGPUWithAllTheStreams() throws {
        _ = try mpirunPath()
        let cuda = try HostCUDA.environment().merging(["CHARRNN_HOST_CUDA_DEVICES": "2"]) { $1 }
        let one = dir + "/gpu1", two = dir + "/gpu2"
        let single = try charrnn(["train", text, "-o", one, "--max-steps", "40", "--device", "cuda"] + run, environment: cuda)
        XCTAssertEqual(single.status, 0, single.stderr)
        let pair = try mpirun(ranks: 2, ["train", text, "-o", two, "--max-steps", "40", "--device", "cuda"] + run,
                              environment: cuda.merging(["CHARRNN_HOST_CUDA_STATS": "1"]) { $1 })
        XCTAssertEqual(pair.status, 0, pair.stderr)
        XCTAssertTrue(pair.stdout.contains("on charrnn host CUDA stand-in (cuda:0) on each of 2 ranks"), pair.stdout)
        let a = try csv(one), b = try csv(two)
        XCTAssertEqual(a.count, 40)
        for (x, y) in zip(a, b) { XCTAssertEqual(x.train, y.train, accuracy: 1e-4, "train loss at step \(x.step)") }
        // Each rank's stand-in: collectives queued before the capture, then replayed inside the graph.
        let stats = pair.stderr.split(separator: "\n").filter { $0.hasPrefix("host CUDA: ") }
        XCTAssertEqual(stats.count, 2, pair.stderr)
        for line in stats {
            XCTAssertTrue(line.contains(" collectives;") && !line.contains(" 0 collectives;"), String(line))
            XCTAssertFalse(line.contains(" 0 graph launches"), String(line))
        }
        // One rank per GPU: with one GPU, rank 1 finds no cuda:1, says so, and nothing is left behind.
        let crowded = try mpirun(ranks: 2, ["train", text, "-o", dir + "/crowded", "--max-steps", "2", "--device", "cuda"] + run,
                                 environment: cuda.merging(["CHARRNN_HOST_CUDA_DEVICES": "1"]) { $1 })
        XCTAssertNotEqual(crowded.status, 0)
        XCTAssertEqual(crowded.stderr.split(separator: "\n").filter { $0.hasPrefix("charrnn:") },
                       ["charrnn: error: CUDA: there is no cuda:1: the driver sees 1 GPU"], crowded.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/crowded"))
    }

    // MARK: helpers

    private struct Row { var step: Int; var train: Double; var validation: Double? }

    private func csv(_ out: String) throws -> [Row] {
        try String(contentsOfFile: out + "/loss.csv", encoding: .utf8).split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            return Row(step: Int(f[0])!, train: Double(f[2])!, validation: Double(f[3]))
        }
    }

    /// Every float of a safetensors file's tensors, in the order of their names.
    private func parameters(_ path: String) throws -> [Float] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
        var values: [Float] = []
        for name in header.keys.sorted() where name != "__metadata__" {
            let entry = try XCTUnwrap(header[name] as? [String: Any])
            guard entry["dtype"] as? String == "F32", let offsets = entry["data_offsets"] as? [Int] else { continue }
            let raw = Array(bytes[(8 + n + offsets[0])..<(8 + n + offsets[1])])
            values += raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        return values
    }

    private func savedStep(_ out: String) throws -> Int {
        let manifest = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/checkpoint.json")))
                                     as? [String: Any])
        return try XCTUnwrap(manifest["step"] as? Int)
    }

    /// The processes whose parent is `pid`, from /proc.
    private func children(of pid: Int32) throws -> [Int32] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap { Int32($0) }.filter { child in
            guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid
        }
    }
}
