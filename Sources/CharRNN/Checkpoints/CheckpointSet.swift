import Foundation
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The files of one save of a training run (latest, best, train-state, loss.csv, loss.svg), committed
/// all together or not at all.
///
/// A save writes each new file as ".pending-NAME" and flushes it; then it replaces checkpoint.json,
/// which names every file of the set with its size and CRC-32: that rename is the commit point. Then
/// the pending files are renamed into place. Recovery (by the one writer, under the folder's lock)
/// rolls a committed save forward and forgets an uncommitted one, so a kill at any instant leaves the
/// previous set or the new one, never a mix. Readers that do not hold the lock (sample, eval, serve
/// on a folder that a run is writing) read the committed content without changing anything.
package struct CheckpointSet {
    package static let manifestName = "checkpoint.json"
    static let pendingPrefix = ".pending-"

    package struct Entry: Codable, Equatable, Sendable {
        package var bytes: Int
        package var crc32: String

        init(of content: [UInt8]) { bytes = content.count; crc32 = CRC32.hex(CRC32.checksum(content)) }

        func matches(_ content: [UInt8]) -> Bool { content.count == bytes && CRC32.hex(CRC32.checksum(content)) == crc32 }
    }

    package struct Manifest: Codable, Equatable, Sendable {
        package var formatVersion = 1
        package var step: Int
        package var files: [String: Entry]

        enum CodingKeys: String, CodingKey { case formatVersion = "format_version", step, files }
    }

    package let directory: FilePath
    /// Every name a save may write; a committed set removes those it no longer lists.
    let managed: Set<String>
    package private(set) var manifest: Manifest?
    /// Resuming a run saved before manifests: its files are the set, taken as they are.
    private var adopting = false

    /// The set in `directory` for its one writer (who holds its DirectoryLock): finishes or forgets
    /// an interrupted save and removes temporaries. `resuming` keeps the committed set; a fresh run
    /// starts from none (its first save replaces whatever an earlier run left).
    package static func open(_ directory: FilePath, managing names: Set<String>, resuming: Bool) throws -> CheckpointSet {
        var set = CheckpointSet(directory: directory, managed: names, manifest: try readManifest(directory))
        // A run folder may come from elsewhere: a manifest that names anything but the files a save
        // writes (a path, "..", another file of the folder) is refused before any rename.
        if let m = set.manifest, let stranger = m.files.keys.sorted().first(where: { !names.contains($0) }) {
            throw CharRNNError.badCheckpoint(directory.appending(manifestName).string,
                                             "it names \(CharRNNError.quote(stranger)), which is not a file a run saves")
        }
        set.adopting = resuming && set.manifest == nil
        if resuming, let m = set.manifest {
            for (name, entry) in m.files.sorted(by: { $0.key < $1.key }) {
                guard let copy = intactCopy(of: name, entry, in: directory) else {
                    throw CharRNNError.badCheckpoint(directory.string, "\(name) does not match \(manifestName) and no intact copy is left (was the folder changed by hand?)")
                }
                if copy.path != directory.appending(name) { try set.rename(copy.path, to: directory.appending(name)) }
            }
            try set.removeUnlisted()
            AtomicFile.syncDirectory(directory)
        }
        if !resuming { set.manifest = nil }
        set.removeTemporaries()
        return set
    }

    /// Commits one save: `files` are written, `keep` names files of the committed set that stay as
    /// they are (best.safetensors when validation did not improve).
    package mutating func commit(step: Int, files: [(name: String, bytes: [UInt8])], keep: [String]) throws {
        var next = Manifest(step: step, files: [:])
        for name in keep {
            if let entry = manifest?.files[name] {
                next.files[name] = entry
            } else if adopting, let bytes = try? TextFile.readBytes(directory.appending(name).string) {
                next.files[name] = Entry(of: bytes)
            }
        }
        for (name, bytes) in files {
            let final = directory.appending(name)
            try AtomicFile.requireRegularOrAbsent(final)
            try AtomicFile.writeFlushed(bytes, to: directory.appending(Self.pendingPrefix + name), reportAs: final.string)
            next.files[name] = Entry(of: bytes)
            SavePoints.reached()
        }
        try AtomicFile.write(SafeTensors.json(next), to: directory.appending(Self.manifestName).string)
        manifest = next
        adopting = false
        SavePoints.reached()
        for (name, _) in files {
            try rename(directory.appending(Self.pendingPrefix + name), to: directory.appending(name))
            SavePoints.reached()
        }
        try removeUnlisted()
        AtomicFile.syncDirectory(directory)
        SavePoints.reached()
    }

    /// The committed content of `name` in a training folder, for a reader that does not hold the
    /// lock: the file itself, or its pending copy when a save was committed and not yet renamed.
    /// nil when the committed set has no such file (a folder without a manifest: the file, if any).
    ///
    /// A save may commit a newer manifest between the reader's reads of the manifest and of the file;
    /// the reader then reads the manifest again and the files it names. Only a file that matches no
    /// manifest while the manifest stays the same is damaged.
    package static func committedBytes(of name: String, in directory: FilePath) throws -> [UInt8]? {
        let final = directory.appending(name)
        var previous: Manifest? = nil, unchanged = 0
        for attempt in 0..<200 {
            guard let manifest = try readManifest(directory) else {
                return FileKind(final, followingLinks: true) == .missing ? nil : try TextFile.readBytes(final.string)
            }
            guard let entry = manifest.files[name] else { return nil }
            if let copy = intactCopy(of: name, entry, in: directory) { return copy.bytes }
            unchanged = manifest == previous ? unchanged + 1 : 0
            // The same manifest over several looks, spaced out: no save is under way.
            if unchanged >= 3 { break }
            previous = manifest
            usleep(useconds_t(min(50_000, 1_000 * (attempt + 1))))
        }
        throw CharRNNError.badCheckpoint(final.string, "it does not match its checksum in \(manifestName) (the file was changed or damaged)")
    }

    /// The file itself when it holds the committed content, else its pending copy when that does.
    private static func intactCopy(of name: String, _ entry: Entry, in directory: FilePath) -> (path: FilePath, bytes: [UInt8])? {
        for path in [directory.appending(name), directory.appending(pendingPrefix + name)] {
            if let bytes = try? TextFile.readBytes(path.string), entry.matches(bytes) { return (path, bytes) }
        }
        return nil
    }

    static func readManifest(_ directory: FilePath) throws -> Manifest? {
        let path = directory.appending(manifestName)
        guard FileKind(path, followingLinks: true) != .missing else { return nil }
        let bytes = try TextFile.readBytes(path.string)
        guard let m = try? JSONDecoder().decode(Manifest.self, from: Data(bytes)), m.formatVersion == 1 else {
            throw CharRNNError.badCheckpoint(path.string, "the checkpoint manifest is not readable")
        }
        if let bad = m.files.keys.sorted().first(where: { !isPlainName($0) }) {
            throw CharRNNError.badCheckpoint(path.string, "it names \(CharRNNError.quote(bad)), which is not a plain file name in the folder")
        }
        return m
    }

    /// A name of a file directly in the folder: no separator, not "." or "..", not hidden, no NUL.
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && !name.contains("/") && !name.contains("\\") && !name.utf8.contains(0)
            && FilePath.Component(name)?.kind == .regular
    }

    private func rename(_ from: FilePath, to: FilePath) throws {
        guard Glibc_rename(from.string, to.string) == 0 else {
            throw CharRNNError.writeFailed(to.string, String(cString: strerror(errno)))
        }
    }

    /// Files of the managed names that the committed set does not list (a best.safetensors of an earlier run).
    private func removeUnlisted() throws {
        for name in managed where manifest?.files[name] == nil {
            let path = directory.appending(name)
            if FileKind(path) == .regular && unlink(path.string) != 0 {
                throw CharRNNError.writeFailed(path.string, String(cString: strerror(errno)))
            }
        }
    }

    /// Pending files of a save that was never committed, and temporaries of any earlier process.
    private func removeTemporaries() {
        AtomicFile.removeRegularFiles(in: directory) { $0.hasPrefix(Self.pendingPrefix) || $0.contains(AtomicFile.temporaryMarker) }
    }
}

/// An exclusive lock on an output folder (flock on DIR/.lock), held while a run writes there, so two
/// runs never interleave their saves and recovery may remove what it finds half-done.
package final class DirectoryLock {
    private let fd: Int32
    /// The lock file, DIR/.lock.
    package let path: FilePath

    /// `command` names the kind of run that writes there, for the message when the lock is held.
    package init(_ directory: FilePath, command: String = "charrnn train") throws {
        path = directory.appending(".lock")
        try AtomicFile.requireRegularOrAbsent(path)
        fd = open(path.string, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CharRNNError.writeFailed(path.string, String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let why = String(cString: strerror(errno))
            close(fd)
            throw busy ? CharRNNError.invalidOption("\(directory.string) is in use by another '\(command)'; wait for it, or choose another --output")
                : CharRNNError.writeFailed(path.string, why)
        }
    }

    /// Deletes the lock file, of a folder about to be removed; the lock itself goes with the last reference.
    package func remove() { unlink(path.string) }

    deinit { close(fd) }
}

@inline(__always)
private func Glibc_rename(_ from: String, _ to: String) -> Int32 {
    #if canImport(Glibc)
    return Glibc.rename(from, to)
    #else
    return Darwin.rename(from, to)
    #endif
}
