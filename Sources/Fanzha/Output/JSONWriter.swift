import Foundation

/// Builds one JSON object as text, in field order. Output records are written with this rather than
/// a generic encoder: it is the hot path of `scan --format jsonl`, and field order is part of the format.
public struct JSONObjectWriter {
    private var buffer = "{"
    private var first = true
    public init() {}

    private mutating func key(_ k: String) {
        if !first { buffer += "," }
        first = false
        appendJSONString(k, to: &buffer)
        buffer += ":"
    }
    public mutating func add(_ k: String, _ v: String) { key(k); appendJSONString(v, to: &buffer) }
    public mutating func add(_ k: String, _ v: Int) { key(k); buffer += String(v) }
    public mutating func add(_ k: String, _ v: Double) {
        key(k)
        buffer += v.isFinite ? String(format: "%.4f", v) : "null"
    }
    public mutating func add(_ k: String, _ v: Bool) { key(k); buffer += v ? "true" : "false" }
    public mutating func addNull(_ k: String) { key(k); buffer += "null" }
    /// A value that is already JSON text.
    public mutating func addRaw(_ k: String, _ json: String) { key(k); buffer += json }
    public mutating func add(_ k: String, _ v: [String]) { key(k); buffer += jsonArray(v.map(jsonString)) }
    public mutating func finish() -> String { buffer += "}"; return buffer }
}

public func jsonArray(_ items: [String]) -> String { "[" + items.joined(separator: ",") + "]" }

public func jsonString(_ s: String) -> String {
    var out = ""
    appendJSONString(s, to: &out)
    return out
}

public func appendJSONString(_ s: String, to out: inout String) {
    out.reserveCapacity(out.utf8.count + s.utf8.count + 2)
    out += "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where u.value < 0x20:
            let hex = String(u.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(u)
        }
    }
    out += "\""
}
