import Foundation

/// How input files are read.
public enum InputFormat: String, Sendable, CaseIterable {
    /// One message per line.
    case text
    /// One JSON object per line: a message (text field) or a call (`turns: [{speaker, text}]`).
    case jsonl
    /// The whole file is one call transcript of `speaker: text` lines.
    case transcript
    /// JSON Lines call events `{call, speaker, text}`; see `LiveCalls`.
    case events
    /// CSV with a header row (evaluation data).
    case csv

    /// The format a file name suggests.
    public static func guess(path: String) -> InputFormat {
        let lower = path.lowercased()
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") || lower.hasSuffix(".json") { return .jsonl }
        if lower.hasSuffix(".csv") { return .csv }
        return .text
    }
}

public struct ReaderOptions: Sendable {
    public var textField: String? = nil       // nil: "text", then "content"
    public var idField: String = "id"
    public var labelField: String = "label"
    public var roles = SpeakerRoles()
    public init() {}
}

/// A problem with one input record: reported with where it was, and reading goes on.
public struct RecordError: Error, Sendable, CustomStringConvertible {
    public let origin: String
    public let message: String
    public var description: String { "\(origin): \(message)" }
    public init(origin: String, message: String) {
        self.origin = origin
        self.message = message
    }
}

/// One line of input as `LineReader` hands it out.
public enum InputLine {
    /// The line's bytes, without its "\n" (and "\r").
    case line(ArraySlice<UInt8>)
    /// A line longer than the reader's limit: skipped without being held in memory; `bytes` is
    /// its length.
    case tooLong(bytes: Int)
}

/// Reads a file (or stdin) as lines of bytes, in chunks. Memory stays bounded by the longest
/// line, and no line may be longer than `maxLineBytes`: a longer one is skipped as it streams
/// past and reported as `.tooLong`, so a file without newlines cannot exhaust memory.
public final class LineReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var position = 0
    /// Where the search for the next "\n" resumes: the bytes from `position` up to here hold none.
    private var searched = 0
    private var eof = false
    private let chunkSize: Int
    public let maxLineBytes: Int
    public private(set) var lineNumber = 0

    /// The default limit on one line (one record): far above any message or call turn (a
    /// five-hour call is about 200 KB), and low enough that a hostile line cannot take the
    /// machine's memory (scanning costs about 30 bytes of memory per input byte).
    public static let defaultMaxLineBytes = 16 << 20

    public init(handle: FileHandle, chunkSize: Int = 1 << 20, maxLineBytes: Int = LineReader.defaultMaxLineBytes) {
        self.handle = handle
        self.chunkSize = chunkSize
        self.maxLineBytes = max(1, maxLineBytes)
    }

    /// The next line, or nil at the end.
    public func next() -> InputLine? {
        while true {
            let nl: Int? = buffer.withUnsafeBufferPointer { b in
                guard searched < b.count, let base = b.baseAddress else { return nil }
                guard let hit = memchr(base + searched, 0x0A, b.count - searched) else { return nil }
                return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            }
            if let nl {
                lineNumber += 1
                var line = buffer[position..<nl]
                position = nl + 1
                searched = position
                if line.last == 0x0D { line = line.dropLast() }
                if line.count > maxLineBytes { return .tooLong(bytes: line.count) }
                return .line(line)
            }
            searched = buffer.count
            if eof {
                guard position < buffer.count else { return nil }
                lineNumber += 1
                var line = buffer[position...]
                position = buffer.count
                searched = position
                if line.last == 0x0D { line = line.dropLast() }
                if line.count > maxLineBytes { return .tooLong(bytes: line.count) }
                return .line(line)
            }
            if buffer.count - position > maxLineBytes + 1 {   // + 1: a "\r" before the "\n" is not content
                return skipLongLine()
            }
            // Compact, then read more.
            if position > 0 {
                buffer.removeFirst(position)
                searched -= position
                position = 0
            }
            let data = handle.readData(ofLength: chunkSize)
            if data.isEmpty { eof = true } else { buffer.append(contentsOf: data) }
        }
    }

    /// The current line is already over the limit: read on to its end without keeping it.
    private func skipLongLine() -> InputLine {
        lineNumber += 1
        var length = buffer.count - position
        buffer.removeAll(keepingCapacity: true)
        position = 0
        searched = 0
        while true {
            let data = handle.readData(ofLength: chunkSize)
            if data.isEmpty {
                eof = true
                return .tooLong(bytes: length)
            }
            if let nl = data.firstIndex(of: 0x0A) {
                length += nl - data.startIndex
                buffer.append(contentsOf: data[(nl + 1)...])
                return .tooLong(bytes: length)
            }
            length += data.count
        }
    }
}

/// Turns input lines into records, one per line (or one per file for transcripts).
public struct RecordDecoder {
    public let format: InputFormat
    public let options: ReaderOptions
    public let source: String

    public init(format: InputFormat, options: ReaderOptions, source: String) {
        self.format = format
        self.options = options
        self.source = source
    }

    /// Decodes one line; `nil` with no error means "skip" (a blank line in JSON Lines).
    public func decode(line: ArraySlice<UInt8>, number: Int) -> Result<Record, RecordError>? {
        switch format {
        case .text, .transcript, .events, .csv:
            let text = String(decoding: line, as: UTF8.self)
            return .success(Record(id: String(number), text: text, file: source, line: number))
        case .jsonl:
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }
            return decodeJSON(Data(line), number: number, origin: "\(source):\(number)")
        }
    }

    func decodeJSON(_ data: Data, number: Int, origin: String) -> Result<Record, RecordError> {
        let dict: [String: Any]
        switch JSONTypes.object(data) {
        case .success(let d): dict = d
        case .failure(let message): return .failure(RecordError(origin: origin, message: message.description))
        }
        return RecordDecoder.record(from: dict, keys: JSONTypes.keyOrder(data), options: options, fallbackID: String(number), origin: origin)
    }

    public static func record(from dict: [String: Any], keys: [String], options: ReaderOptions, fallbackID: String, origin: String) -> Result<Record, RecordError> {
        let id = JSONTypes.scalarString(dict[options.idField]) ?? fallbackID
        let label = JSONTypes.scalarString(dict[options.labelField])
        var consumed: Set<String> = [options.idField]
        var record: Record
        if let turnsValue = dict["turns"] {
            guard let turns = turnsValue as? [Any] else {
                return .failure(RecordError(origin: origin, message: "`turns` must be an array of {speaker, text}"))
            }
            var parsed: [Turn] = []
            for (i, t) in turns.enumerated() {
                guard let t = t as? [String: Any], let text = t["text"] as? String else {
                    return .failure(RecordError(origin: origin, message: "turn \(i) must be an object with a string `text`"))
                }
                let speaker = JSONTypes.scalarString(t["speaker"]) ?? ""
                parsed.append(Turn(speaker: speaker, role: options.roles.role(of: speaker), text: text))
            }
            if parsed.isEmpty { return .failure(RecordError(origin: origin, message: "a call without turns")) }
            consumed.insert("turns")
            record = Record(id: id, turns: parsed, label: label, origin: origin)
        } else {
            let fields = options.textField.map { [$0] } ?? ["text", "content"]
            guard let field = fields.first(where: { dict[$0] != nil }) else {
                return .failure(RecordError(origin: origin, message: "no `\(fields[0])` field (set it with --text-field)"))
            }
            guard let text = dict[field] as? String else {
                return .failure(RecordError(origin: origin, message: "`\(field)` must be a string"))
            }
            consumed.insert(field)
            record = Record(id: id, text: text, label: label, origin: origin)
        }
        // Everything else passes through, in input order.
        for k in keys where !consumed.contains(k) {
            if let v = dict[k], let json = JSONTypes.serialise(v) { record.passthrough.append((k, json)) }
        }
        return .success(record)
    }
}

enum JSONTypes {
    struct NotAnObject: Error, CustomStringConvertible { let description: String }

    /// One line of JSON Lines as an object, or why it is not one.
    static func object(_ data: Data) -> Result<[String: Any], NotAnObject> {
        guard let value = try? JSONSerialization.jsonObject(with: keepingByteOrderMarks(data), options: [.fragmentsAllowed]) else {
            return .failure(NotAnObject(description: "not valid JSON"))
        }
        guard let dict = value as? [String: Any] else {
            return .failure(NotAnObject(description: "a JSON line must be an object, not \(name(of: value))"))
        }
        return .success(dict)
    }

    /// JSONSerialization drops a raw U+FEFF at the start of a string value, which would shift
    /// every evidence offset in that text by one. A BOM before the object (a file's BOM) is
    /// dropped here; any other raw one can only be inside a string, and is written as the escape
    /// `\ufeff`, which JSONSerialization keeps.
    static func keepingByteOrderMarks(_ data: Data) -> Data {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        // 0xEF alone is common (full-width punctuation such as ，): copy only when a BOM is there.
        // A plain byte loop: Data's generic `firstRange(of:)` cost more than parsing the line.
        let hasBOM = data.withUnsafeBytes { (b: UnsafeRawBufferPointer) -> Bool in
            var i = 0
            while i + 2 < b.count {
                if b[i] == 0xEF && b[i + 1] == 0xBB && b[i + 2] == 0xBF { return true }
                i += 1
            }
            return false
        }
        guard hasBOM else { return data }
        var bytes = [UInt8](data)
        if bytes.starts(with: bom) { bytes.removeFirst(3) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0xEF, i + 2 < bytes.count, bytes[i + 1] == 0xBB, bytes[i + 2] == 0xBF {
                out.append(contentsOf: Array("\\ufeff".utf8))
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return Data(out)
    }

    static func name(of v: Any) -> String {
        switch v {
        case is [Any]: return "an array"
        case is String: return "a string"
        case is NSNull: return "null"
        case is NSNumber: return "a number"
        default: return "a value"
        }
    }

    /// Whether a JSONSerialization value is `true` or `false` (Foundation may hand those over as
    /// numbers, which would make `"call": true` the call "1").
    static func isBool(_ v: Any?) -> Bool {
        guard let n = v as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"   // a JSON boolean; numbers are "i", "q" or "d"
    }

    static func scalarString(_ v: Any?) -> String? {
        switch v {
        case let s as String: return s
        case let n as NSNumber: return n.stringValue
        default: return nil
        }
    }

    static func serialise(_ v: Any) -> String? {
        guard let d = try? JSONSerialization.data(withJSONObject: v, options: [.fragmentsAllowed, .withoutEscapingSlashes]) else { return nil }
        return String(decoding: d, as: UTF8.self)
    }

    /// Top-level keys of a JSON object in the order they appear (JSONSerialization forgets it).
    static func keyOrder(_ data: Data) -> [String] {
        var keys: [String] = []
        var depth = 0, i = 0
        let b = [UInt8](data)
        var expectKey = false
        while i < b.count {
            let c = b[i]
            if c == 0x22 { // string
                var j = i + 1
                while j < b.count, b[j] != 0x22 { if b[j] == 0x5C { j += 1 }; j += 1 }
                if depth == 1 && expectKey {
                    if let s = try? JSONSerialization.jsonObject(with: Data(b[i...min(j, b.count - 1)]), options: [.fragmentsAllowed]) as? String {
                        keys.append(s)
                    }
                    expectKey = false
                }
                i = j + 1
                continue
            }
            switch c {
            case 0x7B, 0x5B: depth += 1; if depth == 1 && c == 0x7B { expectKey = true }
            case 0x7D, 0x5D: depth -= 1
            case 0x2C: if depth == 1 { expectKey = true }
            default: break
            }
            i += 1
        }
        return keys
    }
}
