import Foundation
import XCTest

/// Every `charrnn ...` command written in README.md and docs/ is one the CLI takes: each is parsed and
/// validated by the real binary (CHARRNN_PARSE_ONLY=1 stops it there), so a renamed or removed option
/// fails here. Synopsis lines ("[--option]", "A | B", "...") are forms, not commands, and are skipped.
final class DocumentedCommandsTests: CLITestCase {
    struct Command { let file: String; let line: Int; let words: [String] }

    static func commands(in text: String, file: String) -> [Command] {
        var found: [Command] = []
        var pending = "", start = 0, fenced = false
        for (number, raw) in text.components(separatedBy: "\n").enumerated() {
            if raw.hasPrefix("```") { fenced.toggle(); continue }
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("$ ") { line.removeFirst(2) }
            if pending.isEmpty {
                // Code only: an indented block or a fenced one, not prose that starts with the name.
                guard fenced || raw.hasPrefix("    "), line.hasPrefix("charrnn ") || line == "charrnn" else { continue }
                start = number + 1
            }
            if line.hasSuffix("\\") { pending += line.dropLast() + " "; continue }
            let command = pending + line
            pending = ""
            if command.contains(" [") || command.contains(" | ") || command.contains("...") || command.contains("<") { continue }
            found.append(Command(file: file, line: start, words: split(withoutComment(command))))
        }
        return found
    }

    /// The command before an unquoted '#'.
    static func withoutComment(_ s: String) -> String {
        var quote: Character? = nil
        for (i, c) in s.enumerated() {
            if let q = quote { if c == q { quote = nil } } else if c == "\"" || c == "'" { quote = c } else if c == "#" {
                return String(s.prefix(i))
            }
        }
        return s
    }

    /// Words as a POSIX shell splits them (quotes, no expansions).
    static func split(_ s: String) -> [String] {
        var words: [String] = [], word = "", inWord = false, quote: Character? = nil
        for c in s {
            if let q = quote {
                if c == q { quote = nil } else { word.append(c) }
            } else if c == "\"" || c == "'" {
                quote = c; inWord = true
            } else if c == " " || c == "\t" {
                if inWord { words.append(word); word = ""; inWord = false }
            } else {
                word.append(c); inWord = true
            }
        }
        if inWord { words.append(word) }
        return words
    }

    func testEveryDocumentedCommandParses() throws {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let docs = root.appendingPathComponent("docs")
        let pages = ["README.md"] + (try FileManager.default.contentsOfDirectory(atPath: docs.path))
            .filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        var all: [Command] = []
        for page in pages {
            all += Self.commands(in: try String(contentsOf: root.appendingPathComponent(page), encoding: .utf8), file: page)
        }
        XCTAssertGreaterThan(all.count, 20, "the pages' commands were found")
        for c in all {
            XCTAssertEqual(c.words.first, "charrnn")
            let r = try charrnn(Array(c.words.dropFirst()), environment: ["CHARRNN_PARSE_ONLY": "1"])
            XCTAssertEqual(r.status, 0, "\(c.file):\(c.line): \(c.words.joined(separator: " ")): \(r.stderr)")
        }
    }

    /// The check can fail: an option the CLI does not know is refused.
    func testAMisspelledOptionFails() throws {
        let c = Self.commands(in: "    charrnn sample -c runs/mine --temprature 0.5   # a comment\n", file: "x")
        XCTAssertEqual(c.first?.words, ["charrnn", "sample", "-c", "runs/mine", "--temprature", "0.5"])
        XCTAssertNotEqual(try charrnn(Array(c[0].words.dropFirst()), environment: ["CHARRNN_PARSE_ONLY": "1"]).status, 0)
        XCTAssertEqual(Self.split(#"a "b c" 'd e' f"#), ["a", "b c", "d e", "f"])
    }
}
