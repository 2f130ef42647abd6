import Foundation

/// Accuracy, balanced accuracy, per-category precision and recall, and the confusion matrix.
package struct ClassificationReport: Sendable {
    package let categories: [String]
    /// confusion[true][predicted]
    package let confusion: [[Int]]

    package init(categories: [String], truth: [Int], predicted: [Int]) {
        self.categories = categories
        var m = [[Int]](repeating: [Int](repeating: 0, count: categories.count), count: categories.count)
        for (t, p) in zip(truth, predicted) { m[t][p] += 1 }
        confusion = m
    }

    package var total: Int { confusion.reduce(0) { $0 + $1.reduce(0, +) } }
    package var correct: Int { confusion.indices.reduce(0) { $0 + confusion[$1][$1] } }
    package var accuracy: Double { Double(correct) / Double(max(total, 1)) }

    package func recall(_ c: Int) -> Double? {
        let n = confusion[c].reduce(0, +)
        return n > 0 ? Double(confusion[c][c]) / Double(n) : nil
    }

    package func precision(_ c: Int) -> Double? {
        let n = confusion.reduce(0) { $0 + $1[c] }
        return n > 0 ? Double(confusion[c][c]) / Double(n) : nil
    }

    /// Mean recall over the categories present (macro-averaged accuracy).
    package var balancedAccuracy: Double {
        let r = categories.indices.compactMap { recall($0) }
        return r.isEmpty ? 0 : r.reduce(0, +) / Double(r.count)
    }

    package var text: String {
        var s = "accuracy: \(fmt(accuracy, 4)) (\(correct) of \(total))\nbalanced accuracy: \(fmt(balancedAccuracy, 4))\n\n"
        let w = max(10, (categories.map(\.count).max() ?? 0) + 2)
        func pad(_ x: String, _ n: Int) -> String { x.count >= n ? x : x + String(repeating: " ", count: n - x.count) }
        func lpad(_ x: String, _ n: Int) -> String { x.count >= n ? x : String(repeating: " ", count: n - x.count) + x }
        s += pad("category", w) + lpad("items", 7) + lpad("precision", 11) + lpad("recall", 9) + "\n"
        for (c, name) in categories.enumerated() {
            s += pad(name, w) + lpad("\(confusion[c].reduce(0, +))", 7) + lpad(precision(c).map { fmt($0, 3) } ?? "-", 11)
                + lpad(recall(c).map { fmt($0, 3) } ?? "-", 9) + "\n"
        }
        s += "\nconfusion matrix (rows: true category, columns: predicted, in the order above)\n"
        let cw = max(4, String(confusion.flatMap { $0 }.max() ?? 0).count + 1)
        s += pad("", w) + categories.map { lpad(String($0.prefix(cw - 1)), cw) }.joined() + "\n"
        for (c, name) in categories.enumerated() {
            s += pad(name, w) + confusion[c].map { lpad("\($0)", cw) }.joined() + "\n"
        }
        return s
    }

    /// The confusion matrix as an SVG heat map, each row normalised by its total, as the tutorial draws
    /// it, with each cell's share of its row written in it. The picture is sized to hold its labels
    /// (the column labels lean at 60 degrees, so the last one reaches right of the grid).
    package var svg: String {
        let n = categories.count, cell = 30.0
        let longest = categories.map(Self.labelWidth).max() ?? 0
        let left = longest + 16, top = 34 + longest * 0.87 + 10
        let titleText = "confusion matrix: accuracy \(fmt(accuracy, 3)), balanced \(fmt(balancedAccuracy, 3))"
        let legend = "rows: true category; columns: predicted; numbers: % of the row"
        let width = max(left + cell * Double(n) - cell * 0.4 + longest * 0.5 + 16,
                        max(Self.labelWidth(titleText) * 14 / 11, Self.labelWidth(legend)) + 24)
        let height = top + cell * Double(n) + 36
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width.rounded(.up)))\" height=\"\(Int(height.rounded(.up)))\" "
            + "font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"12\" y=\"20\" font-size=\"14\">\(titleText)</text>\n"
        for (c, name) in categories.enumerated() {
            let y = top + cell * Double(c) + cell * 0.62
            s += "<text x=\"\(fmt(left - 6, 1))\" y=\"\(fmt(y, 1))\" text-anchor=\"end\">\(LossHistory.escape(name))</text>\n"
            let x = left + cell * Double(c) + cell * 0.6
            s += "<text x=\"\(fmt(x, 1))\" y=\"\(fmt(top - 6, 1))\" transform=\"rotate(-60 \(fmt(x, 1)) \(fmt(top - 6, 1)))\">\(LossHistory.escape(name))</text>\n"
        }
        for t in 0..<n {
            let rowTotal = max(1, confusion[t].reduce(0, +))
            for p in 0..<n {
                let v = Double(confusion[t][p]) / Double(rowTotal)
                // White (0) to dark blue (1).
                let r = Int(255 - v * 225), g = Int(255 - v * 185), b = Int(255 - v * 75)
                let x = left + cell * Double(p), y = top + cell * Double(t)
                s += "<rect x=\"\(fmt(x, 1))\" y=\"\(fmt(y, 1))\" width=\"\(cell)\" height=\"\(cell)\" fill=\"rgb(\(r),\(g),\(b))\" stroke=\"#ddd\"><title>\(LossHistory.escape(categories[t])) as \(LossHistory.escape(categories[p])): \(confusion[t][p]) (\(fmt(100 * v, 1))%)</title></rect>\n"
                guard confusion[t][p] > 0 else { continue }
                s += "<text x=\"\(fmt(x + cell / 2, 1))\" y=\"\(fmt(y + cell / 2 + 3.5, 1))\" text-anchor=\"middle\" font-size=\"10\" "
                    + "fill=\"\(v > 0.55 ? "white" : "#222")\">\(100 * v < 0.5 ? "&lt;1" : fmt(100 * v, 0))</text>\n"
            }
        }
        s += "<text x=\"12\" y=\"\(fmt(height - 12, 1))\">\(legend)</text>\n"
        return s + "</svg>\n"
    }

    /// About how wide `text` is at 11 px in a sans-serif font: wide for CJK and other full-width
    /// characters, generous for the rest, so that labels stay inside the picture.
    static func labelWidth(_ text: String) -> Double {
        text.unicodeScalars.reduce(0) { $0 + ($1.value >= 0x1100 && $1.properties.isAlphabetic ? 11.5 : 7) }
    }
}
