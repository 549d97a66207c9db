import Fanzha
@testable import FanzhaServer
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

private let turns: [(String, String)] = [
    ("caller", "喂，你好，这里是市公安局刑侦大队"),
    ("callee", "啊？什么事"),
    ("caller", "你名下的银行卡涉嫌洗钱，现在需要你配合调查"),
    ("callee", "我没有啊"),
    ("caller", "为了证明你的清白，你需要把所有资金转到安全账户"),
]

/// The events of a call as `scan --input events` reads them.
private func eventLines(_ call: String) -> [String] {
    turns.map { #"{"call":"\#(call)","speaker":"\#($0.0)","text":"\#($0.1)"}"# } + [#"{"call":"\#(call)","end":true}"#]
}

@Suite(.serialized) struct LiveCallTests {
    /// Turns over HTTP: an alert when the level rises, and at the end the final that
    /// `scan --input events` writes for the same events.
    @Test func turnsAndEndOverHTTP() async throws {
        let cli = try await runFanzha(["scan", "--input", "events", "--rules", Package.rules], stdin: Array((eventLines("c-1").joined(separator: "\n") + "\n").utf8))
        let cliLines = String(decoding: cli, as: UTF8.self).split(separator: "\n").map(String.init)
        let cliAlerts = cliLines.filter { $0.hasPrefix(#"{"event":"alert""#) }
        let cliFinal = try #require(cliLines.last { $0.hasPrefix(#"{"event":"final""#) })
        #expect(!cliAlerts.isEmpty)
        try await withServer { port, _ in
            var alerts: [String] = []
            for (speaker, text) in turns {
                let r = try await http(port, "POST", "/v1/calls/c-1/turns", json: #"{"speaker":"\#(speaker)","text":"\#(text)","t":1.5}"#)
                #expect(r.status == 200)
                #expect(r.object["call"] as? String == "c-1")
                if let alert = r.object["alert"] as? [String: Any] {
                    alerts.append(String(data: try JSONSerialization.data(withJSONObject: alert, options: [.sortedKeys]), encoding: .utf8)!)
                }
            }
            #expect(alerts.count == cliAlerts.count)
            #expect(try await http(port, "GET", "/metrics").text.contains("fanzha_open_calls 1"))
            let end = try await http(port, "POST", "/v1/calls/c-1/end")
            #expect(end.status == 200)
            // The final, byte for byte as the command line writes it.
            let raw = end.text
            let start = try #require(raw.range(of: #""final":"#))
            #expect(raw[start.upperBound...].hasPrefix(cliFinal))
            #expect(try await http(port, "POST", "/v1/calls/c-1/end").status == 404)
            #expect(try await http(port, "GET", "/metrics").text.contains("fanzha_open_calls 0"))
        }
    }

    @Test func badTurnsAre400() async throws {
        try await withServer { port, _ in
            let status56 = try await http(port, "POST", "/v1/calls/a/turns", json: #"{"speaker":"caller"}"#).status
            #expect(status56 == 400)
            let status57 = try await http(port, "POST", "/v1/calls/a/turns", json: #"{"text":"x","t":"soon"}"#).status
            #expect(status57 == 400)
            let status58 = try await http(port, "POST", "/v1/calls/a/turns", json: #"{"text":"x","call":"b"}"#).status
            #expect(status58 == 400)
            let status59 = try await http(port, "POST", "/v1/calls/a/turns", json: #"{"text":"x""#).status
            #expect(status59 == 400)
            let status60 = try await http(port, "POST", "/v1/calls/never/end").status
            #expect(status60 == 404)
        }
    }

    /// Calls on different shards at once: each call's turns stay in order, none is lost.
    @Test func concurrentCalls() async throws {
        try await withServer({ $0.callShards = 4 }) { port, _ in
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for c in 0..<24 {
                    group.addTask {
                        for (speaker, text) in turns {
                            guard try await http(port, "POST", "/v1/calls/k\(c)/turns", json: #"{"speaker":"\#(speaker)","text":"\#(text)"}"#).status == 200 else { return false }
                        }
                        let end = try await http(port, "POST", "/v1/calls/k\(c)/end")
                        let final = end.object["final"] as? [String: Any]
                        return final?["turns"] as? Int == turns.count && final?["level"] as? String == "high"
                    }
                }
                var ok = 0
                for try await r in group where r { ok += 1 }
                #expect(ok == 24)
            }
        }
    }

    /// The WebSocket takes `--input events` lines and sends what `scan --input events` writes.
    @Test func webSocketStream() async throws {
        let lines = eventLines("w1") + [#"{"call":"w2","text":5}"#]
        let cli = try await runFanzha(["scan", "--input", "events", "--rules", Package.rules], stdin: Array((eventLines("w1").joined(separator: "\n") + "\n").utf8))
        let expected = String(decoding: cli, as: UTF8.self).split(separator: "\n").map(String.init)
        try await withServer { port, _ in
            let received = try await offPool { () -> [String] in
                let ws = try WebSocketClient(port: port, path: "/v1/calls/stream")
                ws.sendText(lines.prefix(3).joined(separator: "\n"))
                for line in lines.dropFirst(3) { ws.sendText(line) }
                var received: [String] = []
                while received.count < expected.count + 1, let m = ws.receiveText() { received.append(m) }
                ws.close()
                return received
            }
            #expect(Array(received.prefix(expected.count)) == expected)
            #expect(received.last?.hasPrefix(#"{"event":"error""#) == true)
        }
    }

    @Test func webSocketNeedsAToken() async throws {
        let table = try TokenTable.parse(tokensFile, path: "tokens")
        try await withServer({ $0.tokens = table }) { port, _ in
            let refusals = try await offPool { () -> [Bool] in
                ["", "?token=0123456789abcdef-dispatch"].map { query in (try? WebSocketClient(port: port, path: "/v1/calls/stream" + query)) == nil }
            }
            #expect(refusals == [true, true])
            let first = try await offPool { () -> String? in
                let ws = try WebSocketClient(port: port, path: "/v1/calls/stream?token=0123456789abcdef-screen")
                ws.sendText(eventLines("t").joined(separator: "\n"))
                defer { ws.close() }
                return ws.receiveText()
            }
            #expect(first?.hasPrefix(#"{"event":"alert""#) == true)
        }
    }
}

/// Just enough of a WebSocket client (RFC 6455) for the tests: text frames, masked.
final class WebSocketClient {
    let connection: Connection
    private var buffer: [UInt8] = []

    struct Refused: Error { let response: String }

    init(port: Int, path: String) throws {
        connection = try Connection(port: port)
        connection.send(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".utf8))
        var head: [UInt8] = []
        var byte = [UInt8](repeating: 0, count: 1)
        while !(head.count >= 4 && head.suffix(4) == [13, 10, 13, 10]) {
            guard recv(connection.fd, &byte, 1, 0) == 1 else { break }
            head.append(byte[0])
        }
        let text = String(decoding: head, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 101") else { throw Refused(response: text) }
    }

    func sendText(_ s: String) {
        let payload = Array(s.utf8)
        var frame: [UInt8] = [0x81]
        if payload.count < 126 { frame.append(0x80 | UInt8(payload.count)) }
        else if payload.count < 65536 { frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)] }
        else { frame.append(0x80 | 127); for i in (0..<8).reversed() { frame.append(UInt8((payload.count >> (8 * i)) & 0xFF)) } }
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        frame += mask
        for (i, b) in payload.enumerated() { frame.append(b ^ mask[i % 4]) }
        connection.send(frame)
    }

    func receiveText() -> String? {
        while true {
            let h = connection.read(count: 2)
            guard h.count == 2 else { return nil }
            var length = Int(h[1] & 0x7F)
            if length == 126 { let e = connection.read(count: 2); length = Int(e[0]) << 8 | Int(e[1]) }
            else if length == 127 { let e = connection.read(count: 8); length = e.reduce(0) { $0 << 8 | Int($1) } }
            let payload = connection.read(count: length)
            switch h[0] & 0x0F {
            case 0x1: return String(decoding: payload, as: UTF8.self)
            case 0x8: return nil
            default: continue   // ping, pong
            }
        }
    }

    func close() {
        connection.send([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8])
    }
}
