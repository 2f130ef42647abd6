import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A training run's output folder: its lock, held for as long as the run lives (by rank 0 alone in a
/// data-parallel run), and its checkpoint set. A folder this run made is taken away again when the run
/// fails before its first save, so a failed start leaves nothing behind.
final class TrainingRunFolder {
    /// The files of one save.
    static let savedFiles: Set<String> = ["latest.safetensors", "best.safetensors", "train-state.safetensors",
                                          "loss.csv", "loss.svg"]
    let path: FilePath
    private let lock: DirectoryLock?
    private var checkpoints: CheckpointSet?
    private let created: Bool

    private init(_ path: FilePath, lock: DirectoryLock?, checkpoints: CheckpointSet?, created: Bool) {
        self.path = path; self.lock = lock; self.checkpoints = checkpoints; self.created = created
    }

    /// A rank other than 0 of a data-parallel run: it reads the folder and writes nothing.
    static func follower(_ path: FilePath) -> TrainingRunFolder {
        TrainingRunFolder(path, lock: nil, checkpoints: nil, created: false)
    }

    /// A saved run's folder, locked, with a save that a kill interrupted finished or forgotten, so that
    /// the train state read next is the committed one.
    static func resumed(_ path: FilePath) throws -> TrainingRunFolder {
        let lock = try DirectoryLock(path, command: "charrnn train")
        let checkpoints = try CheckpointSet.open(path, managing: savedFiles, resuming: true)
        return TrainingRunFolder(path, lock: lock, checkpoints: checkpoints, created: false)
    }

    /// A new run's folder, made when missing. One that already holds a run is refused unless `replacing`
    /// (--overwrite): a new run never silently takes the place of one a user made.
    static func fresh(_ path: FilePath, replacing: Bool) throws -> TrainingRunFolder {
        let created = FileKind(path, followingLinks: true) == .missing
        try AtomicFile.makeDirectory(path.string)
        let lock: DirectoryLock
        do {
            lock = try DirectoryLock(path, command: "charrnn train")
        } catch {
            if created { rmdir(path.string) }
            throw error
        }
        let folder = TrainingRunFolder(path, lock: lock, checkpoints: nil, created: created)
        do {
            if !created && !replacing, let what = try RunFolder.heldRun(in: path, files: savedFiles) {
                throw CharRNNError.invalidOption(
                    "\(path.string) already holds \(what); continue it with 'charrnn train --resume \(path.string)', "
                    + "or give --overwrite to replace it")
            }
            folder.checkpoints = try CheckpointSet.open(path, managing: savedFiles, resuming: false)
        } catch {
            folder.abandon()
            throw error
        }
        return folder
    }

    /// Whether this process writes the run's files (rank 0, or the only process).
    var writes: Bool { checkpoints != nil }
    /// The step of the last committed save, if any.
    var savedStep: Int? { checkpoints?.manifest?.step }

    func commit(step: Int, files: [(name: String, bytes: [UInt8])], keep: [String]) throws {
        try checkpoints?.commit(step: step, files: files, keep: keep)
    }

    /// Takes away the folder this run made, unless a save has been committed to it.
    func abandon() {
        guard created, savedStep == nil else { return }
        lock?.remove()
        rmdir(path.string)
    }
}
