import SystemPackage

/// What a folder a new run is told to write into already holds: a new run refuses a folder that
/// holds another run's files unless told to replace them, and never touches the files it does not save.
package enum RunFolder {
    /// Words for the run `folder` holds ("a training run saved at step 1385"), or nil when none of
    /// `files` (nor their pending copies, nor a manifest) is there.
    package static func heldRun(in folder: FilePath, files: Set<String>) throws -> String? {
        if let manifest = try? CheckpointSet.readManifest(folder) {
            return "a training run saved at step \(manifest.step)"
        }
        if FileKind(folder.appending(CheckpointSet.manifestName)) != .missing {
            return "a training run (its \(CheckpointSet.manifestName) is damaged)"
        }
        let found = files.sorted().filter {
            FileKind(folder.appending($0)) != .missing || FileKind(folder.appending(CheckpointSet.pendingPrefix + $0)) != .missing
        }
        guard !found.isEmpty else { return nil }
        return "files a run would replace (\(found.joined(separator: ", ")))"
    }
}
