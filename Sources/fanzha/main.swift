import ArgumentParser
import Fanzha
import FanzhaCommandLine
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
        subcommands: [Scan.self, Explain.self, Eval.self, Cases.self, Referrals.self, Lint.self, Compile.self, Test.self, Fmt.self, Train.self, Serve.self])
}

// Bare `fanzha`: usage on stderr and exit 2, as grep does with no pattern.
if CommandLine.arguments.count == 1 {
    OutputSink.stderr.write(FanzhaCommand.helpMessage() + "\n")
    OutputSink.stderr.flush()
    exit(2)
}
// An ordinary `fanzha scan` command line is read directly, without swift-argument-parser's
// reflection (start-up, issue 22: ScanCommandLine); any other, as every other command, is its.
if let settings = ScanCommandLine.read(CommandLine.arguments.dropFirst()) {
    FanzhaCommand.runExiting { try guarded { try settings.run() } }
}
FanzhaCommand.runAsRoot()
