import Foundation

/// One row of the loss history: the mean training loss over the steps since the previous row, and the
/// validation loss where one was measured at this step.
package struct LossRecord: Codable, Sendable, Equatable {
    package var step: Int
    package var epoch: Double
    package var trainLoss: Double
    package var validationLoss: Double?
    package var learningRate: Double

    package init(step: Int, epoch: Double, trainLoss: Double, validationLoss: Double?, learningRate: Double) {
        self.step = step; self.epoch = epoch; self.trainLoss = trainLoss; self.validationLoss = validationLoss
        self.learningRate = learningRate
    }
}

package enum LossHistory {
    package static func csv(_ rows: [LossRecord]) -> String {
        var s = "step,epoch,train_loss,val_loss,learning_rate\n"
        for r in rows {
            s += "\(r.step),\(fmt(r.epoch, 4)),\(fmt(r.trainLoss, 5)),\(r.validationLoss.map { fmt($0, 5) } ?? ""),\(r.learningRate)\n"
        }
        return s
    }

    /// Training and validation loss against step, as a self-contained SVG, with the checkpoint that
    /// best.safetensors holds marked (`best`: its step and validation loss).
    package static func svg(_ rows: [LossRecord], title: String, best: (step: Int, loss: Double)? = nil) -> String {
        let w = 720.0, h = 420.0, left = 64.0, right = 20.0, top = 40.0, bottom = 48.0
        let pw = w - left - right, ph = h - top - bottom
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(w / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>\n"
        let train = rows.filter { $0.trainLoss.isFinite }
        let val = rows.compactMap { r in r.validationLoss.flatMap { $0.isFinite ? (r.step, $0) : nil } }
        let ys = train.map(\.trainLoss) + val.map(\.1)
        guard let maxStep = rows.map(\.step).max(), maxStep > 0, let yMin = ys.min(), let yMax = ys.max() else {
            return s + "<text x=\"\(w / 2)\" y=\"\(h / 2)\" text-anchor=\"middle\">no data yet</text>\n</svg>\n"
        }
        let yTicks = AxisTicks(from: yMin, to: yMax, target: 6)
        let xTicks = AxisTicks(from: 0, to: Double(maxStep), target: 6)
        let lo = yTicks.lower, hi = yTicks.upper, xMax = xTicks.upper
        func X(_ step: Int) -> Double { left + pw * Double(step) / xMax }
        func Y(_ v: Double) -> Double { top + ph * (1 - (v - lo) / (hi - lo)) }
        s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#999\"/>\n"
        for v in yTicks.values {
            let y = Y(v)
            s += "<line x1=\"\(left)\" y1=\"\(fmt(y, 1))\" x2=\"\(left + pw)\" y2=\"\(fmt(y, 1))\" stroke=\"#eee\"/>"
            s += "<text x=\"\(left - 6)\" y=\"\(fmt(y + 4, 1))\" text-anchor=\"end\">\(yTicks.label(v))</text>\n"
        }
        for v in xTicks.values {
            let x = left + pw * v / xMax
            s += "<line x1=\"\(fmt(x, 1))\" y1=\"\(top + ph)\" x2=\"\(fmt(x, 1))\" y2=\"\(top + ph + 4)\" stroke=\"#999\"/>"
            s += "<text x=\"\(fmt(x, 1))\" y=\"\(top + ph + 18)\" text-anchor=\"middle\">\(xTicks.label(v))</text>\n"
        }
        s += "<text x=\"\(left + pw / 2)\" y=\"\(h - 10)\" text-anchor=\"middle\">step</text>\n"
        s += "<text x=\"16\" y=\"\(top + ph / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(top + ph / 2))\">loss (nats/char)</text>\n"
        if !train.isEmpty {
            let pts = train.map { "\(fmt(X($0.step), 1)),\(fmt(Y($0.trainLoss), 1))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"\(pts)\"/>\n"
        }
        if !val.isEmpty {
            let pts = val.map { "\(fmt(X($0.0), 1)),\(fmt(Y($0.1), 1))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"\(pts)\"/>\n"
            for (st, v) in val { s += "<circle cx=\"\(fmt(X(st), 1))\" cy=\"\(fmt(Y(v), 1))\" r=\"3\" fill=\"#d62728\"/>\n" }
        }
        if let best, best.loss.isFinite, best.step <= maxStep {
            let x = X(best.step), y = Y(best.loss)
            s += "<circle class=\"best\" cx=\"\(fmt(x, 1))\" cy=\"\(fmt(y, 1))\" r=\"7\" fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2.5\"/>\n"
            // The label on whichever side of the mark has room.
            let onLeft = x > left + pw - 170
            // Above the mark (validation runs above training), on a white halo over the curves.
            let labelY = y - 12 < top + 14 ? y + 22 : y - 12
            s += "<text x=\"\(fmt(onLeft ? x - 4 : x + 4, 1))\" y=\"\(fmt(labelY, 1))\" text-anchor=\"\(onLeft ? "end" : "start")\" "
                + "fill=\"#2ca02c\" stroke=\"white\" stroke-width=\"4\" paint-order=\"stroke\">best: step \(best.step), \(fmt(best.loss, 4))</text>\n"
        }
        s += "<line x1=\"\(left + pw - 150)\" y1=\"\(top + 14)\" x2=\"\(left + pw - 130)\" y2=\"\(top + 14)\" stroke=\"#1f77b4\" stroke-width=\"2\"/>"
        s += "<text x=\"\(left + pw - 125)\" y=\"\(top + 18)\">training</text>\n"
        s += "<line x1=\"\(left + pw - 150)\" y1=\"\(top + 32)\" x2=\"\(left + pw - 130)\" y2=\"\(top + 32)\" stroke=\"#d62728\" stroke-width=\"2\"/>"
        s += "<text x=\"\(left + pw - 125)\" y=\"\(top + 36)\">validation</text>\n"
        if best != nil {
            s += "<circle cx=\"\(left + pw - 140)\" cy=\"\(top + 50)\" r=\"5\" fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2\"/>"
            s += "<text x=\"\(left + pw - 125)\" y=\"\(top + 54)\">best.safetensors</text>\n"
        }
        return s + "</svg>\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// Fixed-point formatting without Foundation's String(format:). Total: a value too large for fixed
/// point (1e15 and beyond, where Int would overflow) is written in Swift's shortest exponent form.
package func fmt(_ v: Double, _ digits: Int) -> String {
    guard v.isFinite else { return v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf") }
    let digits = min(max(digits, 0), 9)
    guard abs(v) < 1e15 else { return "\(v)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (abs(v) * scale).rounded()
    let whole = Int(r / scale)
    let frac = Int(r - Double(whole) * scale)
    var f = String(frac)
    while f.count < digits { f = "0" + f }
    let sign = v < 0 && r != 0 ? "-" : ""
    return digits > 0 ? "\(sign)\(whole).\(f)" : "\(sign)\(whole)"
}
