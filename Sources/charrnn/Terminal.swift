import CharRNN
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Output helpers: streamed characters, one-line errors, progress lines that update in place on a terminal.
enum Terminal {
    static var stdoutIsTerminal: Bool { isatty(1) != 0 }
    static var stdinIsTerminal: Bool { isatty(0) != 0 }

    /// Writes straight to the file descriptor: unbuffered, so streamed characters appear at once.
    static func write(_ s: String, to fd: Int32 = 1) {
        var s = s
        s.withUTF8 { buf in
            var done = 0
            while done < buf.count {
                #if canImport(Glibc)
                let n = Glibc.write(fd, buf.baseAddress! + done, buf.count - done)
                #else
                let n = Darwin.write(fd, buf.baseAddress! + done, buf.count - done)
                #endif
                if n < 0 { if errno == EINTR { continue }; return }
                done += n
            }
        }
    }

    static func writeFlushed(_ s: String) { write(s) }

    static func error(_ s: String) { write(s + "\n", to: 2) }

    static func fail(_ message: String, code: Int32) -> Never {
        error("charrnn: error: \(message)")
        exit(code)
    }

    static func exit(_ code: Int32) -> Never {
        #if canImport(Glibc)
        Glibc.exit(code)
        #else
        Darwin.exit(code)
        #endif
    }

    static func duration(_ s: Double) -> String {
        guard s.isFinite, s >= 0 else { return "?" }
        guard s < 100 * 3600 else { return ">99h" }
        let t = Int(s.rounded())
        if t >= 3600 { return "\(t / 3600)h\(pad((t % 3600) / 60))m" }
        if t >= 60 { return "\(t / 60)m\(pad(t % 60))s" }
        return "\(t)s"
    }

    private static func pad(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
}

/// Parses an option value that names one character, allowing escapes such as \n and \t.
func parseCharacter(_ s: String, option: String) throws -> Unicode.Scalar {
    let unescaped: String
    switch s {
    case "\\n", "newline": unescaped = "\n"
    case "\\t", "tab": unescaped = "\t"
    case "\\r": unescaped = "\r"
    case "space": unescaped = " "
    default: unescaped = s
    }
    guard unescaped.unicodeScalars.count == 1, let c = unescaped.unicodeScalars.first else {
        throw CharRNNError.invalidOption("\(option) takes one character (or \\n, \\t), got '\(s)'")
    }
    return c
}
