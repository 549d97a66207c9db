import Foundation

/// Live-call input lines: `{"call": ID, "speaker": S, "text": T, "t": seconds}`, or
/// `{"call": ID, "end": true}` (also `"event": "end"`). `call` is a string or a number; `t`, if
/// given, a finite number.
package enum DecodedCallEvent: Sendable, Equatable {
    /// A blank line: nothing to do.
    case blank
    case event(CallEventInput)
    /// A turn without `text`: reported, after idle calls are closed (it does count as a moment).
    case turnWithoutText(call: String, time: Double?)
    /// Not an event; why.
    case malformed(String)
}

extension CallEventInput {
    /// One input line, decoded (whitespace-only lines are `.blank`).
    package static func decode(line: ArraySlice<UInt8>) -> DecodedCallEvent {
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return .blank }
        return decodeFlat(line) ?? decodeAnyObject(line)
    }

    /// The line read as any JSON object (a dictionary of every member): what `decode` means,
    /// for every line, and what it does for a line `decodeFlat` leaves to it.
    package static func decodeAnyObject(_ line: ArraySlice<UInt8>) -> DecodedCallEvent {
        let event: [String: Any]
        switch JSONTypes.object(Data(line)) {
        case .success(let object): event = object
        case .failure(let why): return .malformed("\(why)")
        }
        guard let call = JSONTypes.scalarString(event["call"]), !call.isEmpty, !JSONTypes.isBool(event["call"]) else {
            return .malformed("an event needs a `call` id (a string or a number)")
        }
        if let t = event["t"], !(JSONTypes.number(t)?.isFinite ?? false) {
            return .malformed("call \(call): `t` must be a number of seconds")
        }
        let time = JSONTypes.number(event["t"])
        if (JSONTypes.isBool(event["end"]) && JSONTypes.scalarString(event["end"]) == "true") || (event["event"] as? String) == "end" {
            return .event(.end(call: call, time: time))
        }
        guard let text = event["text"] as? String else { return .turnWithoutText(call: call, time: time) }
        return .event(.turn(call: call, speaker: JSONTypes.scalarString(event["speaker"]) ?? "", text: text, time: time))
    }
}

extension CallEventInput {
    /// A member's value as the decoder needs it.
    private enum FlatValue {
        case string(String), number(JSONNumber), bool(Bool), null, other

        /// `JSONTypes.scalarString`.
        var scalarString: String? {
            switch self {
            case .string(let s): return s
            case .number(let n): return n.text
            case .bool(let b): return b ? "true" : "false"
            case .null, .other: return nil
            }
        }
    }

    /// The members an event line's decoder reads, by key.
    private enum Member { case call, speaker, text, t, end, event, other }

    /// The key at `p.i` when it is one of the members the decoder reads, written without an
    /// escape: matched on its bytes and skipped, with no String made (an event has four or
    /// five). Nil for any other key, which is then read as a string (and checked as one).
    private static func plainMember(_ p: inout JSONLine.Parser) -> Member? {
        let b = p.b
        let start = p.i + 1
        var end = start
        while end < b.count, b[end] != 0x22, b[end] != 0x5C { end += 1 }
        guard end < b.count, b[end] == 0x22, let base = b.baseAddress else { return nil }
        let count = end - start
        func spells(_ name: StaticString) -> Bool {
            count == name.utf8CodeUnitCount && memcmp(base + start, name.utf8Start, count) == 0
        }
        let member: Member
        if spells("text") { member = .text }
        else if spells("call") { member = .call }
        else if spells("speaker") { member = .speaker }
        else if spells("t") { member = .t }
        else if spells("end") { member = .end }
        else if spells("event") { member = .event }
        else { return nil }
        p.i = end + 1
        return member
    }

    /// The event of a well-formed line, read in place: the members the decoder uses are kept as
    /// plain values, the others are checked and skipped, and no dictionary of `Any` is made (that
    /// was half the cost of an event). Nil for a line that is not valid JSON or not an object:
    /// `decodeAnyObject` reads it then and says why, so both paths give every line the same result.
    static func decodeFlat(_ line: ArraySlice<UInt8>) -> DecodedCallEvent? {
        line.withUnsafeBufferPointer { buffer -> DecodedCallEvent? in
            var p = JSONLine.Parser(b: buffer)
            var call: FlatValue?, speaker: FlatValue?, text: FlatValue?, t: FlatValue?, end: FlatValue?, kind: FlatValue?
            do {
                // As `JSONLine.Parser.topLevelObject` and `members(depth: 2)` read a line.
                let b = buffer
                if b.count >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF { p.i = 3 }
                p.skipSpace()
                guard p.i < b.count, b[p.i] == 0x7B else { return nil }
                p.i += 1
                p.skipSpace()
                if p.i < b.count && b[p.i] == 0x7D {
                    p.i += 1
                } else {
                    members: while true {
                        p.skipSpace()
                        guard p.i < b.count, b[p.i] == 0x22 else { return nil }
                        let member: Member
                        if let known = plainMember(&p) {
                            member = known
                        } else {
                            switch try p.string() {
                            case "call": member = .call
                            case "speaker": member = .speaker
                            case "text": member = .text
                            case "t": member = .t
                            case "end": member = .end
                            case "event": member = .event
                            default: member = .other
                            }
                        }
                        p.skipSpace()
                        guard p.i < b.count, b[p.i] == 0x3A else { return nil }
                        p.i += 1
                        p.skipSpace()
                        guard p.i < b.count else { return nil }
                        let v: FlatValue
                        switch b[p.i] {
                        case 0x22: v = .string(try p.string())
                        case 0x74: try p.word("true"); v = .bool(true)
                        case 0x66: try p.word("false"); v = .bool(false)
                        case 0x6E: try p.word("null"); v = .null
                        case 0x2D, 0x30...0x39: v = .number(try p.number())
                        default: _ = try p.value(depth: 2); v = .other
                        }
                        // A duplicate key: the last one wins, as in the dictionary.
                        switch member {
                        case .call: call = v
                        case .speaker: speaker = v
                        case .text: text = v
                        case .t: t = v
                        case .end: end = v
                        case .event: kind = v
                        case .other: break
                        }
                        p.skipSpace()
                        guard p.i < b.count else { return nil }
                        if b[p.i] == 0x2C { p.i += 1; continue }
                        if b[p.i] == 0x7D { p.i += 1; break members }
                        return nil
                    }
                }
                p.skipSpace()
                guard p.i == b.count else { return nil }
            } catch {
                return nil
            }
            // From here as `decodeAnyObject` reads the dictionary.
            var id: String?
            if let call, case .bool = call {} else { id = call?.scalarString }
            guard let c = id, !c.isEmpty else { return .malformed("an event needs a `call` id (a string or a number)") }
            var time: Double?
            if let t {
                guard case .number(let n) = t, case let seconds = n.double, seconds.isFinite else { return .malformed("call \(c): `t` must be a number of seconds") }
                time = seconds
            }
            if case .bool(true)? = end { return .event(.end(call: c, time: time)) }
            if case .string("end")? = kind { return .event(.end(call: c, time: time)) }
            guard case .string(let words)? = text else { return .turnWithoutText(call: c, time: time) }
            return .event(.turn(call: c, speaker: speaker?.scalarString ?? "", text: words, time: time))
        }
    }
}
