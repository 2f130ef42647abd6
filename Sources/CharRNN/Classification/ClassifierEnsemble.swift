import Foundation
import SystemPackage

/// Classifiers trained on the same split from different initialisations, predicting together: the
/// probabilities of the members are averaged. A training folder holds its members as
/// classifier.safetensors, classifier-2.safetensors, ...; each file is a whole classifier on its own.
package struct ClassifierEnsemble: Classifier {
    package let members: [ClassifierCheckpoint]

    package var info: ClassifierInfo { members[0].info }

    package init(_ members: [ClassifierCheckpoint]) throws {
        guard let first = members.first else { throw CharRNNError.invalidOption("an ensemble needs at least one classifier") }
        for m in members.dropFirst() {
            guard m.info.categories == first.info.categories, m.info.normalization == first.info.normalization,
                  m.info.trainingCounts == first.info.trainingCounts, m.info.priorCorrection == first.info.priorCorrection else {
                throw CharRNNError.invalidOption(
                    "the classifiers of an ensemble must share their categories, normalisation, training split and prior correction")
            }
        }
        self.members = members
    }

    /// Every member with its forward passes on `device` (nil: the CPU).
    package func placed(on device: ComputeDevice?) throws -> ClassifierEnsemble {
        try ClassifierEnsemble(members.map { try $0.placed(on: device) })
    }

    /// The file name of member k (1-based) in a training folder.
    package static func memberFile(_ k: Int) -> String { k == 1 ? "classifier.safetensors" : "classifier-\(k).safetensors" }

    /// A checkpoint file (one member), or a training folder (all its members, in order).
    package static func load(_ path: String) throws -> ClassifierEnsemble {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            return try ClassifierEnsemble([ClassifierCheckpoint.load(path)])
        }
        let folder = FilePath(path)
        var members = [try ClassifierCheckpoint.load(folder.appending(memberFile(1)).string)]
        while FileKind(folder.appending(memberFile(members.count + 1)), followingLinks: true) != .missing {
            members.append(try ClassifierCheckpoint.load(folder.appending(memberFile(members.count + 1)).string))
        }
        return try ClassifierEnsemble(members)
    }

    /// log of the members' mean probability.
    package func modelLogProbabilities(_ items: [String]) throws -> [[Float]] {
        guard members.count > 1 else { return try members[0].modelLogProbabilities(items) }
        var sum = try members[0].modelLogProbabilities(items).map { $0.map { exp($0) } }
        for m in members.dropFirst() {
            for (i, row) in try m.modelLogProbabilities(items).enumerated() {
                for c in row.indices { sum[i][c] += exp(row[c]) }
            }
        }
        let n = Float(members.count)
        return sum.map { $0.map { log($0 / n) } }
    }
}
