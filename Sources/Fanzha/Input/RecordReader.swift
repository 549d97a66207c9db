import Foundation

/// How input files are read.
package enum InputFormat: String, Sendable, CaseIterable {
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
    package static func guess(path: String) -> InputFormat {
        let lower = path.lowercased()
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") || lower.hasSuffix(".json") { return .jsonl }
        if lower.hasSuffix(".csv") { return .csv }
        return .text
    }
}

package struct ReaderOptions: Sendable {
    package var textField: String? = nil       // nil: "text", then "content"
    package var idField: String = "id"
    package var labelField: String = "label"
    package var sides = SpeakerSides()
    package init() {}
}

/// A problem with one input record: reported with where it was, and reading goes on.
public struct RecordError: Error, Sendable, CustomStringConvertible {
    public let origin: String
    public let message: String
    /// The record's id, when it could be read (a JSON object with an id field).
    public let id: String?
    public var description: String { "\(origin): \(message)" }
    public init(origin: String, message: String, id: String? = nil) {
        self.origin = origin
        self.message = message
        self.id = id
    }
}

/// One line of input as `LineReader` hands it out.
package enum InputLine {
    /// The line's bytes, without its "\n" (and "\r").
    case line(ArraySlice<UInt8>)
    /// A line longer than the reader's limit: skipped without being held in memory; `bytes` is
    /// its length.
    case tooLong(bytes: Int)
}

/// Reads a file (or stdin) as lines of bytes, in chunks. Memory stays bounded by the longest
/// line, and no line may be longer than `maxLineBytes`: a longer one is skipped as it streams
/// past and reported as `.tooLong`, so a file without newlines cannot exhaust memory.
package final class LineReader {
    private let handle: FileHandle?
    // Its state unchecked for exclusive access: a reader is read by one thread and never
    // re-entered, and the run-time check (about 60 instructions) ran at every line.
    @exclusivity(unchecked) private var buffer: [UInt8] = []
    @exclusivity(unchecked) private var position = 0
    /// Where the search for the next "\n" resumes: the bytes from `position` up to here hold none.
    @exclusivity(unchecked) private var searched = 0
    /// The "\n" that ends the next line, when `wouldWait` has found it (`next` does not search again).
    @exclusivity(unchecked) private var newlineFound: Int?
    @exclusivity(unchecked) private var eof = false
    private let chunkSize: Int
    @exclusivity(unchecked) private var scratch: [UInt8] = []
    package let maxLineBytes: Int
    /// Whether a line keeps its "\r" before the "\n" (CSV: inside a quoted field it is data).
    package let keepsCarriageReturns: Bool
    @exclusivity(unchecked) package private(set) var lineNumber = 0

    /// The default limit on one line (one record): far above any message or call turn (a
    /// five-hour call is about 200 KB), and low enough that a hostile line cannot take the
    /// machine's memory (scanning costs about 30 bytes of memory per input byte).
    package static let defaultMaxLineBytes = 16 << 20

    package init(handle: FileHandle, chunkSize: Int = 1 << 20, maxLineBytes: Int = LineReader.defaultMaxLineBytes, keepsCarriageReturns: Bool = false) {
        self.handle = handle
        self.chunkSize = chunkSize
        self.maxLineBytes = max(1, maxLineBytes)
        self.keepsCarriageReturns = keepsCarriageReturns
    }

    /// Lines of bytes already in memory.
    package init(bytes: some Collection<UInt8>, maxLineBytes: Int = LineReader.defaultMaxLineBytes, keepsCarriageReturns: Bool = false) {
        self.handle = nil
        self.chunkSize = 0
        self.maxLineBytes = max(1, maxLineBytes)
        self.keepsCarriageReturns = keepsCarriageReturns
        self.buffer = Array(bytes)
        self.eof = true
    }

    /// The next line, or nil at the end.
    package func next() -> InputLine? {
        while true {
            let nl = newlineFound ?? nextNewline()
            newlineFound = nil
            if let nl {
                lineNumber += 1
                var line = buffer[position..<nl]
                position = nl + 1
                searched = position
                if line.last == 0x0D && !keepsCarriageReturns { line = line.dropLast() }
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
                if line.last == 0x0D && !keepsCarriageReturns { line = line.dropLast() }
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
            let data = readChunk()
            if data.isEmpty { eof = true } else { buffer.append(contentsOf: data) }
        }
    }

    /// Whether `next` would wait for input: no whole line is in memory and the input has nothing
    /// to read now (a pipe between a live stream's events). Whoever holds lines back to work on
    /// them together hands on what it has then, so a live call's alert does not wait for more input.
    package var wouldWait: Bool {
        guard let handle, !eof else { return false }
        if newlineFound != nil { return false }
        newlineFound = nextNewline()
        if newlineFound != nil { return false }
        searched = buffer.count
        var ready = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
        return poll(&ready, 1, 0) == 0
    }

    /// The index of the first "\n" in the buffer from `searched` on.
    private func nextNewline() -> Int? {
        buffer.withUnsafeBufferPointer { b in
            guard searched < b.count, let base = b.baseAddress else { return nil }
            guard let hit = memchr(base + searched, 0x0A, b.count - searched) else { return nil }
            return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// What to say of the line just given as `.tooLong(bytes:)`, of input `source`.
    package func tooLongError(bytes: Int, source: String) -> RecordError {
        RecordError(origin: "\(source):\(lineNumber)", message: "line of \(bytes) bytes is longer than --max-record-bytes \(maxLineBytes); skipped")
    }

    /// What the input has now, up to a chunk (empty at its end). One read(2): a pipe's lines are
    /// handed on as they arrive — a live call's events must not wait for a megabyte to gather
    /// (FileHandle.readData(ofLength:) reads until it has the whole length).
    private func readChunk() -> ArraySlice<UInt8> {
        guard let handle else { return [] }
        if scratch.isEmpty { scratch = [UInt8](repeating: 0, count: chunkSize) }
        let fd = handle.fileDescriptor
        while true {
            let n = scratch.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n >= 0 { return scratch[0..<n] }
            if errno != EINTR { return [] }   // as at the end: what was read is scanned
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
            let data = readChunk()
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
package struct RecordDecoder {
    package let format: InputFormat
    package let options: ReaderOptions
    package let source: String

    package init(format: InputFormat, options: ReaderOptions, source: String) {
        self.format = format
        self.options = options
        self.source = source
    }

    /// Decodes one line; `nil` with no error means "skip" (a blank line in JSON Lines).
    package func decode(line: ArraySlice<UInt8>, number: Int) -> Result<Record, RecordError>? {
        switch format {
        case .text, .transcript, .events, .csv:
            let text = String(decoding: line, as: UTF8.self)
            return .success(Record(id: String(number), text: text, file: source, line: number))
        case .jsonl:
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }
            return decodeJSON(line, number: number, origin: "\(source):\(number)")
        }
    }

    func decodeJSON(_ line: ArraySlice<UInt8>, number: Int, origin: String) -> Result<Record, RecordError> {
        let fields: [JSONLine.Field]
        switch JSONLine.object(line) {
        case .success(let f): fields = f
        case .failure(let e): return .failure(RecordError(origin: origin, message: e.description))
        }
        let base = line.startIndex
        var dict: [String: Any] = [:]
        var keys: [String] = []
        var raw: [String: String] = [:]
        for f in fields {
            if dict.updateValue(f.value, forKey: f.key) == nil { keys.append(f.key) }
            raw[f.key] = String(decoding: line[(base + f.raw.lowerBound)..<(base + f.raw.upperBound)], as: UTF8.self)
        }
        return RecordDecoder.record(from: dict, keys: keys, options: options, fallbackID: String(number), origin: origin, raw: raw)
    }

    /// A record from a decoded object; `raw` holds each field's JSON text as written, which
    /// passes through unchanged (without it, fields are re-serialised).
    package static func record(from dict: [String: Any], keys: [String], options: ReaderOptions, fallbackID: String, origin: String,
                              raw: [String: String] = [:]) -> Result<Record, RecordError> {
        let id = JSONTypes.scalarString(dict[options.idField]) ?? fallbackID
        func fail(_ message: String) -> Result<Record, RecordError> {
            .failure(RecordError(origin: origin, message: message, id: JSONTypes.scalarString(dict[options.idField])))
        }
        let label = JSONTypes.scalarString(dict[options.labelField])
        var consumed: Set<String> = [options.idField]
        var record: Record
        if let turnsValue = dict["turns"] {
            guard let turns = turnsValue as? [Any] else {
                return fail("`turns` must be an array of {speaker, text}")
            }
            var parsed: [Turn] = []
            for (i, t) in turns.enumerated() {
                guard let t = t as? [String: Any], let text = t["text"] as? String else {
                    return fail("turn \(i) must be an object with a string `text`")
                }
                let speaker = JSONTypes.scalarString(t["speaker"]) ?? ""
                parsed.append(Turn(speaker: speaker, side: options.sides.side(of: speaker), text: text))
            }
            if parsed.isEmpty { return fail("a call without turns") }
            consumed.insert("turns")
            record = Record(id: id, turns: parsed, label: label, origin: origin)
            record.unmappedSpeakers = options.sides.unmapped(in: parsed)
        } else {
            let fields = options.textField.map { [$0] } ?? ["text", "content"]
            guard let field = fields.first(where: { dict[$0] != nil }) else {
                return fail("no `\(fields[0])` field (set it with --text-field)")
            }
            guard let text = dict[field] as? String else {
                return fail("`\(field)` must be a string")
            }
            consumed.insert(field)
            record = Record(id: id, text: text, label: label, origin: origin)
        }
        // Everything else passes through, in input order.
        for k in keys where !consumed.contains(k) {
            if let json = raw[k] ?? dict[k].flatMap(JSONTypes.serialise) { record.passthrough.append((k, json)) }
        }
        return .success(record)
    }
}

enum JSONTypes {
    struct NotAnObject: Error, CustomStringConvertible { let description: String }

    /// One line of JSON Lines as an object, or why it is not one.
    static func object(_ data: Data) -> Result<[String: Any], NotAnObject> {
        switch JSONLine.object(ArraySlice(data)) {
        case .failure(let e): return .failure(NotAnObject(description: e.description))
        case .success(let fields):
            var dict: [String: Any] = [:]
            for f in fields { dict[f.key] = f.value }
            return .success(dict)
        }
    }

    static func name(of v: Any) -> String {
        switch v {
        case is [String: Any]: return "an object"
        case is JSONNumber: return "a number"
        case let b where isSwiftBool(b): return "a boolean"
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
        guard let v else { return false }
        if isSwiftBool(v) { return true }
        guard !(v is JSONNumber), let n = v as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"   // a JSON boolean; numbers are "i", "q" or "d"
    }

    /// A Swift `Bool` (exactly: on Linux an NSNumber may also cast to Bool).
    static func isSwiftBool(_ v: Any) -> Bool { type(of: v) == Bool.self }

    static func scalarString(_ v: Any?) -> String? {
        switch v {
        case let s as String: return s
        case let n as JSONNumber: return n.text
        case let b? where isSwiftBool(b): return (b as! Bool) ? "true" : "false"
        case let n as NSNumber: return n.stringValue
        default: return nil
        }
    }

    /// A JSON number's value (nil for anything else, booleans included).
    static func number(_ v: Any?) -> Double? {
        switch v {
        case let n as JSONNumber: return n.double
        case let n as NSNumber where !isBool(n): return n.doubleValue
        default: return nil
        }
    }

    static func serialise(_ v: Any) -> String? {
        if let n = v as? JSONNumber { return n.text }
        guard let d = try? JSONSerialization.data(withJSONObject: v, options: [.fragmentsAllowed, .withoutEscapingSlashes]) else { return nil }
        return String(decoding: d, as: UTF8.self)
    }

    /// Top-level keys of a JSON object in the order they appear.
    static func keyOrder(_ data: Data) -> [String] {
        (try? JSONLine.object(ArraySlice(data)).get())?.map(\.key) ?? []
    }
}
