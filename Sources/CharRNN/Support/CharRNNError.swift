/// Every failure a user can cause. The description is one line, fit to print after "charrnn: error: ".
public enum CharRNNError: Error, CustomStringConvertible, Equatable {
    case fileNotFound(String)
    case unreadable(String, String)
    case emptyFile(String)
    case binaryFile(String)
    case utf16File(String)
    case invalidUTF8(String, offset: Int)
    case corpusTooShort(String, have: Int, need: Int)
    case unknownCharacters(what: String, chars: [String])
    case badCheckpoint(String, String)
    case unsupportedVersion(String, found: Int, supported: Int)
    case invalidOption(String)
    case trainingDiverged(String)
    case writeFailed(String, String)
    /// The GPU backend: a library not found, a call that failed, a kernel that did not compile.
    case cuda(String)
    /// Data-parallel training over MPI: no library, a failed collective, a rank that stopped answering.
    case dataParallel(String)

    public var description: String {
        switch self {
        case .fileNotFound(let p): return "\(p): no such file"
        case .unreadable(let p, let why): return "\(p): cannot read: \(why)"
        case .emptyFile(let p): return "\(p): the file is empty"
        case .binaryFile(let p): return "\(p): looks like a binary file (it contains NUL bytes), not text"
        case .utf16File(let p):
            return "\(p): looks like UTF-16 text; charrnn reads UTF-8 (convert it, e.g. iconv -f UTF-16 -t UTF-8 \(p) > out.txt)"
        case .invalidUTF8(let p, let offset): return "\(p): not valid UTF-8 (first bad byte at offset \(offset))"
        case .corpusTooShort(let p, let have, let need):
            return "\(p): too short: \(have) characters, but one batch needs at least \(need)"
        case .unknownCharacters(let what, let chars):
            let shown = chars.prefix(10).map { Self.quote($0) }.joined(separator: ", ")
            let more = chars.count > 10 ? " and \(chars.count - 10) more" : ""
            return "\(what) has characters the model never saw: \(shown)\(more)"
        case .badCheckpoint(let p, let why): return "\(p): not a usable charrnn checkpoint: \(why)"
        case .unsupportedVersion(let p, let found, let supported):
            return "\(p): checkpoint format version \(found) is not supported (this charrnn reads version \(supported))"
        case .invalidOption(let why): return why
        case .trainingDiverged(let why): return why
        case .writeFailed(let p, let why): return "\(p): cannot write: \(why)"
        case .cuda(let why): return "CUDA: \(why)"
        case .dataParallel(let why): return "data-parallel training: \(why)"
        }
    }

    /// A number option that must be finite and above 0.
    public static func requirePositive(_ value: Double, _ option: String, unit: String = "") throws {
        guard value.isFinite else { throw invalidOption("\(option) must be a finite number (got \(value))") }
        guard value > 0 else { throw invalidOption("\(option) must be above 0\(unit) (got \(value))") }
    }

    /// A character shown so that whitespace and control characters are visible.
    static func quote(_ s: String) -> String { "'" + visible(s) + "'" }

    /// `s` with every character a terminal would not show as itself written as an escape: \n, \t, \r,
    /// and U+XXXX for other controls, invisible format characters (zero-width joiners, byte-order
    /// marks), spaces other than the plain one, and the bidirectional controls, which would reorder
    /// the rest of the line on a terminal.
    public static func visible(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if isHidden(u) {
                    out += "U+" + String(String(u.value, radix: 16, uppercase: true).paddedLeft(to: 4))
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }

    static func isHidden(_ u: Unicode.Scalar) -> Bool {
        switch u.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned: return true
        case .spaceSeparator: return u != " "
        default: return u.properties.isDefaultIgnorableCodePoint || u.properties.isBidiControl
        }
    }
}

private extension String {
    func paddedLeft(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
