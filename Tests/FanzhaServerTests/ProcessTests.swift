import FanzhaReferrals
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `fanzha serve` as a process: signals.
final class ServeProcess {
    let process = Process()
    let out = Pipe(), err = Pipe()
    private(set) var port = 0
    private let errText = Box()
    final class Box: @unchecked Sendable {
        let lock = NSLock()
        var text = ""
        func append(_ s: String) { lock.lock(); text += s; lock.unlock() }
        var value: String { lock.lock(); defer { lock.unlock() }; return text }
    }

    init(_ arguments: [String]) throws {
        let exe = try #require(Package.fanzha)
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = ["serve", "--port", "0"] + arguments
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        try process.run()
        let box = errText
        err.fileHandleForReading.readabilityHandler = { h in box.append(String(decoding: h.availableData, as: UTF8.self)) }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let r = box.value.range(of: "on http://127.0.0.1:") {
                let digits = box.value[r.upperBound...].prefix { $0.isNumber }
                if let p = Int(digits), box.value[r.upperBound...].dropFirst(digits.count).first == " " { port = p; break }
            }
            if !process.isRunning { break }
            usleep(20_000)
        }
    }

    var stderr: String { errText.value }

    func signal(_ s: Int32) { kill(process.processIdentifier, s) }

    /// Waits for the process to end; its stdout.
    func wait() -> String {
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        err.fileHandleForReading.readabilityHandler = nil
        return String(decoding: data, as: UTF8.self)
    }
}

@Suite(.serialized) struct ProcessTests {
    /// SIGTERM: requests in flight finish, open calls are closed with their finals on stdout, exit 0.
    @Test func sigtermClosesOpenCallsWithTheirFinals() throws {
        let server = try ServeProcess(["--rules", Package.rules])
        #expect(server.port > 0, "did not start: \(server.stderr)")
        guard server.port > 0 else { return }
        let r = try httpBlocking(server.port, "POST", "/v1/calls/open-1/turns", json: #"{"speaker":"caller","text":"我是公安局的，你涉嫌洗钱，把钱转到安全账户"}"#)
        #expect(r.status == 200)
        server.signal(SIGTERM)
        let stdout = server.wait()
        #expect(server.process.terminationReason == .exit)
        #expect(server.process.terminationStatus == 0)
        let finals = stdout.split(separator: "\n").filter { $0.hasPrefix(#"{"event":"final""#) }
        #expect(finals.count == 1)
        #expect(finals.first?.contains(#""id":"open-1""#) == true)
        #expect(finals.first?.contains(#""level":"high""#) == true)
    }

    /// SIGTERM with --referrals: the finals of the calls still open are referred too, so a case
    /// opened at an alert ends up with the whole call as its evidence.
    @Test func sigtermRefersTheFinalsOfOpenCalls() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fanzha-term-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("cases.db").path
        let server = try ServeProcess(["--rules", Package.rules, "--referrals", db, "--subject-field", "callee"])
        #expect(server.port > 0, "did not start: \(server.stderr)")
        guard server.port > 0 else { return }
        let first = try httpBlocking(server.port, "POST", "/v1/calls/open-2/turns",
                                     json: #"{"speaker":"caller","text":"我是公安局的，你涉嫌洗钱，把钱转到安全账户","callee":"138 0013 8002"}"#)
        #expect(first.object["case"] as? Int == 1, "\(first.text)")
        #expect(try httpBlocking(server.port, "POST", "/v1/calls/open-2/turns", json: #"{"speaker":"callee","text":"好的"}"#).status == 200)
        server.signal(SIGTERM)
        _ = server.wait()
        #expect(server.process.terminationStatus == 0)
        let c = try ReferralStore(path: db).case(1)
        #expect(c.summary.subject == "13800138002")
        #expect(c.evidence.count == 1 && c.evidence.first?.turns.count == 2)
    }

    /// SIGHUP reloads; a broken rule set is refused and the old one keeps serving.
    @Test func sighupReloads() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fanzha-hup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("r.fz")
        let head = "category demo {\n  title \"演示\"\n  description \"d\"\n  advice \"a\"\n  script \"s\"\n}\n"
        func rule(_ id: String, _ word: String) -> String { "rule demo.\(id) {\n  title \"t\"\n  category demo\n  score 10\n  match \"\(word)\"\n}\n" }
        try (head + rule("one", "安全账户")).write(to: file, atomically: true, encoding: .utf8)
        let server = try ServeProcess(["--rules", dir.path])
        #expect(server.port > 0, "did not start: \(server.stderr)")
        guard server.port > 0 else { return }
        func rules() throws -> Int { try httpBlocking(server.port, "GET", "/healthz").object["rules"] as? Int ?? -1 }
        #expect(try rules() == 1)
        try (head + rule("one", "安全账户") + rule("two", "刷单")).write(to: file, atomically: true, encoding: .utf8)
        server.signal(SIGHUP)
        var n = -1
        for _ in 0..<100 { n = try rules(); if n == 2 { break }; usleep(50_000) }
        #expect(n == 2)
        try (head + "rule demo.bad {\n  title \"t\"\n  score\n}\n").write(to: file, atomically: true, encoding: .utf8)
        server.signal(SIGHUP)
        for _ in 0..<100 where !server.stderr.contains("refused") { usleep(50_000) }
        #expect(server.stderr.contains("refused"))
        #expect(try rules() == 2)
        server.signal(SIGTERM)
        _ = server.wait()
        #expect(server.process.terminationStatus == 0)
    }

    /// `--window-bytes` reaches the live calls: with a window of 10 bytes a call of three
    /// 30-byte turns never holds more than two of them at once, so a rule that needs three
    /// occurrences does not fire on it; with the default window it does. 0 is refused.
    @Test func windowBytesBoundsTheTextALiveCallHolds() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fanzha-wb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let head = "category demo {\n  title \"演示\"\n  description \"d\"\n  advice \"a\"\n  script \"s\"\n}\n"
        try (head + "rule demo.thrice {\n  title \"t\"\n  category demo\n  score 60\n  match count(\"验证码\") >= 3\n}\n")
            .write(to: dir.appendingPathComponent("r.fz"), atomically: true, encoding: .utf8)
        func finalLevel(_ extra: [String]) throws -> String? {
            let server = try ServeProcess(["--rules", dir.path] + extra)
            #expect(server.port > 0, "did not start: \(server.stderr)")
            guard server.port > 0 else { return nil }
            defer { server.signal(SIGTERM); _ = server.wait() }
            for _ in 0..<3 {   // 30 bytes of text each
                let r = try httpBlocking(server.port, "POST", "/v1/calls/c/turns", json: #"{"speaker":"caller","text":"请告诉我验证码好吗"}"#)
                #expect(r.status == 200)
            }
            let end = try httpBlocking(server.port, "POST", "/v1/calls/c/end")
            return (end.object["final"] as? [String: Any])?["level"] as? String
        }
        let whole = try finalLevel([])
        #expect(whole != nil && whole != "none")
        #expect(try finalLevel(["--window-bytes", "10"]) == "none")
        let refused = try ServeProcess(["--rules", dir.path, "--window-bytes", "0"])
        _ = refused.wait()
        #expect(refused.process.terminationStatus == 2)
        #expect(refused.stderr.contains("--window-bytes"))
    }

    /// `fanzha serve` checks its command line, then becomes `fanzha-serve` (Sources/fanzha/Serve.swift):
    /// the process that answers is the one started, now running the program beside `fanzha`.
    @Test func serveBecomesTheServiceProgramInTheSameProcess() throws {
        let server = try ServeProcess(["--rules", Package.rules])
        #expect(server.port > 0, "did not start: \(server.stderr)")
        guard server.port > 0 else { return }
        let running = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(server.process.processIdentifier)/exe")
        let fanzha = URL(fileURLWithPath: try #require(Package.fanzha)).resolvingSymlinksInPath()
        #expect(running == fanzha.deletingLastPathComponent().appendingPathComponent("fanzha-serve").path)
        #expect(try httpBlocking(server.port, "GET", "/healthz").status == 200)
        server.signal(SIGTERM)
        _ = server.wait()
        #expect(server.process.terminationStatus == 0)
    }

    /// A `fanzha` without `fanzha-serve` beside it names the missing file and exits 2; a bad flag
    /// is still refused by `fanzha` itself, before it looks for the program.
    @Test func serveWithoutTheServiceProgramNamesIt() throws {
        let fanzha = URL(fileURLWithPath: try #require(Package.fanzha)).resolvingSymlinksInPath()
        let dir = fanzha.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fanzha-alone-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let alone = dir.appendingPathComponent("fanzha")
        do { try FileManager.default.linkItem(at: fanzha, to: alone) } catch { try FileManager.default.copyItem(at: fanzha, to: alone) }
        func run(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
            let p = Process()
            p.executableURL = alone
            p.arguments = arguments
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            try p.run()
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return (p.terminationStatus, text)
        }
        let missing = try run(["serve", "--port", "0", "--rules", Package.rules])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains(dir.appendingPathComponent("fanzha-serve").path), "\(missing.stderr)")
        let badFlag = try run(["serve", "--port", "70000"])
        #expect(badFlag.status == 2)
        #expect(badFlag.stderr.contains("--port must be between 0 and 65535"), "\(badFlag.stderr)")
    }

    /// `fanzha-serve` run on its own keeps `fanzha`'s exit statuses (FanzhaCommandLine's
    /// `runAsRoot`): a usage error is 2 with the message on stderr, `--help` and `--version` are 0
    /// with their text on stdout.
    @Test func serviceProgramAloneKeepsTheExitStatuses() throws {
        let fanzha = URL(fileURLWithPath: try #require(Package.fanzha)).resolvingSymlinksInPath()
        let program = fanzha.deletingLastPathComponent().appendingPathComponent("fanzha-serve")
        func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            let p = Process()
            p.executableURL = program
            p.arguments = arguments
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return (p.terminationStatus, stdout, stderr)
        }
        let bad = try run(["--port", "七十"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--port"), "\(bad.stderr)")
        let unknown = try run(["--no-such-flag"])
        #expect(unknown.status == 2)
        let help = try run(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: fanzha-serve"), "\(help.stdout)")
        let version = try run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout == "0.1.0\n")
    }

    @Test func refusesAnOpenAddressWithoutTokens() throws {
        let server = try ServeProcess(["--bind", "0.0.0.0"])
        _ = server.wait()
        #expect(server.process.terminationStatus == 2)
        #expect(server.stderr.contains("--tokens"))
    }
}
