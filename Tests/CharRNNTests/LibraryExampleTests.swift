import CharRNN
import Foundation
import XCTest

/// The README's Swift example, as written there, in a scratch folder: train, load, sample.
final class LibraryExampleTests: XCTestCase {
    func testTheReadmesSwiftExampleRuns() async throws {
        let dir = scratchDirectory()
        let previous = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(dir)
        defer { FileManager.default.changeCurrentDirectoryPath(previous) }
        try FileManager.default.createDirectory(atPath: "data", withIntermediateDirectories: true)
        try String(repeating: "ROMEO:\nWhat light through yonder window breaks?\n\n", count: 60)
            .write(toFile: "data/shakespeare.txt", atomically: true, encoding: .utf8)

        // From README.md, "From Swift" (only maxTime differs: a test has seconds, not minutes).
        var options = TrainingOptions(textPath: "data/shakespeare.txt", outputDirectory: "runs/mine")
        options.maxTime = 3
        _ = try Trainer(options: options).run()

        let model = try LanguageModel(contentsOf: "runs/mine")
        var printed = ""
        for try await piece in model.generate(prompt: "ROMEO:", length: 200, options: SamplingOptions(temperature: 0.8)) {
            printed += piece
        }
        let bits = try model.evaluate(text: "ROMEO:\nWhat light through yonder window breaks?").bitsPerCharacter
        XCTAssertEqual(printed.unicodeScalars.count, 200)
        XCTAssertTrue(bits.isFinite && bits > 0)

        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        for line in ["var options = TrainingOptions(textPath: \"data/shakespeare.txt\", outputDirectory: \"runs/mine\")",
                     "_ = try Trainer(options: options).run()", "let model = try LanguageModel(contentsOf: \"runs/mine\")",
                     "for try await piece in model.generate(prompt: \"ROMEO:\", length: 200, options: SamplingOptions(temperature: 0.8)) {",
                     "print(try model.evaluate(text: \"ROMEO:\\nWhat light through yonder window breaks?\").bitsPerCharacter)"] {
            XCTAssertTrue(readme.contains(line), "the README's example has changed: \(line)")
        }
    }
}
