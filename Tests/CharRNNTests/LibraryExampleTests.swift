import CharRNN
import Foundation
import XCTest

/// An app's whole path through the library, in a scratch folder: train, load, sample, score
/// (the README's program, Examples/FromSwift, is the second half).
final class LibraryExampleTests: XCTestCase {
    func testTrainLoadGenerateAndScoreThroughTheLibrary() async throws {
        let dir = scratchDirectory()
        let previous = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(dir)
        defer { FileManager.default.changeCurrentDirectoryPath(previous) }
        try FileManager.default.createDirectory(atPath: "data", withIntermediateDirectories: true)
        try String(repeating: "ROMEO:\nWhat light through yonder window breaks?\n\n", count: 60)
            .write(toFile: "data/shakespeare.txt", atomically: true, encoding: .utf8)

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
    }
}
