import FanzhaTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// Runs the built `fanzha` (BuiltProducts finds it, for every test target).

enum Fanzha {
    static let root = BuiltProducts.packageRoot
    static let executable: String? = BuiltProducts.fanzha

    struct Outcome {
        let status: Int32
        let out: String
        let err: String
        var lines: [String] { out.split(separator: "\n").map(String.init) }
    }

    /// A started `fanzha` process (its output goes to files, so it never blocks on a pipe).
    static func start(_ arguments: [String], in dir: ScratchDirectory, name: String, stdin: Pipe? = nil) throws -> Process {
        let exe = try #require(executable, "the fanzha executable was not built")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env["USER"] = "tester"
        env.removeValue(forKey: "FANZHA_RULES")
        p.environment = env
        _ = FileManager.default.createFile(atPath: dir.path(name + ".out"), contents: nil)
        _ = FileManager.default.createFile(atPath: dir.path(name + ".err"), contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: dir.path(name + ".out"))
        p.standardError = FileHandle(forWritingAtPath: dir.path(name + ".err"))
        p.standardInput = stdin ?? FileHandle(forReadingAtPath: "/dev/null")
        try p.run()
        return p
    }

    static func run(_ arguments: [String], in dir: ScratchDirectory) throws -> Outcome {
        let name = "run-\(UUID().uuidString)"
        let p = try start(arguments, in: dir, name: name)
        p.waitUntilExit()
        let out = (try? String(contentsOfFile: dir.path(name + ".out"), encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: dir.path(name + ".err"), encoding: .utf8)) ?? ""
        return Outcome(status: p.terminationStatus, out: out, err: err)
    }
}
