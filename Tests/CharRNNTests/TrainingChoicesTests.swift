import CharRNN
import XCTest

/// The resume policy lives in the library: a resumed run refuses a new value for its model or
/// trajectory, naming the value it has, and takes new limits, reporting and threads; a new run takes
/// every given option over the defaults, with the command line's zeros meaning "off".
final class TrainingChoicesTests: XCTestCase {
    func testANewRunTakesWhatWasGivenAndZerosTurnThingsOff() throws {
        var o = TrainingOptions(textPath: "t.txt", outputDirectory: "runs/t")
        o.weightDrop = 0.2; o.earlyStop = 8; o.warmup = 200  // a preset's, say
        var c = TrainingChoices()
        c.hidden = 256; c.clipNorm = 0; c.weightDrop = 0; c.earlyStop = 0; c.device = "cpu"; c.precision = "fp32"
        try c.apply(to: &o)
        XCTAssertEqual(o.hidden, 256)
        XCTAssertNil(o.clipNorm)
        XCTAssertNil(o.weightDrop)
        XCTAssertNil(o.earlyStop)
        XCTAssertEqual(o.warmup, 200, "not given: the preset's stays")
        XCTAssertNil(o.device)
        XCTAssertNil(o.precision)
        XCTAssertEqual(o.layers, 2, "not given: the default")
        c.clipNorm = -1
        XCTAssertThrowsError(try c.apply(to: &o)) { XCTAssertEqual("\($0)", "--clip-norm must be 0 (off) or more (got -1.0)") }
    }

    func testAResumeRefusesANewTrajectoryAndTakesNewLimits() throws {
        var saved = TrainingOptions(textPath: "t.txt", outputDirectory: "runs/t")
        saved.learningRate = 0.002; saved.threads = 2
        var c = TrainingChoices()
        c.learningRate = 0.5
        XCTAssertThrowsError(try c.resume(saved)) { error in
            XCTAssertEqual("\(error)", "--learning-rate 0.5 differs from the resumed run's 0.002; a resumed run keeps its model "
                           + "and training options (start a new run to change them)")
        }
        c.learningRate = 0.002  // the value it has: accepted
        c.maxSteps = 900; c.threads = 3; c.evalEvery = 50
        let resumed = try c.resume(saved)
        XCTAssertEqual(resumed.maxSteps, 900)
        XCTAssertEqual(resumed.threads, 3)
        XCTAssertEqual(resumed.evalEvery, 50)
        XCTAssertEqual(resumed.learningRate, 0.002)
        var stop = TrainingChoices()
        stop.earlyStop = 0
        XCTAssertNoThrow(try stop.resume(saved), "0 is the saved run's 'never'")
        stop.earlyStop = 3
        XCTAssertThrowsError(try stop.resume(saved))
    }
}
