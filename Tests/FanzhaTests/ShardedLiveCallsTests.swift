import Foundation
import Testing
@testable import Fanzha

/// Live calls on several threads (`ShardedLiveCalls`): the same events, in the same order, line by
/// line, as one `LiveCallScreener`.
@Suite struct ShardedLiveCallsTests {
    /// The corpus calls' turns interleaved at random, each call's in order; some calls end with an
    /// end event, some lines are bad, some times go back, so that every kind of event appears.
    static func interleavedLines(seed: UInt64) throws -> [String] {
        let calls = try LiveCallsTests.calls()
        var rng = SplitMix64(seed: seed)
        var cursors = calls.map { ($0, 0) }
        var lines: [String] = []
        var time = 0
        while !cursors.isEmpty {
            let k = Int(rng.next() % UInt64(cursors.count))
            let (call, i) = cursors[k]
            let turn = call.turns[i]
            time += 1
            // Now and then a time earlier than the call's last (a clock skew notice).
            let t = rng.next() % 23 == 0 ? time - 1000 : time
            lines.append("{\"call\":\(jsonString(call.id)),\"speaker\":\(jsonString(turn.speaker)),\"text\":\(jsonString(turn.text)),\"t\":\(t)}")
            if rng.next() % 61 == 0 { lines.append("不是事件") }
            if i + 1 == call.turns.count {
                if rng.next() % 2 == 0 { lines.append("{\"call\":\(jsonString(call.id)),\"end\":true}") }
                cursors.remove(at: k)
            } else {
                cursors[k].1 = i + 1
            }
        }
        // Last, one call speaking alone: it reaches the turn limit, and the others go idle.
        for i in 0..<80 { lines.append("{\"call\":\"独白\",\"speaker\":\"caller\",\"text\":\"第\(i)句：请把钱转到安全账户\",\"t\":\(time + i)}") }
        return lines
    }

    /// What the output shows of an event: its JSON line, or the message for standard error.
    static func shown(_ event: LiveCallEvent, _ printer: LiveEventPrinter) -> String {
        switch event {
        case .notice(let n): return "notice: \(n)"
        case .malformed(let e): return "malformed: \(e.description) \(printer.render(event) ?? "")"
        case .alert, .final: return printer.render(event) ?? ""
        }
    }

    /// One screener's events, line by line (lines with none left out, as `ShardedLiveCalls` does).
    static func oneScreener(_ lines: [String], limits: LiveCallScreener.Limits, printer: LiveEventPrinter) throws -> [[String]] {
        let live = LiveCallScreener(screener: try Screener(rules: LiveCallsTests.rules), limits: limits)
        var out: [[String]] = []
        for (i, line) in lines.enumerated() {
            let events = live.handle(line: ArraySlice(Array(line.utf8)), number: i + 1, source: "events")
            if !events.isEmpty { out.append(events.map { shown($0, printer) }) }
        }
        let last = live.finish()
        if !last.isEmpty { out.append(last.map { shown($0, printer) }) }
        return out
    }

    static func sharded(_ lines: [String], workers: Int, linesPerBatch: Int, limits: LiveCallScreener.Limits, printer: LiveEventPrinter) throws -> [[String]] {
        var out: [[String]] = []
        let live = ShardedLiveCalls<String>(screeners: try (0..<workers).map { _ in try Screener(rules: LiveCallsTests.rules) },
                                            limits: limits, sides: SpeakerSides(), linesPerBatch: linesPerBatch,
                                            render: { shown($0, printer) }, deliver: { line in out.append(line.map { $0.rendered ?? "" }) })
        for (i, line) in lines.enumerated() { try live.add(line: ArraySlice(Array(line.utf8)), number: i + 1, source: "events") }
        try live.finish()
        return out
    }

    @Test func shardedGivesOneScreenersEventsInItsOrder() throws {
        let lines = try Self.interleavedLines(seed: 20261205)
        let printer = LiveEventPrinter(rules: LiveCallsTests.rules, format: .jsonl)
        // Limits that make calls close on each other's lines: idle, evicted, at the turn limit.
        var limits = LiveCallScreener.Limits()
        limits.idleLines = 60
        limits.maxOpenCalls = 15
        limits.maxTurns = 9
        let expected = try Self.oneScreener(lines, limits: limits, printer: printer)
        let all = expected.flatMap { $0 }
        for kind in ["\"event\":\"alert\"", "\"event\":\"final\"", "closed after being idle", "open calls", "reached 9 turns",
                     "is earlier than", "malformed: events:"] {
            #expect(all.contains { $0.contains(kind) }, "the input makes \(kind)")
        }
        // Consecutive finals of calls screened by different workers: the order is the planner's,
        // not the order the workers finish in.
        let shards = all.compactMap { line -> Int? in
            guard line.hasPrefix("{\"event\":\"final\""), let id = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let call = id["id"] as? String else { return nil }
            return LiveCallScreener.shard(of: call, among: 2)
        }
        #expect(zip(shards, shards.dropFirst()).filter { $0 != $1 }.count > 10, "finals of both workers alternate")
        for (workers, batch) in [(2, 1), (2, 7), (2, 512), (3, 64)] {
            let got = try Self.sharded(lines, workers: workers, linesPerBatch: batch, limits: limits, printer: printer)
            #expect(got == expected, "\(workers) workers, \(batch) lines a batch")
        }
    }

    /// `read`, the one loop `scan --input events` runs over its input, gives the same events
    /// line by line whoever screens them, one screener on this thread (`SerialLiveCalls`) or two
    /// workers, a line too long to read included (an error in its place).
    @Test func readingAnInputGivesTheSameEventsOnOneThreadAndOnTwo() throws {
        var lines = try Self.interleavedLines(seed: 5)
        let long = lines.count / 2
        lines.insert("{\"call\":\"长\",\"speaker\":\"caller\",\"text\":\"\(String(repeating: "请转账", count: 200))\"}", at: long)
        let bytes = Array(lines.joined(separator: "\n").utf8) + [0x0A]
        let printer = LiveEventPrinter(rules: LiveCallsTests.rules, format: .jsonl)
        var limits = LiveCallScreener.Limits()
        limits.idleLines = 60
        limits.maxOpenCalls = 15
        var serial: [[String]] = [], sharded: [[String]] = []
        try SerialLiveCalls<String>(screener: LiveCallScreener(screener: try Screener(rules: LiveCallsTests.rules), limits: limits),
                                    render: { Self.shown($0, printer) }, deliver: { serial.append($0.map { $0.rendered ?? "" }) })
            .read(LineReader(bytes: bytes, maxLineBytes: 1000), source: "events")
        try ShardedLiveCalls<String>(screeners: try (0..<2).map { _ in try Screener(rules: LiveCallsTests.rules) }, limits: limits,
                                     sides: SpeakerSides(), linesPerBatch: 16,
                                     render: { Self.shown($0, printer) }, deliver: { sharded.append($0.map { $0.rendered ?? "" }) })
            .read(LineReader(bytes: bytes, maxLineBytes: 1000), source: "events")
        #expect(serial == sharded)
        #expect(serial.count > lines.count / 2)
        #expect(serial.contains { $0.contains { $0.contains("events:\(long + 1): line of 1843 bytes is longer than --max-record-bytes 1000") } })
    }

    @Test func deliveryStopsWhereItThrowsAndTheRestIsNotDelivered() throws {
        struct Stop: Error {}
        let lines = try Self.interleavedLines(seed: 7)
        let printer = LiveEventPrinter(rules: LiveCallsTests.rules, format: .jsonl)
        let expected = try Self.oneScreener(lines, limits: LiveCallScreener.Limits(), printer: printer)
        let stopAt = try #require(expected.firstIndex { $0.contains { $0.hasPrefix("malformed:") } })
        var out: [[String]] = []
        let live = ShardedLiveCalls<String>(screeners: try (0..<2).map { _ in try Screener(rules: LiveCallsTests.rules) },
                                            limits: LiveCallScreener.Limits(), sides: SpeakerSides(), linesPerBatch: 5,
                                            render: { Self.shown($0, printer) }, deliver: { line in
                                                out.append(line.map { $0.rendered ?? "" })
                                                if line.contains(where: { if case .malformed = $0.event { return true } else { return false } }) { throw Stop() }
                                            })
        #expect(throws: Stop.self) {
            for (i, line) in lines.enumerated() { try live.add(line: ArraySlice(Array(line.utf8)), number: i + 1, source: "events") }
            try live.finish()
        }
        #expect(out == Array(expected[...stopAt]))
    }

    /// `scan --input events` on two threads writes what it writes on one, byte for byte, on
    /// standard output and standard error, with calls closing on each other's lines.
    @Test func scanOnTwoThreadsWritesWhatItWritesOnOne() throws {
        let input = Data((try Self.interleavedLines(seed: 11)).joined(separator: "\n").utf8 + [0x0A])
        let args = ["scan", "--input", "events", "--idle-lines", "60", "--max-open-calls", "15", "--max-call-turns", "9"]
        let one = try ProcessRunner.fanzha(args + ["--threads", "1"], stdin: input)
        let two = try ProcessRunner.fanzha(args + ["--threads", "2"], stdin: input)
        #expect(one.exited && one.status == 2, "bad lines make the status 2")
        #expect(one.stdout.count > 10_000)
        #expect(two.status == one.status)
        #expect(two.out == one.out)
        #expect(two.err == one.err)
    }

    /// Lines are screened in batches, but a live stream that pauses is not kept waiting: the
    /// alert of the one event written so far comes out while the input is still open.
    @Test func anAlertComesOutWhileTheInputStaysOpen() throws {
        let exe = try #require(PackageFiles.fanzha, "the fanzha executable was not built")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = ["scan", "--input", "events", "--threads", "2"]
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "FANZHA_RULES")
        process.environment = env
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        input.fileHandleForWriting.write(Data("{\"call\":\"c1\",\"speaker\":\"caller\",\"text\":\"我是市公安局的，你的银行卡涉嫌洗钱，请把钱转到安全账户\"}\n".utf8))
        final class Box: @unchecked Sendable { var text = "" }
        let box = Box()
        let got = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            box.text = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
            got.signal()
        }
        // Generous: a debug build on a loaded machine takes a while to start; without the flush
        // the alert never comes before the input closes, however long the wait.
        let inTime = got.wait(timeout: .now() + 180) == .success
        try input.fileHandleForWriting.close()   // ends the scan either way
        if !inTime { _ = got.wait(timeout: .now() + 30) }
        process.waitUntilExit()
        #expect(inTime && box.text.hasPrefix("{\"event\":\"alert\""), "\(box.text)")
    }
}
