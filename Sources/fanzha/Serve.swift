import ArgumentParser
import Fanzha
import FanzhaCommandLine
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `fanzha serve`: the screening service (docs/SERVICE.md). Its command line is parsed and checked
/// here like every command's; then this process becomes `fanzha-serve`, the program beside this
/// one that holds the service (FanzhaServer, with Hummingbird and SwiftNIO), given the same
/// arguments. It is another program so that every other command starts without the server's
/// thousands of protocol conformances, which the Swift runtime walks on each first dynamic cast
/// (docs/BENCHMARKS.md, issue 22). The process stays the same one (`exec`): its id, standard
/// streams, signals and exit status are the service's.
struct Serve: ParsableCommand {
    static let configuration = ServeOptions.configuration

    @OptionGroup var options: ServeOptions

    /// The program `fanzha serve` runs, beside this executable (symbolic links resolved).
    static let programName = "fanzha-serve"

    func run() throws {
        try guarded {
            let arguments = CommandLine.arguments
            // The root command has no options of its own, so `serve` is the first argument.
            guard arguments.count >= 2, arguments[1] == Serve.configuration.commandName else {
                throw Failure("`serve` must be the first argument")
            }
            let program = Serve.siblingPath(Serve.programName)
            guard access(program, X_OK) == 0 else {
                throw Failure("cannot run \(program): `fanzha serve` needs the \(Serve.programName) program beside fanzha "
                              + "(`swift build` builds both; install them together)")
            }
            let argv = [program] + arguments.dropFirst(2)
            var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
            cArgs.append(nil)
            execv(program, &cArgs)
            throw Failure("cannot run \(program): \(String(cString: strerror(errno)))")
        }
    }

    /// `name` in the folder of the running executable.
    static func siblingPath(_ name: String) -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent(name).path
    }
}
