import CharRNN
import Foundation
import XCTest

/// The plots a run writes: round tick values, the best checkpoint marked, the confusion matrix's labels
/// inside the picture and its cells' values written in them.
final class PlotTests: XCTestCase {
    func testTicksAreOneTwoOrFiveTimesAPowerOfTen() {
        let loss = AxisTicks(from: 1.51, to: 1.96, target: 6)
        XCTAssertEqual(loss.step, 0.1, accuracy: 1e-12)
        XCTAssertEqual(loss.values.map(loss.label), ["1.5", "1.6", "1.7", "1.8", "1.9", "2.0"])
        // The report's case: 2,770 steps gave ticks at 277, 554, 831.
        let steps = AxisTicks(from: 0, to: 2770, target: 6)
        XCTAssertEqual(steps.values.map(steps.label), ["0", "500", "1000", "1500", "2000", "2500", "3000"])
        XCTAssertEqual(AxisTicks(from: 0, to: 277, target: 6).step, 50)
        XCTAssertEqual(AxisTicks(from: 0.7, to: 4.2, target: 6).values.map { fmt($0, 1) }, ["0.5", "1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0", "4.5"])
        for (lo, hi) in [(0.0, 1.0), (1.234, 1.2351), (0, 123_456), (2.0, 2.0), (-3, 7)] {
            let t = AxisTicks(from: lo, to: hi)
            let mantissa = t.step / pow(10, log10(t.step).rounded(.down))
            XCTAssertTrue([1, 2, 5, 10].contains { abs(mantissa - $0) < 1e-9 }, "\(lo)...\(hi): step \(t.step)")
            XCTAssertLessThanOrEqual(t.lower, lo)
            XCTAssertGreaterThanOrEqual(t.upper, hi)
            XCTAssertTrue((3...12).contains(t.values.count), "\(lo)...\(hi): \(t.values)")
        }
    }

    func testLossPlotMarksTheBestCheckpoint() {
        var rows: [LossRecord] = []
        for k in 1...30 {
            let x = Double(k)
            let validation: Double? = k % 10 == 0 ? 3.2 - x * 0.03 : nil
            rows.append(LossRecord(step: k * 10, epoch: x / 10, trainLoss: 3 - x * 0.05, validationLoss: validation, learningRate: 0.002))
        }
        let plain = LossHistory.svg(rows, title: "t")
        XCTAssertFalse(plain.contains("class=\"best\""))
        let marked = LossHistory.svg(rows, title: "t", best: (step: 200, loss: 2.6))
        XCTAssertEqual(marked.components(separatedBy: "class=\"best\"").count, 2)
        XCTAssertTrue(marked.contains(">best: step 200, 2.6000</text>"), marked)
        XCTAssertTrue(marked.contains(">best.safetensors</text>"))
        for tick in ["1.4", "1.6", "2.0", "2.4", "3.0"] { XCTAssertTrue(marked.contains(">\(tick)</text>"), tick) }
        for tick in ["0", "50", "100", "150", "200", "250", "300"] { XCTAssertTrue(marked.contains(">\(tick)</text>"), tick) }
    }

    func testConfusionMatrixHoldsItsLabelsAndWritesItsCells() throws {
        let names = ["Arabic", "Chinese", "Japanese", "Vietnamese"]
        let r = ClassificationReport(categories: names, truth: [0, 0, 1, 2, 2, 3, 3, 3, 3], predicted: [0, 1, 1, 2, 3, 3, 3, 3, 0])
        let svg = r.svg
        let width = try XCTUnwrap(Double(try XCTUnwrap(svg.firstMatch(of: /width="(\d+)"/)).1))
        // The last column's label leans right of the grid by half its length (rotated 60 degrees).
        let anchors = svg.matches(of: /<text x="([\d.]+)" y="([\d.]+)" transform="rotate\(-60/).map { Double($0.1)! }
        XCTAssertEqual(anchors.count, 4)
        XCTAssertGreaterThan(width, anchors.last! + 0.5 * 7 * Double("Vietnamese".count))
        let top = anchors.isEmpty ? 0 : Double(svg.firstMatch(of: /rotate\(-60 [\d.]+ ([\d.]+)\)/)!.1)!
        XCTAssertGreaterThan(top - 0.87 * 7 * Double("Vietnamese".count), 20, "the labels stay below the title")
        // Cells: the share of the row, in percent, where there is any.
        for value in [">50</text>", ">100</text>", ">75</text>", ">25</text>"] { XCTAssertTrue(svg.contains(value), value) }
        XCTAssertTrue(svg.contains("numbers: % of the row"))
    }
}
