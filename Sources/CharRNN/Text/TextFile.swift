import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads files with one clear error for each way they can be unusable, and a bound on how much is read
/// (a pipe or a device such as /dev/zero never ends).
package enum TextFile {
    /// The largest text charrnn trains on or evaluates.
    package static let maximumTextBytes = 1 << 30
    /// The largest checkpoint or training state it loads.
    package static let maximumFileBytes = 1 << 34

    package static func readBytes(_ path: String, limit: Int = maximumFileBytes) throws -> [UInt8] {
        try read(path, limit: limit, text: false)
    }

    /// The file's text; rejects missing, empty, binary (NUL bytes), UTF-16 and invalid UTF-8 files.
    package static func read(_ path: String) throws -> String {
        let bytes = try read(path, limit: maximumTextBytes, text: true)
        if bytes.isEmpty { throw CharRNNError.emptyFile(path) }
        return try decode(bytes, path: path)
    }

    private static func read(_ path: String, limit: Int, text: Bool) throws -> [UInt8] {
        guard !path.isEmpty else { throw CharRNNError.fileNotFound("''") }
        let kind = FileKind(FilePath(path), followingLinks: true)
        switch kind {
        case .missing:
            if errno == ENOENT || errno == ENOTDIR { throw CharRNNError.fileNotFound(path) }
            throw CharRNNError.unreadable(path, String(cString: strerror(errno)))
        case .directory: throw CharRNNError.unreadable(path, "it is a folder")
        case .regular, .other: break
        }
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(FilePath(path), .readOnly) } catch let e as Errno {
            throw CharRNNError.unreadable(path, e.description)
        }
        return try fd.closeAfter {
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n: Int
                do { n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) } } catch let e as Errno {
                    throw CharRNNError.unreadable(path, e.description)
                }
                if n == 0 { return bytes }
                if text {
                    if bytes.isEmpty, looksLikeUTF16(chunk[0..<n]) { throw CharRNNError.utf16File(path) }
                    if chunk[0..<n].contains(0) { throw CharRNNError.binaryFile(path) }
                }
                guard bytes.count + n <= limit else {
                    throw CharRNNError.unreadable(path, "it is larger than the \(MemoryEstimate.describe(limit)) charrnn reads")
                }
                bytes.append(contentsOf: chunk[0..<n])
            }
        }
    }

    /// A UTF-16 byte-order mark, or text whose every other byte is NUL.
    static func looksLikeUTF16(_ head: ArraySlice<UInt8>) -> Bool {
        let b = Array(head.prefix(4096))
        if b.count >= 2 && ((b[0] == 0xFF && b[1] == 0xFE) || (b[0] == 0xFE && b[1] == 0xFF)) { return true }
        guard b.count >= 8 else { return false }
        var evenZero = 0, oddZero = 0
        for (i, x) in b.enumerated() where x == 0 { if i % 2 == 0 { evenZero += 1 } else { oddZero += 1 } }
        let half = b.count / 2
        return (oddZero * 10 >= half * 8 && evenZero * 10 <= half) || (evenZero * 10 >= half * 8 && oddZero * 10 <= half)
    }

    package static func decode(_ bytes: [UInt8], path: String) throws -> String {
        if looksLikeUTF16(bytes[...]) { throw CharRNNError.utf16File(path) }
        if bytes.contains(0) { throw CharRNNError.binaryFile(path) }
        var it = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        var scalars = String.UnicodeScalarView()
        var consumed = 0
        loop: while true {
            switch decoder.decode(&it) {
            case .scalarValue(let s):
                scalars.append(s)
                consumed += UTF8.width(s)
                offset = consumed
            case .emptyInput: break loop
            case .error: throw CharRNNError.invalidUTF8(path, offset: offset)
            }
        }
        var text = String(scalars)
        // A byte-order mark is not part of the text.
        if text.unicodeScalars.first == "\u{FEFF}" { text.unicodeScalars.removeFirst() }
        return text
    }
}
