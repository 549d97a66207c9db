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
    // Work on UTF-8 bytes: only ASCII needs escaping, and multi-byte characters are copied whole.
    var bytes: [UInt8] = []
    bytes.reserveCapacity(s.utf8.count + 2)
    bytes.append(0x22)
    var needsWork = false
    for b in s.utf8 where b < 0x20 || b == 0x22 || b == 0x5C { needsWork = true; break }
    if !needsWork {
        bytes.append(contentsOf: s.utf8)
    } else {
        for b in s.utf8 {
            switch b {
            case 0x22: bytes += [0x5C, 0x22]
            case 0x5C: bytes += [0x5C, 0x5C]
            case 0x0A: bytes += [0x5C, 0x6E]
            case 0x0D: bytes += [0x5C, 0x72]
            case 0x09: bytes += [0x5C, 0x74]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes += [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: bytes.append(b)
            }
        }
    }
    bytes.append(0x22)
    out += String(decoding: bytes, as: UTF8.self)
}
