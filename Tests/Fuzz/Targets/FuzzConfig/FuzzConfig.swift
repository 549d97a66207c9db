import Foundation
import FanzhaReferrals
import FanzhaServer

// libFuzzer target: the configuration files a deployment writes by hand — the referral deadlines
// (`--deadlines FILE`: `high.call = 5m` lines) and the service's tokens (`--tokens FILE`:
// `NAME ROLE[,ROLE…] TOKEN` lines). The first input byte picks which one; the rest is the file.
// Any bytes give a table or an error that names the line, never a crash; every deadline read is a
// positive finite duration that `describe` can show.

func fuzzConfig(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    guard count > 0 else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: bytes + 1, count: count - 1), as: UTF8.self)
    if bytes[0] & 1 == 0 {
        do {
            let d = try Deadlines.parse(text, source: "fuzz.deadlines")
            for (_, path) in Deadlines.keys {
                let seconds = d[keyPath: path]
                precondition(seconds.isFinite && seconds > 0, "a deadline of \(seconds) s")
                _ = Deadlines.describe(seconds)
            }
        } catch {
            precondition("\(error)".contains("fuzz.deadlines:"), "an error that does not name the line: \(error)")
        }
    } else {
        do {
            let table = try TokenTable.parse(text, path: "fuzz.tokens")
            precondition(table.entries.allSatisfy { !$0.name.isEmpty && !$0.name.contains("#") }, "an entry without a name")
        } catch {
            precondition("\(error)".contains("fuzz.tokens:"), "an error that does not name the line: \(error)")
        }
    }
    return 0
}
