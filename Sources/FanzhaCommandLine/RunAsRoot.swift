import ArgumentParser
import Fanzha
import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension ParsableCommand {
    /// Parses the process's arguments, runs the command and exits with the statuses both
    /// executables promise (`runExiting`).
    package static func runAsRoot() -> Never {
        runExiting {
            var command = try parseAsRoot()
            try command.run()
        }
    }

    /// Runs `body` as the process's command and exits with the statuses both executables promise
    /// (grep's): a usage error is 2, not swift-argument-parser's 64 (EX_USAGE); `--help` and
    /// `--version` go through the checked writer and exit 0, so `--help > /dev/full` fails; a
    /// command's own status (`guarded`) as it is, with nothing printed; anything else as
    /// swift-argument-parser exits for it.
    package static func runExiting(_ body: () throws -> Void) -> Never {
        // A closed pipe downstream is a write error the output sink reports, not a signal.
        signal(SIGPIPE, SIG_IGN)
        do {
            try body()
            Glibc.exit(0)
        } catch let status as ExitCode where status.rawValue != 64 {
            // What `exit(withError:)` does for it, without building the usage text it then drops.
            Glibc.exit(status.rawValue)
        } catch {
            let code = exitCode(for: error).rawValue
            if code == 64 {
                OutputSink.stderr.write(fullMessage(for: error) + "\n")
                OutputSink.stderr.flush()
                Glibc.exit(2)
            }
            if code == 0, !(error is ExitCode) {
                let message = fullMessage(for: error)
                if !message.isEmpty { OutputSink.stdout.write(message + "\n") }
                OutputSink.stdout.close()
                Glibc.exit(0)
            }
            self.exit(withError: error)
        }
    }
}
