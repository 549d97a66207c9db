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
