import Foundation
import SystemPackage

/// Paths a run stores (its text, a classifier's data folder) are absolute, so that the run reads
/// them from whatever folder it is later resumed, evaluated or sampled from.
package enum AbsolutePath {
    /// `path` resolved against the current folder, with "." and ".." removed lexically.
    package static func of(_ path: String) -> String {
        let given = FilePath(path)
        guard !given.isAbsolute else { return given.lexicallyNormalized().string }
        return FilePath(FileManager.default.currentDirectoryPath).pushing(given).lexicallyNormalized().string
    }
}
