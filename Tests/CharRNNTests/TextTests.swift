import CharRNN
import XCTest

final class TextTests: XCTestCase {
    func testVocabularyIsSortedScalars() throws {
        let v = Vocabulary(scalarsOf: "ba\n語é".unicodeScalars)
        XCTAssertEqual(v.scalars.map { String($0) }, ["\n", "a", "b", "é", "語"])
        XCTAssertEqual(try v.encode("語a", what: "t"), [4, 1])
        XCTAssertEqual(v.decode([2, 0, 3]), "b\né")
        XCTAssertThrowsError(try v.encode("aXYX", what: "the prime text")) { e in
            XCTAssertEqual("\(e)", "the prime text has characters the model never saw: 'X', 'Y'")
        }
    }

    func testDecodingRejectsBadInput() {
        XCTAssertThrowsError(try TextFile.decode([0x61, 0xFF], path: "f")) { XCTAssertEqual("\($0)", "f: not valid UTF-8 (first bad byte at offset 1)") }
        XCTAssertThrowsError(try TextFile.decode([0x61, 0, 0x62], path: "f")) { XCTAssertTrue("\($0)".contains("binary")) }
        XCTAssertEqual(try TextFile.decode(Array("\u{FEFF}hé".utf8), path: "f"), "hé")
    }

    func testSequentialBatchesContinueStreams() throws {
        let ids = (0..<41).map { Int32($0) }
        var src = try BatchSource(ids: ids, batch: 2, steps: 5, mode: .sequential, name: "t")
        XCTAssertEqual(src.streamLength, 20)
        XCTAssertEqual(src.batchesPerEpoch, 4)
        var x = [Int32](repeating: 0, count: 10), y = x
        var rng = RandomGenerator(seed: 1)
        XCTAssertTrue(src.next(inputs: &x, targets: &y, rng: &rng))
        XCTAssertEqual(x, [0, 20, 1, 21, 2, 22, 3, 23, 4, 24])  // time-major
        XCTAssertEqual(y, x.map { $0 + 1 })
        XCTAssertFalse(src.next(inputs: &x, targets: &y, rng: &rng))
        XCTAssertEqual(Array(x.prefix(2)), [5, 25])
        _ = src.next(inputs: &x, targets: &y, rng: &rng); _ = src.next(inputs: &x, targets: &y, rng: &rng)
        XCTAssertEqual(src.epoch, 1)
        XCTAssertTrue(src.next(inputs: &x, targets: &y, rng: &rng), "a new epoch starts from the zero state")
        XCTAssertEqual(x, [0, 20, 1, 21, 2, 22, 3, 23, 4, 24].map { ($0 + Int32(src.epochShift)) % 40 })
        XCTAssertEqual(y, x.map { $0 + 1 })
        XCTAssertThrowsError(try BatchSource(ids: ids, batch: 10, steps: 5, mode: .sequential, name: "t"))
    }

    /// Each epoch after the first shifts every stream's start alike, to places all over a stream's length
    /// (0 in the first epoch); a stream shifted past its end runs on into the next one's characters, the
    /// last one round from the text's end to its start, so each epoch still reads every character once
    /// at most, and every input is followed by its real next character.
    func testSequentialEpochsShiftTheStreamsStarts() throws {
        let ids = (0..<1003).map { Int32($0) }
        var src = try BatchSource(ids: ids, batch: 4, steps: 7, mode: .sequential, name: "t")
        XCTAssertEqual(src.streamLength, 250)
        XCTAssertEqual(src.batchesPerEpoch, 35)  // 245 characters of each stream's 250
        var x = [Int32](repeating: 0, count: 28), y = x
        var rng = RandomGenerator(seed: 1)
        var shifts: [Int] = []
        for epoch in 0..<12 {
            XCTAssertEqual(src.epoch, epoch)
            let shift = src.epochShift
            shifts.append(shift)
            var seen: Set<Int32> = []
            for k in 0..<src.batchesPerEpoch {
                XCTAssertEqual(src.next(inputs: &x, targets: &y, rng: &rng), k == 0)
                XCTAssertEqual(y, x.map { $0 + 1 })
                for t in 0..<7 {
                    for b in 0..<4 {
                        XCTAssertEqual(Int(x[t * 4 + b]), (b * 250 + shift + k * 7 + t) % 1002, "epoch \(epoch) batch \(k)")
                    }
                }
                seen.formUnion(x)
            }
            XCTAssertEqual(seen.count, 35 * 7 * 4, "epoch \(epoch) reads a character twice")
        }
        XCTAssertEqual(shifts[0], 0)
        XCTAssertTrue(shifts.allSatisfy { (0..<250).contains($0) }, "\(shifts)")
        XCTAssertGreaterThanOrEqual(Set(shifts).count, 10, "\(shifts)")
        XCTAssertTrue(shifts.contains { $0 > 5 }, "some epochs shift past the 5 characters an epoch leaves over: \(shifts)")
    }

    func testRandomBatchesAreWindowsOfTheText() throws {
        let ids = (0..<100).map { Int32($0) }
        var src = try BatchSource(ids: ids, batch: 3, steps: 4, mode: .random, name: "t")
        var x = [Int32](repeating: 0, count: 12), y = x
        var rng = RandomGenerator(seed: 1)
        XCTAssertTrue(src.next(inputs: &x, targets: &y, rng: &rng))
        for b in 0..<3 {
            for t in 1..<4 { XCTAssertEqual(x[t * 3 + b], x[(t - 1) * 3 + b] + 1) }
            XCTAssertEqual(y[3 * 3 + b], x[3 * 3 + b] + 1)
        }
    }
}
