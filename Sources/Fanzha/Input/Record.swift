import Foundation
/// What the engine screens: one SMS (a single turn) or one call (many turns).


public struct Turn: Sendable {
    public var speaker: String
    /// The side of the call the speaker is on: `.caller` or `.callee` (a message is all the caller's).
    public var side: Side
    public var text: String
    public init(speaker: String, side: Side, text: String) { self.speaker = speaker; self.side = side; self.text = text }
    /// A turn whose side is found from its speaker's name (`SpeakerSides`: caller/callee, A/B, 客服/用户, …).
    public init(speaker: String, text: String, sides: SpeakerSides = SpeakerSides()) {
        self.init(speaker: speaker, side: sides.side(of: speaker), text: text)
    }
}

public struct Record: Sendable {
    public var id: String
    public var turns: [Turn]
    /// A call (turns with speakers), not a message; a call may have one turn.
    public var isCall: Bool
    /// A label, when the input carries one (evaluation data); spaces around it are not part of it.
    public var label: String? {
        get { hasLabel ? labelText : nil }
        set { labelText = newValue ?? ""; hasLabel = newValue != nil }
    }
    /// `label` kept as a string and a flag, not an optional string: with an optional string among
    /// its fields, the optimiser did not split a record built by an initialiser into its fields,
    /// and copied the whole record out of the initialiser (every string and array retained, then
    /// released again: about 350 instructions for each record read).
    private var labelText: String
    private var hasLabel: Bool
    /// Other JSON fields of the input object, as JSON text, passed through to the output unchanged.
    public var passthrough: [(key: String, json: String)]
    /// Set on a stand-in for an input record that could not be read: it travels in input order
    /// with the others, so its error is reported (and written, in JSON Lines) where it was.
    package var inputError: RecordError? = nil
    /// A call's speaker names that match neither side (`SpeakerSides`), in order of appearance:
    /// read as the callee's side, warned about, and listed in the verdict as `speakers_unmapped`.
    package var unmappedSpeakers: [String] = []
    /// Where the record came from, for messages about it ("file:line"), made only when asked for:
    /// most records never are, and a string per record showed in profiles.
    public var origin: String {
        get { originLine.map { "\(originPlace):\($0)" } ?? originPlace }
        set { originPlace = newValue; originLine = nil }
    }
    private var originPlace: String
    private var originLine: Int?
    /// The file the record came from (its origin without the line).
    package var originFile: String {
        if originLine != nil { return originPlace }
        // "file:line" given whole: without its trailing line number.
        if let colon = originPlace.lastIndex(of: ":"), !originPlace[originPlace.index(after: colon)...].isEmpty,
           originPlace[originPlace.index(after: colon)...].allSatisfy(\.isASCII), Int(originPlace[originPlace.index(after: colon)...]) != nil {
            return String(originPlace[..<colon])
        }
        return originPlace
    }

    public init(id: String, text: String, label: String? = nil, origin: String = "", passthrough: [(key: String, json: String)] = []) {
        self.init(id: id, text: text, label: label, file: origin, line: nil, passthrough: passthrough)
    }

    /// A message from line `line` of `file` (its origin "file:line").
    package init(id: String, text: String, label: String? = nil, file: String, line: Int?, passthrough: [(key: String, json: String)] = []) {
        self.id = id
        self.turns = [Turn(speaker: "", side: .caller, text: text)]
        self.isCall = false
        self.labelText = label?.trimmingSpaces() ?? ""
        self.hasLabel = label != nil
        self.originPlace = file
        self.originLine = line
        self.passthrough = passthrough
    }

    /// A passed-through field as text: a JSON string's value, any other value's JSON text; nil
    /// when the record has no such field.
    package func passthroughString(_ key: String) -> String? {
        guard let json = passthrough.first(where: { $0.key == key })?.json else { return nil }
        guard json.hasPrefix("\""),
              let value = JSONLine.value(json) as? String else { return json }
        return value
    }

    /// The stand-in for a record that could not be read: its id when known, else its origin.
    package init(unreadable error: RecordError) {
        self.init(id: error.id ?? error.origin, text: "", origin: error.origin)
        inputError = error
    }

    public init(id: String, turns: [Turn], label: String? = nil, origin: String = "", passthrough: [(key: String, json: String)] = []) {
        self.id = id
        self.turns = turns
        self.isCall = true
        self.labelText = label?.trimmingSpaces() ?? ""
        self.hasLabel = label != nil
        self.originPlace = origin
        self.originLine = nil
        self.passthrough = passthrough
    }
}

/// Which speaker names are the caller's side (the suspect, in a fraud call) and which the callee's
/// (the person called). A name on neither list is read as the callee's side, and reported: rules
/// scoped `caller:` would otherwise silently match nothing in a call whose caller has an
/// unexpected name.
public struct SpeakerSides: Sendable {
    /// The default table: caller/callee, 来电/去电, 主叫/被叫, A/B, agent/customer, 客服/用户, 坐席/客户.
    public static let defaultCallerNames = ["caller", "来电", "来电方", "主叫", "主叫方", "a", "对方", "suspect", "骗子",
                                            "agent", "客服", "坐席", "诈骗者"]
    public static let defaultCalleeNames = ["callee", "去电", "被叫", "被叫方", "b", "本人", "customer", "用户", "客户",
                                            "victim", "受害人", "受害者", "我"]
    public var callerNames: Set<String>
    public var calleeNames: Set<String>

    public init(callerNames: [String] = SpeakerSides.defaultCallerNames, calleeNames: [String] = SpeakerSides.defaultCalleeNames) {
        self.callerNames = Set(callerNames.map(SpeakerSides.key).filter { !$0.isEmpty })
        self.calleeNames = Set(calleeNames.map(SpeakerSides.key).filter { !$0.isEmpty }).subtracting(self.callerNames)
    }
    /// From a `--caller-names` value (the callee's names stay the default ones).
    public init(commaSeparated list: String) {
        self.init(callerNames: commaSeparatedList(list))
    }

    /// A `--speakers` value, `caller=agent,坐席;callee=customer,客户`, on top of `base`: the names
    /// given move to the side they are given for.
    public init(speakers spec: String, base: SpeakerSides = SpeakerSides()) throws {
        self = base
        for part in spec.split(separator: ";") where !String(part).trimmingSpaces().isEmpty {
            let pieces = part.split(separator: "=", maxSplits: 1)
            guard pieces.count == 2 else { throw SpeakerSpecError(message: "`\(part)` is not side=name,name (sides: caller, callee)") }
            let names = commaSeparatedList(String(pieces[1])).map(SpeakerSides.key).filter { !$0.isEmpty }
            switch String(pieces[0]).trimmingSpaces().lowercased() {
            case "caller":
                callerNames.formUnion(names); calleeNames.subtract(names)
            case "callee":
                calleeNames.formUnion(names); callerNames.subtract(names)
            default:
                throw SpeakerSpecError(message: "unknown side `\(pieces[0])` (sides: caller, callee)")
            }
        }
    }

    public struct SpeakerSpecError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    static func key(_ name: String) -> String { name.trimmingSpaces().lowercased() }

    public func side(of speaker: String) -> Side {
        listedSide(of: speaker) ?? .callee
    }

    /// Whether the name is on either side's list.
    public func isMapped(_ speaker: String) -> Bool {
        listedSide(of: speaker) != nil
    }

    /// The side whose list holds the name, nil when neither does (it is read as the callee's).
    /// The name is keyed (trimmed, lower-cased) once.
    public func listedSide(of speaker: String) -> Side? {
        let k = SpeakerSides.key(speaker)
        return callerNames.contains(k) ? .caller : calleeNames.contains(k) ? .callee : nil
    }

    /// The speaker names of `turns` on neither list, each once, in order of appearance.
    public func unmapped(in turns: [Turn]) -> [String] {
        var seen = Set<String>(), out: [String] = []
        for t in turns where !isMapped(t.speaker) && seen.insert(t.speaker).inserted { out.append(t.speaker) }
        return out
    }
}

/// The items of a comma-separated option value (`--caller-names`, `--benign`, `--category`),
/// without the spaces around them, empty items dropped.
package func commaSeparatedList(_ s: String) -> [String] {
    s.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
}

/// Plain call transcripts: one `speaker: text` line per turn (a full-width colon works too).
package enum CallTranscript {
    /// The turns, or the 1-based number of the first line that is not `speaker: text`.
    package static func parse(_ text: String, sides: SpeakerSides = SpeakerSides()) -> Result<[Turn], LineError> {
        var turns: [Turn] = []
        var lineNumber = 0
        // Split on the scalar: "\r\n" is one Character, so a Character split would miss CR LF lines.
        for raw in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = String(raw).trimmingSpaces()
            if line.isEmpty { continue }
            guard let colon = line.firstIndex(where: { $0 == ":" || $0 == "：" }) else { return .failure(LineError(line: lineNumber)) }
            let speaker = String(line[..<colon]).trimmingSpaces()
            guard !speaker.isEmpty, speaker.count <= 20 else { return .failure(LineError(line: lineNumber)) }
            turns.append(Turn(speaker: speaker, side: sides.side(of: speaker), text: String(line[line.index(after: colon)...]).trimmingSpaces()))
        }
        return .success(turns)
    }

    /// A transcript as one call record: `origin` names it in errors (`origin:line`).
    package static func record(_ text: String, id: String, origin: String, sides: SpeakerSides) -> Result<Record, RecordError> {
        switch parse(text, sides: sides) {
        case .failure(let e):
            return .failure(RecordError(origin: "\(origin):\(e.line)", message: "not `speaker: text`"))
        case .success(let turns) where turns.isEmpty:
            return .failure(RecordError(origin: origin, message: "a call without turns"))
        case .success(let turns):
            var record = Record(id: id, turns: turns, origin: origin)
            record.unmappedSpeakers = sides.unmapped(in: turns)
            return .success(record)
        }
    }

    package struct LineError: Error, Equatable, CustomStringConvertible {
        package let line: Int
        package var description: String { "line \(line) is not `speaker: text`" }
    }
}

extension String {
    /// Without spaces, tabs, CR, ideographic spaces and byte-order marks (a file's BOM sticks to
    /// its first name or label) at either end.
    func trimmingSpaces() -> String {
        func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\r" || c == "\u{3000}" || c == "\u{FEFF}" }
        var v = Substring(self)
        while let f = v.first, isSpace(f) { v.removeFirst() }
        while let l = v.last, isSpace(l) { v.removeLast() }
        return String(v)
    }
}
