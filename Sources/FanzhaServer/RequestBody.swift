import Fanzha
import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore

/// An error answered as JSON: `{"error": message, …fields}` with its status.
package struct APIError: HTTPResponseError {
    package let status: HTTPResponse.Status
    package let message: String
    /// More fields of the answer, as JSON bytes each (a position, diagnostics, allowed steps).
    var fields: [(String, [UInt8])] = []
    var closeConnection = false

    init(_ status: HTTPResponse.Status, _ message: String, fields: [(String, [UInt8])] = []) {
        self.status = status
        self.message = message
        self.fields = fields
    }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        var o = JSONObjectWriter()
        o.add("error", message)
        for (k, v) in fields { o.addRaw(k, String(decoding: v, as: UTF8.self)) }
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if closeConnection { headers[.connection] = "close" }
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"fanzha\"" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: o.finishBytes() + [0x0A])))
    }
}

func jsonNumber(_ n: Int) -> [UInt8] { Array(String(n).utf8) }
func jsonText(_ s: String) -> [UInt8] { Array(jsonString(s).utf8) }

/// Reads a request body: at most `limit` bytes (else 413), within `timeout` (else 408: a client
/// that trickles its body cannot hold a connection and its memory for long).
func readBody(_ request: Request, limit: Int, timeout: Duration) async throws -> [UInt8] {
    if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
        var e = APIError(.contentTooLarge, "request body of \(declared) bytes is over the limit of \(limit) bytes (--max-body-bytes)")
        e.closeConnection = true
        throw e
    }
    let body = request.body
    let reader = Task { () throws -> [UInt8]? in
        var out: [UInt8] = []
        for try await buffer in body {
            if out.count + buffer.readableBytes > limit {
                var e = APIError(.contentTooLarge, "request body is over the limit of \(limit) bytes (--max-body-bytes)")
                e.closeConnection = true
                throw e
            }
            out.append(contentsOf: buffer.readableBytesView)
        }
        return Task.isCancelled ? nil : out
    }
    let deadline = BodyDeadlines.shared.add(ContinuousClock.now + timeout) { reader.cancel() }
    defer { BodyDeadlines.shared.remove(deadline) }
    let result: [UInt8]?
    do { result = try await reader.value } catch is CancellationError { result = nil }
    guard let result else {
        var e = APIError(.requestTimeout, "request body not received within \(timeout) (--body-timeout)")
        e.closeConnection = true
        throw e
    }
    return result
}

/// The bodies being read and their deadlines. One sweeper task for the process cancels the
/// readers past their deadline, every `tick`, instead of a timer per request: a `Task.sleep` per
/// request (a task, a dispatch timer, a timerfd call, a wake-up of dispatch's timer thread) was
/// about 8% of the server's CPU under `wrk` (perf, docs/BENCHMARKS.md). A body times out up to
/// one tick late.
final class BodyDeadlines: Sendable {
    static let shared = BodyDeadlines(tick: .milliseconds(100))

    private struct Reading {
        let deadline: ContinuousClock.Instant
        let cancel: @Sendable () -> Void
    }
    private let readings = NIOLockedValueBox<(next: Int, open: [Int: Reading])>((0, [:]))

    private init(tick: Duration) {
        Task.detached { [readings] in
            while true {
                try? await Task.sleep(for: tick)
                let now = ContinuousClock.now
                let late = readings.withLockedValue { r -> [Reading] in
                    var late: [Reading] = []
                    for (id, reading) in r.open where reading.deadline <= now {
                        late.append(reading)
                        r.open.removeValue(forKey: id)
                    }
                    return late
                }
                for reading in late { reading.cancel() }
            }
        }
    }

    /// Registers a reader: `cancel` is called once `deadline` has passed, unless removed first.
    func add(_ deadline: ContinuousClock.Instant, cancel: @escaping @Sendable () -> Void) -> Int {
        readings.withLockedValue { r in
            r.next += 1
            r.open[r.next] = Reading(deadline: deadline, cancel: cancel)
            return r.next
        }
    }

    func remove(_ id: Int) {
        _ = readings.withLockedValue { $0.open.removeValue(forKey: id) }
    }
}

/// A 400 for JSON that cannot be read, with where: byte offset (from 1), line and column (in
/// characters, from 1) in the body.
func malformed(_ message: String, body: [UInt8], offset: Int = 0) -> APIError {
    // The library's parser says `… at byte N` (from 1, within the slice it was given).
    var byte: Int? = nil
    if let r = message.range(of: " at byte ", options: .backwards), let n = Int(message[r.upperBound...].prefix { $0.isNumber }) {
        byte = n + offset
    }
    var fields: [(String, [UInt8])] = []
    if let byte {
        let upto = body.prefix(max(0, byte - 1))
        let line = upto.reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
        let lineStart = (upto.lastIndex(of: 0x0A).map { $0 + 1 }) ?? 0
        let column = String(decoding: body[lineStart..<upto.endIndex], as: UTF8.self).unicodeScalars.count + 1
        fields = [("byte", jsonNumber(byte)), ("line", jsonNumber(line)), ("column", jsonNumber(column))]
    }
    let text = byte.map { b in message.replacingOccurrences(of: #"at byte \d+$"#, with: "at byte \(b)", options: .regularExpression) } ?? message
    return APIError(.badRequest, text, fields: fields)
}

/// The body's top-level JSON array, as the byte ranges of its elements (checked for balance
/// only; each element is then read by the library's parser), or nil when the body is no array.
func arrayElements(_ b: [UInt8]) throws -> [Range<Int>]? {
    var i = 0
    func space() { while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 } }
    if b.count >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF { i = 3 }
    space()
    guard i < b.count, b[i] == 0x5B else { return nil }
    i += 1
    var elements: [Range<Int>] = []
    space()
    if i < b.count, b[i] == 0x5D {
        i += 1
        space()
        guard i == b.count else { throw malformed("not valid JSON: text after the array at byte \(i + 1)", body: b) }
        return []
    }
    while true {
        space()
        let start = i
        var depth = 0
        var inString = false
        scan: while i < b.count {
            let c = b[i]
            if inString {
                if c == 0x5C { i += 2; continue }
                if c == 0x22 { inString = false }
            } else {
                switch c {
                case 0x22: inString = true
                case 0x7B, 0x5B: depth += 1
                case 0x7D, 0x5D:
                    if depth == 0 { break scan }
                    depth -= 1
                case 0x2C where depth == 0: break scan
                default: break
                }
            }
            i += 1
        }
        guard i < b.count else { throw malformed("not valid JSON: the array is not closed at byte \(b.count + 1)", body: b) }
        var end = i
        while end > start, b[end - 1] == 0x20 || b[end - 1] == 0x09 || b[end - 1] == 0x0A || b[end - 1] == 0x0D { end -= 1 }
        if end == start { throw malformed("not valid JSON: an empty array element at byte \(start + 1)", body: b) }
        if b[i] == 0x7D { throw malformed("not valid JSON: unexpected `}` at byte \(i + 1)", body: b) }
        elements.append(start..<end)
        let c = b[i]
        i += 1
        if c == 0x5D { break }
    }
    space()
    guard i == b.count else { throw malformed("not valid JSON: text after the array at byte \(i + 1)", body: b) }
    return elements
}
