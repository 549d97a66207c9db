import FanzhaTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// Helpers for tests that need the package's files or a real `fanzha` process.

enum PackageFiles {
    static let root: URL = BuiltProducts.packageRoot

    static var rulesDirectory: String { root.appendingPathComponent("rules").path }
    static func corpus(_ name: String) -> String { root.appendingPathComponent("corpus").appendingPathComponent(name).path }

    static let fanzha: String? = BuiltProducts.fanzha
}

/// What a finished process left behind.
struct ProcessOutcome {
    let status: Int32
    /// False when the process was killed by a signal (a crash).
    let exited: Bool
    let stdout: Data
    let stderr: Data
    var out: String { String(decoding: stdout, as: UTF8.self) }
    var err: String { String(decoding: stderr, as: UTF8.self) }
    /// Non-empty stdout lines.
    var lines: [String] { out.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    var errLines: [String] { err.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
}

enum ProcessRunner {
    /// Writing into the stdin of a child that has already exited must not kill the test process.
    private static let ignoreSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN); return () }()

    /// Runs `executable` with `arguments`, feeding `stdin` (or /dev/null), collecting stdout and stderr.
    static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil,
                    environment: [String: String]? = nil, currentDirectory: URL? = nil) throws -> ProcessOutcome {
        _ = ignoreSIGPIPE
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = environment ?? ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        process.environment = env
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        let inPipe: Pipe?
        if stdin != nil {
            inPipe = Pipe()
            process.standardInput = inPipe
        } else {
            inPipe = nil
            process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        }
        try process.run()

        final class Box: @unchecked Sendable { var out = Data(); var err = Data() }
        let box = Box()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { box.out = outPipe.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { box.err = errPipe.fileHandleForReading.readDataToEndOfFile() }
        if let inPipe, let stdin {
            let fd = inPipe.fileHandleForWriting.fileDescriptor
            DispatchQueue.global().async(group: group) {
                stdin.withUnsafeBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                        if n < 0 { if errno == EINTR { continue }; break }  // EPIPE: the child stopped reading
                        offset += n
                    }
                }
                try? inPipe.fileHandleForWriting.close()
            }
        }
        group.wait()
        process.waitUntilExit()
        return ProcessOutcome(status: process.terminationStatus, exited: process.terminationReason == .exit,
                              stdout: box.out, stderr: box.err)
    }

    /// Runs the built `fanzha` with a clean environment (no FANZHA_RULES).
    static func fanzha(_ arguments: [String], stdin: Data? = nil, currentDirectory: URL? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessOutcome {
        let exe = try #require(PackageFiles.fanzha, "the fanzha executable was not built", sourceLocation: sourceLocation)
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "FANZHA_RULES")
        return try run(exe, arguments, stdin: stdin, environment: env, currentDirectory: currentDirectory)
    }

    static func fanzha(_ arguments: [String], input: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessOutcome {
        try fanzha(arguments, stdin: Data(input.utf8), sourceLocation: sourceLocation)
    }
}

/// A fresh temporary directory, removed when the value goes away.
final class TemporaryDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("fanzha-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try write(name, Data(text.utf8))
    }

    @discardableResult
    func write(_ name: String, _ data: Data) throws -> String {
        let u = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: u)
        return u.path
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}
