import Foundation
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a whole file or nothing: the bytes go to a temporary name in the same folder, are flushed
/// to disk, and the temporary file is renamed over the target. A crash leaves the old file intact.
/// Targets must be regular files or absent: a rename over a device node, a FIFO, a folder or a
/// symbolic link would replace it with a regular file.
package enum AtomicFile {
    /// The suffix of a temporary file; a trainer that holds its folder's lock removes stale ones.
    package static let temporaryMarker = ".tmp-"

    package static func write(_ bytes: [UInt8], to path: String) throws {
        let target = FilePath(path)
        guard let name = target.lastComponent, name.kind == .regular else {
            throw CharRNNError.writeFailed(path.isEmpty ? "''" : path, "not a file name")
        }
        try requireRegularOrAbsent(target)
        let folder = directory(of: target)
        removeStaleTemporaries(of: name.string, in: folder)
        let tmp = folder.appending(name.string + temporaryMarker + "\(getpid())")
        try writeFlushed(bytes, to: tmp, reportAs: path)
        SavePoints.reached()
        guard rename(tmp.string, target.string) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(tmp.string)
            throw CharRNNError.writeFailed(path, why)
        }
        syncDirectory(folder)
    }

    package static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    /// Temporaries of `name` left by processes that no longer run (killed in the middle of a write).
    static func removeStaleTemporaries(of name: String, in folder: FilePath) {
        let prefix = name + temporaryMarker
        removeRegularFiles(in: folder) { other in
            guard other.hasPrefix(prefix), let pid = Int32(other.dropFirst(prefix.count)), pid != getpid() else { return false }
            return kill(pid, 0) != 0 && errno == ESRCH
        }
    }

    /// Removes the regular files in `folder` whose names `matching` accepts (never links or devices).
    static func removeRegularFiles(in folder: FilePath, matching: (String) -> Bool) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.string)) ?? []
        for name in names where matching(name) {
            let path = folder.appending(name)
            if FileKind(path) == .regular { unlink(path.string) }
        }
    }

    /// Creates, writes and flushes `path` (replacing what is there), removing it again on failure.
    static func writeFlushed(_ bytes: [UInt8], to path: FilePath, reportAs shown: String) throws {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .writeOnly, options: [.create, .truncate],
                                         permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch let e as Errno {
            throw CharRNNError.writeFailed(shown, e.description)
        }
        do {
            try fd.closeAfter {
                _ = try bytes.withUnsafeBytes { try fd.writeAll($0) }
                if fsync(fd.rawValue) != 0 { throw Errno(rawValue: errno) }
            }
        } catch {
            unlink(path.string)
            throw CharRNNError.writeFailed(shown, (error as? Errno)?.description ?? "\(error)")
        }
    }

    /// Makes a rename in `folder` durable.
    static func syncDirectory(_ folder: FilePath) {
        let dfd = open(folder.string, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    /// The folder a path's file is in ("." for a bare name).
    package static func directory(of path: FilePath) -> FilePath {
        let d = path.removingLastComponent()
        return d.isEmpty ? "." : d
    }

    /// Refuses a target that exists and is not a regular file.
    package static func requireRegularOrAbsent(_ path: FilePath) throws {
        switch FileKind(path) {
        case .missing, .regular: return
        case .directory: throw CharRNNError.writeFailed(path.string, "it is a folder")
        case .other(let what):
            throw CharRNNError.writeFailed(path.string, "it is \(what), not a regular file; charrnn writes only regular files")
        }
    }

    /// Creates the folder (and its parents) if missing.
    package static func makeDirectory(_ path: String) throws {
        guard !path.isEmpty else { throw CharRNNError.writeFailed("''", "an output folder needs a name") }
        var current = FilePath(path).root.map { FilePath(root: $0) } ?? FilePath(".")
        for part in FilePath(path).components {
            current.append(part)
            if mkdir(current.string, 0o755) != 0 && errno != EEXIST {
                throw CharRNNError.writeFailed(path, String(cString: strerror(errno)))
            }
        }
        guard FileKind(FilePath(path), followingLinks: true) == .directory else {
            throw CharRNNError.writeFailed(path, "not a folder")
        }
    }

    package static func exists(_ path: String) -> Bool {
        FileKind(FilePath(path)) != .missing
    }
}

/// What is at a path, from lstat (or stat when following links).
package enum FileKind: Equatable {
    case missing, regular, directory
    /// A symbolic link, device node, FIFO or socket, named for messages.
    case other(String)

    package init(_ path: FilePath, followingLinks: Bool = false) {
        var st = stat()
        let r = followingLinks ? stat(path.string, &st) : lstat(path.string, &st)
        guard r == 0 else { self = .missing; return }
        switch st.st_mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFLNK: self = .other("a symbolic link")
        case S_IFCHR, S_IFBLK: self = .other("a device")
        case S_IFIFO: self = .other("a FIFO")
        case S_IFSOCK: self = .other("a socket")
        default: self = .other("not a regular file")
        }
    }
}

/// Faults a test can have the process inject into itself, through the environment:
/// CHARRNN_TEST_KILL_AT_SAVE_POINT=N sends SIGKILL at the N-th numbered point inside a save (a kill at
/// any instant of a save loses nothing); CHARRNN_TEST_SIGINT_AT_VALIDATION=N sends SIGINT as the N-th
/// validation starts (Ctrl-C in the middle of one).
package enum SavePoints {
    private static func setting(_ name: String) -> Int? { getenv(name).flatMap { Int(String(cString: $0)) } }
    private static let killAt = setting("CHARRNN_TEST_KILL_AT_SAVE_POINT")
    private static let interruptAt = setting("CHARRNN_TEST_SIGINT_AT_VALIDATION")
    nonisolated(unsafe) private static var passed = 0
    nonisolated(unsafe) private static var validations = 0

    static func reached() {
        guard let killAt else { return }
        passed += 1
        if passed == killAt { kill(getpid(), SIGKILL) }
    }

    static func validationStarts() {
        guard let interruptAt else { return }
        validations += 1
        if validations == interruptAt { kill(getpid(), SIGINT) }
    }
}
