import CharRNN
import Foundation
import SystemPackage
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
        let dir = scratchDirectory()
        try AtomicFile.write("one", to: dir + "/f.txt")
        try AtomicFile.write("two", to: dir + "/f.txt")
        XCTAssertEqual(try String(contentsOfFile: dir + "/f.txt", encoding: .utf8), "two")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["f.txt"])
    }

    func testCRC32IsZlibs() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum([]), 0)
        let long = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var byteWise: UInt32 = 0xFFFF_FFFF
        for b in long {
            byteWise ^= UInt32(b)
            for _ in 0..<8 { byteWise = byteWise & 1 != 0 ? 0xEDB8_8320 ^ (byteWise >> 1) : byteWise >> 1 }
        }
        XCTAssertEqual(CRC32.checksum(long), byteWise ^ 0xFFFF_FFFF, "the sliced loop agrees with the bitwise definition")
    }

    func testChangedTensorOrMetadataBytesAreRejected() throws {
        let bytes = makeCheckpoint().encode()
        var tensor = bytes
        tensor[tensor.count - 3] ^= 0x40
        expectError(tensor, contains: "does not match its checksum")
        // The same length, another number: only the checksum can tell.
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8
        var header = Array(bytes[8..<(8 + headerLength)])
        let key = Array("start_character".utf8)
        let at = (0..<(header.count - key.count)).first { Array(header[$0..<($0 + key.count)]) == key }!
        header[at] = UInt8(ascii: "S")
        var meta = Array(bytes[0..<8]) + header + Array(bytes[(8 + headerLength)...])
        expectError(meta, contains: "does not match its checksum")
        meta = bytes
        XCTAssertNoThrow(try Checkpoint.decode(meta, path: "x"))
    }

    func testNumbersFormatWithoutTrapping() {
        XCTAssertEqual(fmt(1e30, 3), "1e+30")
        XCTAssertEqual(fmt(-Double.greatestFiniteMagnitude, 2), "-1.7976931348623157e+308")
        XCTAssertEqual(fmt(1.23456, 2), "1.23")
        XCTAssertEqual(fmt(.infinity, 2), "inf")
        XCTAssertEqual(fmt(9.5e14, 0), "950000000000000")
    }

    func testMemoryEstimateOverflowsToNilAndRefuses() {
        let c = ModelConfig(cell: .lstm, layers: 2, hidden: 128, embed: 64, vocabSize: 65)
        XCTAssertNotNil(MemoryEstimate.training(c, T: 50, B: 50))
        XCTAssertNil(MemoryEstimate.training(c, T: Int.max, B: 2))
        XCTAssertThrowsError(try MemoryEstimate.check(nil, what: "x"))
        XCTAssertThrowsError(try MemoryEstimate.check(Int.max, what: "x"))
        XCTAssertNoThrow(try MemoryEstimate.check(MemoryEstimate.training(c, T: 50, B: 50), what: "x"))
    }

    func testOutputsMustBeRegularFilesOrAbsent() throws {
        let dir = scratchDirectory()
        let fifo = dir + "/fifo"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        XCTAssertThrowsError(try AtomicFile.write("x", to: fifo)) { error in
            XCTAssertTrue("\(error)".contains("FIFO"), "\(error)")
        }
        XCTAssertEqual(FileKind(FilePath(fifo)), .other("a FIFO"), "the FIFO is still there")
        XCTAssertThrowsError(try AtomicFile.write("x", to: dir))
        XCTAssertThrowsError(try AtomicFile.write("x", to: ""))
        try AtomicFile.write("ok", to: dir + "/plain.txt")
        XCTAssertEqual(try String(contentsOfFile: dir + "/plain.txt", encoding: .utf8), "ok")
    }

    func testTextReadingRefusesUTF16AndStopsAtNULs() throws {
        let dir = scratchDirectory()
        for encoding in [String.Encoding.utf16LittleEndian, .utf16BigEndian, .utf16] {
            let path = dir + "/u.txt"
            try "hello there, a text in UTF-16".data(using: encoding)!.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try TextFile.read(path)) { XCTAssertEqual($0 as? CharRNNError, .utf16File(path)) }
        }
        XCTAssertThrowsError(try TextFile.read("/dev/zero")) { XCTAssertEqual($0 as? CharRNNError, .binaryFile("/dev/zero")) }
    }
}
