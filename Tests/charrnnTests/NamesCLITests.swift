import CharRNN
import Foundation
import XCTest

/// `charrnn classify ...` and names-mode sampling, end to end.
final class NamesCLITests: CLITestCase {
    /// `charrnn classify train` of a small, quick classifier on `data` into `out`, plus `extra` options.
    func trainSmallClassifier(_ data: String, _ out: String, _ extra: [String]) throws -> Run {
        try charrnn(["classify", "train", data, "-o", out, "--embed", "8", "--learning-rate", "0.01", "--batch-size", "16",
                     "--threads", "1"] + extra)
    }

    func testClassifyHelp() throws {
        let r = try charrnn(["classify", "--help"])
        XCTAssertEqual(r.status, 0)
        for sub in ["train", "eval", "predict"] { XCTAssertTrue(r.stdout.contains(sub)) }
    }

    func testClassifyTrainEvalPredict() throws {
        let data = try labelledFolder()
        let out = dir + "/cls"
        let t = try trainSmallClassifier(data, out, ["--hidden", "32", "--epochs", "8"])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stdout.contains("test split: accuracy"), t.stdout)
        let e = try charrnn(["classify", "eval", "-c", out])
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertTrue(e.stdout.contains("balanced accuracy"))
        XCTAssertTrue(e.stdout.contains("confusion matrix"))
        let accuracy = Double(e.stdout.split(separator: "\n").first { $0.hasPrefix("accuracy:") }!.split(separator: " ")[1])!
        XCTAssertGreaterThan(accuracy, 0.85)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/confusion.svg"))
        XCTAssertTrue(e.stdout.contains("prior correction 0.00"), e.stdout)
        XCTAssertTrue(e.stdout.contains("tau 1.00: "), e.stdout)
        let corrected = try charrnn(["classify", "eval", "-c", out, "--prior-correction", "1"])
        XCTAssertEqual(corrected.status, 0, corrected.stderr)
        XCTAssertTrue(corrected.stdout.contains("tau 1.00: ") && corrected.stdout.contains("(shown above)"), corrected.stdout)
        assertCleanError(try charrnn(["classify", "eval", "-c", out, "--prior-correction", "1.5"]), "--prior-correction")
        let p = try charrnn(["classify", "predict", "-c", out, "--top", "2", "Abcab", "Feged"])
        XCTAssertEqual(p.status, 0, p.stderr)
        let lines = p.stdout.split(separator: "\n")
        XCTAssertTrue(lines[0].hasPrefix("Abcab: Alpha"), p.stdout)
        XCTAssertTrue(lines[1].hasPrefix("Feged: Delta"), p.stdout)
        let piped = try charrnn(["classify", "predict", "-c", out], stdin: "Hgihj\n")
        XCTAssertTrue(piped.stdout.hasPrefix("Hgihj: Gamma"), piped.stdout)
        assertCleanError(try charrnn(["classify", "predict", "-c", out, "Qqq"]), "never saw")
        assertCleanError(try charrnn(["classify", "predict", "-c", out, "--top", "0", "Ab"]), "--top")
        let balanced = try charrnn(["classify", "predict", "-c", out, "--prior-correction", "1", "Abcab"])
        XCTAssertTrue(balanced.stdout.hasPrefix("Abcab: Alpha"), balanced.stdout)
        assertCleanError(try charrnn(["classify", "predict", "-c", out, "--prior-correction", "2", "Ab"]), "between 0 and 1")
        assertCleanError(try charrnn(["sample", "-c", out + "/classifier.safetensors"]), "classifier")

        // A GPU that is not there is one clear line, before anything is written; auto then runs on the CPU.
        let noDriver = ["CHARRNN_LIBCUDA": "/nonexistent/libcuda.so.1"]
        assertCleanError(try charrnn(["classify", "train", data, "-o", dir + "/gpu", "--device", "cuda"], environment: noDriver),
                         "CUDA: no usable GPU")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/gpu"))
        assertCleanError(try charrnn(["classify", "eval", "-c", out, "--device", "cuda:0"], environment: noDriver), "CUDA: no usable GPU")
        assertCleanError(try charrnn(["classify", "predict", "-c", out, "--device", "cuda", "Ab"], environment: noDriver),
                         "CUDA: no usable GPU")
        assertCleanError(try charrnn(["classify", "predict", "-c", out, "--device", "tpu", "Ab"]), "--device must be")
        let auto = try charrnn(["classify", "predict", "-c", out, "--device", "auto", "Abcab"], environment: noDriver)
        XCTAssertEqual(auto.status, 0, auto.stderr)
        XCTAssertEqual(auto.stderr, "")
        XCTAssertTrue(auto.stdout.hasPrefix("Abcab: Alpha"), auto.stdout)
    }

    func testClassifyEnsemble() throws {
        let data = try labelledFolder()
        let out = dir + "/ens"
        let t = try trainSmallClassifier(data, out, ["--hidden", "16", "--epochs", "4", "--ensemble", "2"])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stdout.contains("classifier 2 of 2") && t.stdout.contains("2 checkpoints in"), t.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/classifier-2.safetensors"))
        let e = try charrnn(["classify", "eval", "-c", out])
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertTrue(e.stdout.contains("ensemble of 2 classifiers"), e.stdout)
        let p = try charrnn(["classify", "predict", "-c", out, "Abcab"])
        XCTAssertTrue(p.stdout.hasPrefix("Abcab: Alpha"), p.stdout)
        assertCleanError(try charrnn(["classify", "train", data, "-o", out, "--ensemble", "0"]), "--ensemble")
    }

    func testClassifyDataErrors() throws {
        let empty = dir + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        assertCleanError(try charrnn(["classify", "train", empty]), "no .txt files")
        try "Ann\n".write(toFile: empty + "/One.txt", atomically: true, encoding: .utf8)
        assertCleanError(try charrnn(["classify", "train", empty]), "single category")
        try "\n".write(toFile: empty + "/Two.txt", atomically: true, encoding: .utf8)
        assertCleanError(try charrnn(["classify", "train", empty]), "has no items")
        assertCleanError(try charrnn(["classify", "train", dir + "/nothing"]), "no such file")
    }

    func testNamesSamplingUniqueNovelAndByCategory() throws {
        var rng = RandomGenerator(seed: 9)
        let syllables = ["sau", "rus", "don", "tyr", "rap", "tor", "cera", "odon"]
        var names = Set<String>()
        while names.count < 200 {
            names.insert((0..<(2 + rng.nextInt(below: 2))).map { _ in syllables[rng.nextInt(below: syllables.count)] }.joined().capitalized)
        }
        let file = dir + "/dinos.txt"
        try names.sorted().joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let out = dir + "/dinos"
        let t = try charrnn(["train", file, "--names", "-o", out, "--hidden", "48", "--embed", "16", "--batch-size", "16",
                             "--learning-rate", "0.01", "--max-steps", "250", "--eval-every", "125", "--threads", "1"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let s = try charrnn(["sample", "-c", out, "--count", "15", "--unique", "--novel", "--seed", "3", "--temperature", "1"])
        XCTAssertEqual(s.status, 0, s.stderr)
        let got = s.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(got.count, 15)
        XCTAssertEqual(Set(got).count, 15)
        XCTAssertTrue(got.allSatisfy { !names.contains($0) }, "\(got)")
        let primed = try charrnn(["sample", "-c", out, "--prime", "Tyr", "--count", "3", "--seed", "1"])
        XCTAssertTrue(primed.stdout.split(separator: "\n").allSatisfy { $0.hasPrefix("Tyr") }, primed.stdout)
        assertCleanError(try charrnn(["sample", "-c", out, "--category", "Russian"]), "not trained with categories")

        let labelled = try labelledFolder()
        let cond = dir + "/cond"
        let c = try charrnn(["train", labelled, "-o", cond, "--hidden", "32", "--embed", "8", "--batch-size", "16",
                             "--learning-rate", "0.01", "--max-steps", "200", "--eval-every", "200", "--threads", "1"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let g = try charrnn(["sample", "-c", cond, "--category", "Gamma", "--count", "8", "--seed", "2", "--temperature", "0.7"])
        XCTAssertEqual(g.status, 0, g.stderr)
        let gamma = g.stdout.split(separator: "\n")
        XCTAssertEqual(gamma.count, 8)
        XCTAssertGreaterThanOrEqual(gamma.filter { $0.lowercased().allSatisfy { "ghijx".contains($0) } }.count, 7, g.stdout)
        assertCleanError(try charrnn(["sample", "-c", cond]), "--category")
        assertCleanError(try charrnn(["sample", "-c", cond, "--category", "Omega"]), "unknown category 'Omega'")
    }

    /// `eval` of a names model reads each line from the start symbol, as training's validation does, so
    /// a name scores the same wherever it stands; a model trained by category reads a folder by category
    /// or a file with --category, and refuses a file without one (which used to stop at a precondition).
    func testEvalReadsNamesLineByLineAndByCategory() throws {
        let file = dir + "/names.txt", once = dir + "/once.txt", five = dir + "/five.txt"
        try ["Saurus", "Rapdon", "Tyrodon", "Ceratops", "Donrus"].joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        try "Rapdon\n".write(toFile: once, atomically: true, encoding: .utf8)
        try String(repeating: "Rapdon\n", count: 5).write(toFile: five, atomically: true, encoding: .utf8)
        let out = dir + "/names"
        XCTAssertEqual(try charrnn(["train", file, "--names", "-o", out, "--hidden", "16", "--embed", "8", "--max-steps", "30",
                                    "--threads", "1"]).status, 0)
        let one = try charrnn(["eval", "-c", out, once]), many = try charrnn(["eval", "-c", out, five])
        XCTAssertEqual(one.status, 0, one.stderr)
        func line(_ r: Run, _ prefix: String) -> String? { r.stdout.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init) }
        XCTAssertEqual(line(one, "cross-entropy"), line(many, "cross-entropy"))
        XCTAssertEqual(line(one, "characters predicted"), "characters predicted: 7 (each name's end included)")
        XCTAssertEqual(line(many, "names"), "names: 5, each read from the start symbol")
        assertCleanError(try charrnn(["eval", "-c", out, once, "--category", "Alpha"]), "not trained by category")

        let labelled = try labelledFolder(), cond = dir + "/cond"
        XCTAssertEqual(try charrnn(["train", labelled, "-o", cond, "--hidden", "16", "--embed", "8", "--max-steps", "20",
                                    "--threads", "1"]).status, 0)
        let all = try charrnn(["eval", "-c", cond, labelled])
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertEqual(line(all, "names"), "names: 360, each read from the start symbol")
        let gammaOnly = dir + "/gamma-only"
        try FileManager.default.createDirectory(atPath: gammaOnly, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: labelled + "/Gamma.txt", toPath: gammaOnly + "/Gamma.txt")
        let byFolder = try charrnn(["eval", "-c", cond, gammaOnly])
        let byOption = try charrnn(["eval", "-c", cond, labelled + "/Gamma.txt", "--category", "Gamma"])
        XCTAssertEqual(byOption.status, 0, byOption.stderr)
        XCTAssertEqual(line(byFolder, "cross-entropy"), line(byOption, "cross-entropy"))
        XCTAssertNotEqual(line(byOption, "cross-entropy"),
                          line(try charrnn(["eval", "-c", cond, labelled + "/Gamma.txt", "--category", "Alpha"]), "cross-entropy"))
        assertCleanError(try charrnn(["eval", "-c", cond, labelled + "/Gamma.txt"]), "give a folder of one file per category, or --category")
        assertCleanError(try charrnn(["eval", "-c", cond, labelled + "/Gamma.txt", "--category", "Omega"]), "unknown category 'Omega'")
        try "Omab\n".write(toFile: gammaOnly + "/Omega.txt", atomically: true, encoding: .utf8)
        assertCleanError(try charrnn(["eval", "-c", cond, gammaOnly]), "unknown category 'Omega'")
        assertCleanError(try charrnn(["eval", "-c", out, labelled]), "is a folder")
    }
}
