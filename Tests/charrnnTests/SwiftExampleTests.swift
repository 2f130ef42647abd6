import Foundation
import XCTest

/// The README's "From Swift" program: the README shows Examples/FromSwift/main.swift as it is, and
/// the built program loads the quick start's runs/mine and prints its continuation and score.
final class SwiftExampleTests: CLITestCase {
    static var root: URL {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }

    func testTheReadmeShowsTheExampleProgramAsItIs() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let program = try String(contentsOf: Self.root.appendingPathComponent("Examples/FromSwift/main.swift"), encoding: .utf8)
        let blocks = readme.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        XCTAssertEqual(blocks, [program], "the README's swift block differs from Examples/FromSwift/main.swift")
    }

    func testTheExampleProgramPrintsAContinuationAndAScoreFromRunsMine() throws {
        let corpus = dir + "/romeo.txt"
        try String(repeating: "ROMEO:\nWhat light through yonder window breaks?\nIt is the east.\n\n", count: 80)
            .write(toFile: corpus, atomically: true, encoding: .utf8)
        let trained = try charrnn(["train", corpus, "--output", dir + "/runs/mine", "--max-steps", "30", "--eval-every", "30",
                                   "--sample-length", "0"])
        XCTAssertEqual(trained.status, 0, trained.stderr)

        let example = try run(Self.binary.deletingLastPathComponent().appendingPathComponent("from-swift"), in: dir)
        XCTAssertEqual(example.status, 0, example.stderr)

        let lines = example.stdout.components(separatedBy: "\n")
        let scoreLine = try XCTUnwrap(lines.last { !$0.isEmpty })
        let bits = try XCTUnwrap(Double(scoreLine.replacingOccurrences(of: " bits per character", with: "")), scoreLine)
        XCTAssertTrue(scoreLine.hasSuffix(" bits per character"))
        // 30 steps of this text: far better than a guess among its characters, far from perfect.
        XCTAssertGreaterThan(bits, 0.1)
        XCTAssertLessThan(bits, 4.5)
        let continuation = example.stdout.dropLast(scoreLine.count + 2)
        XCTAssertEqual(continuation.unicodeScalars.count, 200, "the program prints 200 generated characters, then its score")
    }
}
