/// Cuts a generation at the first of its stop strings, which is not part of the returned text. What
/// could still be the start of a stop string is held back until the next characters tell, so a
/// streamed text never shows a stop string's first characters and then takes them back.
public struct StopStrings: Sendable {
    public typealias Piece = (character: Unicode.Scalar, score: CharacterScore?)
    private let stops: [[Unicode.Scalar]]
    private var held: [Piece] = []
    public private(set) var stopped = false

    public init(_ stops: [String]) { self.stops = stops.filter { !$0.isEmpty }.map { Array($0.unicodeScalars) } }

    /// `text` cut before the first stop string in it.
    public static func cut(_ text: String, at stops: [String]) -> (text: String, stopped: Bool) {
        var filter = StopStrings(stops)
        let kept = filter.feed(text.unicodeScalars.map { ($0, nil) }) + filter.flush()
        return (Self.text(of: kept), filter.stopped)
    }

    /// The characters of `pieces` as text.
    public static func text(of pieces: [Piece]) -> String {
        var out = String.UnicodeScalarView()
        out.append(contentsOf: pieces.map(\.character))
        return String(out)
    }

    /// The pieces that are sure to be part of the text, after `pieces` came.
    public mutating func feed(_ pieces: [Piece]) -> [Piece] {
        guard !stopped else { return [] }
        guard !stops.isEmpty else { return pieces }
        held += pieces
        let chars = held.map(\.character)
        // The earliest stop string that now occurs ends the text where it begins.
        var cut: Int? = nil
        for stop in stops where stop.count <= chars.count {
            for start in 0...(chars.count - stop.count) where Array(chars[start..<start + stop.count]) == stop {
                cut = min(cut ?? start, start)
                break
            }
        }
        if let cut {
            stopped = true
            defer { held = [] }
            return Array(held[..<cut])
        }
        // Hold back the longest tail that begins some stop string.
        var keep = 0
        for stop in stops {
            for length in stride(from: min(stop.count - 1, chars.count), to: 0, by: -1)
            where Array(chars.suffix(length)) == Array(stop.prefix(length)) {
                keep = max(keep, length)
                break
            }
        }
        defer { held = Array(held.suffix(keep)) }
        return Array(held.dropLast(keep))
    }

    /// What is still held back when the generation ends without a stop string.
    public mutating func flush() -> [Piece] {
        defer { held = [] }
        return stopped ? [] : held
    }
}
