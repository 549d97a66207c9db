/// The model's part of `fanzha explain`: its probability and the n-grams that pushed it most,
/// each with its places in the original text.
package enum ModelExplanation {
    package static func render(_ r: ModelReport, model: TextModel) -> String {
        var out = "\nmodel: probability \(fixed(r.probability, 3)) (\(model.path.isEmpty ? "in memory" : model.path))\n"
        if let outside = r.outsideFrames {
            out += " outside the frames: \(fixed(outside, 3)) (what a positive rule compares; a negative one, the whole text)\n"
        }
        func line(_ c: ModelReport.Contribution) -> String {
            let places = c.spans.map { "「\(VerdictPrinter.terminalSafe($0.text))」\($0.turn.map { "@\($0)" } ?? "")[\($0.start),\($0.end))" }
            return "  \(c.contribution >= 0 ? "+" : "")\(fixed(c.contribution, 3))  \(VerdictPrinter.terminalSafe(c.ngram))  \(places.joined(separator: " "))\n"
        }
        if !r.up.isEmpty { out += " pushed up by:\n" + r.up.map(line).joined() }
        if !r.down.isEmpty { out += " pushed down by:\n" + r.down.map(line).joined() }
        return out
    }

    static func fixed(_ x: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let v = (abs(x) * scale).rounded() / scale
        var s = String(v)
        if let dot = s.firstIndex(of: ".") {
            let decimals = s.distance(from: dot, to: s.endIndex) - 1
            if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
        }
        return (x < 0 && v != 0 ? "-" : "") + s
    }
}
