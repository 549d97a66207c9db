import ArgumentParser
import Fanzha
import Foundation

// The thin shell over the Fanzha library: argument parsing, files and exit codes only.

#if canImport(Glibc)
import Glibc
#endif

struct FanzhaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanzha",
        abstract: "Screen SMS and call transcripts for telecom fraud (反诈), and say what to do about it.",
        discussion: "Exit status, like grep: 0 when some record reached the level, 1 when none did, 2 on error.",
        version: "0.1.0",
        subcommands: [Scan.self, Explain.self, Eval.self, Cases.self, Lint.self, Test.self, Fmt.self, Train.self])
}

signal(SIGPIPE, SIG_IGN)
do {
    var command = try FanzhaCommand.parseAsRoot()
    try command.run()
} catch {
    // swift-argument-parser exits 64 (EX_USAGE) on a bad flag or value; like grep, any error is 2.
    if FanzhaCommand.exitCode(for: error).rawValue == 64 {
        FileHandle.standardError.write(Data((FanzhaCommand.fullMessage(for: error) + "\n").utf8))
        exit(2)
    }
    FanzhaCommand.exit(withError: error)
}
