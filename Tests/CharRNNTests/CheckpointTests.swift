import CharRNN
import Foundation
import XCTest

final class CheckpointTests: XCTestCase {
    func makeCheckpoint() -> Checkpoint {
        let vocab = Vocabulary(scalarsOf: "hello wörld 語\n".unicodeScalars)
        let model = randomModel(ModelConfig(cell: .gru, layers: 2, hidden: 6, embed: 3, vocabSize: vocab.count), seed: 5)
        return Checkpoint(model: model, vocabulary: vocab, startCharacter: "\n",
                          training: TrainingSummary(step: 3, epoch: 0.5, trainLoss: 2.5, validationLoss: nil, corpus: "x.txt"))
    }

    func testRoundTripKeepsEverything() throws {
        let cp = makeCheckpoint()
        let back = try Checkpoint.decode(cp.encode(), path: "mem")
        XCTAssertEqual(back.info, cp.info)
        XCTAssertEqual(back.vocabulary, cp.vocabulary)
        XCTAssertEqual(back.model.parameters.array, cp.model.parameters.array)
    }

    func testTensorNamesAndShapesArePyTorchs() throws {
        let cp = makeCheckpoint()
        let file = try SafeTensors.decode(cp.encode(), path: "mem")
        let V = cp.vocabulary.count
        XCTAssertEqual(file.tensors["embedding.weight"]?.shape, [V, 3])
        XCTAssertEqual(file.tensors["rnn.weight_ih_l0"]?.shape, [18, 3])
        XCTAssertEqual(file.tensors["rnn.weight_hh_l1"]?.shape, [18, 6])
        XCTAssertEqual(file.tensors["rnn.bias_ih_l1"]?.shape, [18])
        XCTAssertEqual(file.tensors["decoder.weight"]?.shape, [V, 6])
        XCTAssertEqual(file.tensors["decoder.bias"]?.shape, [V])
        XCTAssertEqual(file.tensors.count, 2 + 4 * 2 + 1)
        XCTAssertNotNil(file.metadata["charrnn"])
    }

    func expectError(_ bytes: [UInt8], contains text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Checkpoint.decode(bytes, path: "cp"), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(text), "\(error)", file: file, line: line)
        }
    }

    func testCorruptTruncatedAndForeignFilesAreRejected() throws {
        let bytes = makeCheckpoint().encode()
        expectError(Array(bytes.prefix(5)), contains: "too short")
        expectError(Array(bytes.prefix(bytes.count - 10)), contains: "truncated")
        expectError(Array(bytes.prefix(200)), contains: "header length")
        var garbled = bytes
        for i in 8..<40 { garbled[i] = 0x7B }
        expectError(garbled, contains: "not valid JSON")
        let foreign = SafeTensors.encode([.init(name: "w", shape: [2], values: [1, 2])], metadata: [:])
        expectError(foreign, contains: "no charrnn metadata")
        var bad = bytes
        bad.append(contentsOf: [1, 2, 3, 4])
        expectError(bad, contains: "no tensor covers")
    }

    func testOtherVersionIsNamed() throws {
        let cp = makeCheckpoint()
        let file = try SafeTensors.decode(cp.encode(), path: "x")
        let meta = file.metadata["charrnn"]!.replacingOccurrences(of: "\"format_version\":1", with: "\"format_version\":7")
        let tensors = cp.model.layout.slots.map { file.tensors[$0.name]! }
        expectError(SafeTensors.encode(tensors, metadata: ["charrnn": meta]), contains: "version 7 is not supported")
    }

    func testWrongShapeIsRejected() throws {
        let cp = makeCheckpoint()
        let file = try SafeTensors.decode(cp.encode(), path: "x")
        var tensors = cp.model.layout.slots.map { file.tensors[$0.name]! }
        tensors[1] = .init(name: tensors[1].name, shape: [2, 2], values: [0, 0, 0, 0])
        expectError(SafeTensors.encode(tensors, metadata: file.metadata), contains: "has shape [2, 2]")
    }

    func testAtomicWriteLeavesNoTemporaryFiles() throws {
        let dir = temporaryDirectory()
        try AtomicFile.write("one", to: dir + "/f.txt")
        try AtomicFile.write("two", to: dir + "/f.txt")
        XCTAssertEqual(try String(contentsOfFile: dir + "/f.txt", encoding: .utf8), "two")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["f.txt"])
    }
}
