#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a UTF-8 text file, with one clear error for each way it can be unusable.
public enum TextFile {
    public static func readBytes(_ path: String) throws -> [UInt8] {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { throw CharRNNError.fileNotFound(path) }
            throw CharRNNError.unreadable(path, String(cString: strerror(errno)))
        }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw CharRNNError.unreadable(path, "it is a directory") }
        guard let f = fopen(path, "rb") else {
            throw CharRNNError.unreadable(path, String(cString: strerror(errno)))
        }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
            if n < chunk.count {
                if ferror(f) != 0 { throw CharRNNError.unreadable(path, "read error") }
                break
            }
        }
        return bytes
    }

    /// The file's text; rejects missing, empty, binary (NUL bytes) and invalid UTF-8 files.
    public static func read(_ path: String) throws -> String {
        let bytes = try readBytes(path)
        if bytes.isEmpty { throw CharRNNError.emptyFile(path) }
        return try decode(bytes, path: path)
    }

    public static func decode(_ bytes: [UInt8], path: String) throws -> String {
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
