import Foundation

/// Accuracy, balanced accuracy, per-category precision and recall, and the confusion matrix.
public struct ClassificationReport: Sendable {
    public let categories: [String]
    /// confusion[true][predicted]
    public let confusion: [[Int]]

    public init(categories: [String], truth: [Int], predicted: [Int]) {
        self.categories = categories
        var m = [[Int]](repeating: [Int](repeating: 0, count: categories.count), count: categories.count)
        for (t, p) in zip(truth, predicted) { m[t][p] += 1 }
        confusion = m
    }

    public var total: Int { confusion.reduce(0) { $0 + $1.reduce(0, +) } }
    public var correct: Int { confusion.indices.reduce(0) { $0 + confusion[$1][$1] } }
    public var accuracy: Double { Double(correct) / Double(max(total, 1)) }

    public func recall(_ c: Int) -> Double? {
        let n = confusion[c].reduce(0, +)
        return n > 0 ? Double(confusion[c][c]) / Double(n) : nil
    }

    public func precision(_ c: Int) -> Double? {
        let n = confusion.reduce(0) { $0 + $1[c] }
        return n > 0 ? Double(confusion[c][c]) / Double(n) : nil
    }

    /// Mean recall over the categories present (macro-averaged accuracy).
    public var balancedAccuracy: Double {
        let r = categories.indices.compactMap { recall($0) }
        return r.isEmpty ? 0 : r.reduce(0, +) / Double(r.count)
    }

    public var text: String {
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

    /// The confusion matrix as an SVG heat map, each row normalised by its total, as the tutorial draws it.
    public var svg: String {
        let n = categories.count, cell = 28.0, left = 110.0, top = 110.0
        let size = left + cell * Double(n) + 20
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(size))\" height=\"\(Int(size + 30))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(left)\" y=\"18\" font-size=\"14\">confusion matrix: accuracy \(fmt(accuracy, 3)), balanced \(fmt(balancedAccuracy, 3))</text>\n"
        for (c, name) in categories.enumerated() {
            let y = top + cell * Double(c) + cell * 0.65
            s += "<text x=\"\(left - 6)\" y=\"\(fmt(y, 1))\" text-anchor=\"end\">\(LossHistory.escape(name))</text>\n"
            let x = left + cell * Double(c) + cell * 0.6
            s += "<text x=\"\(fmt(x, 1))\" y=\"\(top - 6)\" transform=\"rotate(-60 \(fmt(x, 1)) \(top - 6))\">\(LossHistory.escape(name))</text>\n"
        }
        for t in 0..<n {
            let rowTotal = max(1, confusion[t].reduce(0, +))
            for p in 0..<n {
                let v = Double(confusion[t][p]) / Double(rowTotal)
                // White (0) to dark blue (1).
                let r = Int(255 - v * 225), g = Int(255 - v * 185), b = Int(255 - v * 75)
                s += "<rect x=\"\(fmt(left + cell * Double(p), 1))\" y=\"\(fmt(top + cell * Double(t), 1))\" width=\"\(cell)\" height=\"\(cell)\" fill=\"rgb(\(r),\(g),\(b))\" stroke=\"#ddd\"><title>\(LossHistory.escape(categories[t])) as \(LossHistory.escape(categories[p])): \(confusion[t][p]) (\(fmt(100 * v, 1))%)</title></rect>\n"
            }
        }
        s += "<text x=\"\(left)\" y=\"\(fmt(size + 20, 1))\">rows: true category; columns: predicted; shade: share of the row</text>\n"
        return s + "</svg>\n"
    }
}
