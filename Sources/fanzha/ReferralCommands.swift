import ArgumentParser
import Fanzha
import FanzhaCommandLine
import FanzhaReferrals
import Foundation

// `fanzha referrals …`: the 96110 referral cases in a SQLite file (docs/REFERRALS.md), and the
// `scan --refer` hook that opens them. The store and the workflow are in FanzhaReferrals.

struct Referrals: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "referrals",
        abstract: "Work the 96110 referral cases that `scan --refer DB` opens: list, show, claim, call, visit, close, report.",
        discussion: """
        Every warning at or above --refer-level becomes a case (or joins the person's open case). A case moves \
        new → (sms) | (claim → calling → call --result reached/unreached) → (visit → visit --done) → close --outcome; \
        every step is kept in its history. Deadlines per tier: high call 5m and visit 30m, medium call 30m, low SMS 24h \
        (--deadlines FILE or --deadline KEY=DURATION change them). See docs/REFERRALS.md.
        """,
        subcommands: [List.self, Show.self, Claim.self, SMS.self, Call.self, Visit.self, Close.self, Note.self, Reopen.self,
                      Overdue.self, Export.self, Report.self])
}

/// The database and the deadlines every `referrals` command takes.
struct StoreOptions: ParsableArguments {
    @Argument(help: "The referral database (SQLite; `scan --refer` creates it).") var database: String
    @Option(help: "A deadlines file: `KEY = DURATION` lines, KEY one of high.call, high.visit, medium.call, low.sms (e.g. `high.call = 5m`).") var deadlines: String?
    @Option(help: ArgumentHelp("One deadline, on top of the file (repeatable): high.call=5m.", valueName: "key=duration")) var deadline: [String] = []

    /// The store; the file must exist (`scan --refer` creates it), so a mistyped name is an error.
    func open() throws -> ReferralStore {
        if !FileManager.default.fileExists(atPath: database) { throw Failure("\(database): no such file") }
        var d = Deadlines()
        do {
            if let deadlines {
                guard let data = FileManager.default.contents(atPath: deadlines) else { throw Failure("\(deadlines): cannot read") }
                d = try Deadlines.parse(String(decoding: data, as: UTF8.self), source: deadlines)
            }
            for a in deadline { try d.set(a) }
            return try ReferralStore(path: database, deadlines: d)
        } catch let e as ReferralError { throw Failure(e.description) }
    }
}

/// Who takes a step: `--by`, else the login name.
struct ActorOptions: ParsableArguments {
    @Option(help: "Who takes the step (default: $USER).") var by: String?
    @Option(help: "A note for the history.") var note: String?
    var actor: String { by ?? ProcessInfo.processInfo.environment["USER"] ?? "unknown" }
}

/// Runs a store call, turning its typed errors into `fanzha: …` and exit 2.
func referralsGuarded<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ReferralError { throw Failure(e.description) }
}

/// Filters shared by `list` and `export`.
struct CaseFilterOptions: ParsableArguments {
    @Option(help: "Only cases in this state (repeatable): new, calling, sms_sent, reached, unreached, visit_requested, visited, closed.") var state: [String] = []
    @Option(help: "Only cases of this tier (repeatable): low, medium, high.") var tier: [String] = []
    @Option(help: "Only cases of this category (repeatable).") var category: [String] = []
    @Option(help: "Only closed cases with this outcome (repeatable): dissuaded, already_paid, not_reachable, false_alarm, duplicate.") var outcome: [String] = []
    @Option(help: "Only cases assigned to this officer.") var assignee: String?
    @Option(help: "Only the cases of this person.") var subject: String?
    @Flag(help: "Only cases with something overdue now.") var overdue = false
    @Flag(name: .customLong("open"), help: "Only cases not closed.") var openOnly = false
    @Option(help: "At most this many cases (the oldest first).") var limit: Int?

    func filter() throws -> CaseFilter {
        var f = CaseFilter()
        func parse<T: RawRepresentable>(_ values: [String], _ flag: String) throws -> [T] where T.RawValue == String, T: CaseIterable {
            try values.map { v in
                guard let x = T(rawValue: v) else { throw Failure("unknown \(flag) `\(v)` (\(T.allCases.map(\.rawValue).joined(separator: ", ")))") }
                return x
            }
        }
        f.states = try parse(state, "--state")
        f.tiers = try parse(tier, "--tier")
        f.outcomes = try parse(outcome, "--outcome")
        f.categories = category
        f.assignee = assignee
        f.subject = subject
        f.overdueOnly = overdue
        f.openOnly = openOnly
        if let limit, limit < 1 { throw Failure("--limit must be at least 1") }
        f.limit = limit
        return f
    }
}

extension Referrals {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List cases (oldest first). Exit status 0 when some case is listed, 1 when none, 2 on error.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var filters: CaseFilterOptions
        @Option(help: "Output: text, jsonl or tsv.") var format: String = "text"

        func run() throws {
            try guarded {
                guard let fmt = OutputFormat(rawValue: format) else { throw Failure("unknown --format `\(format)` (text, jsonl, tsv)") }
                let s = try store.open()
                let cases = try referralsGuarded { try s.list(try filters.filter()) }
                try printCases(cases, format: fmt)
                return cases.isEmpty ? 1 : 0
            }
        }
    }

    struct Overdue: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "overdue",
            abstract: "List the open cases with a deadline passed. Exit status 0 when something is overdue (for cron and alerting), 1 when nothing is, 2 on error.")
        @OptionGroup var store: StoreOptions
        @Option(help: "Output: text, jsonl or tsv.") var format: String = "text"
        @Flag(name: .shortAndLong, help: "Print nothing; the exit status alone says whether something is overdue.") var quiet = false

        func run() throws {
            try guarded {
                guard let fmt = OutputFormat(rawValue: format) else { throw Failure("unknown --format `\(format)` (text, jsonl, tsv)") }
                let s = try store.open()
                // -q needs only to know whether one case is overdue.
                var first = CaseFilter()
                first.overdueOnly = true
                first.limit = 1
                let cases = try referralsGuarded { quiet ? try s.list(first) : try s.overdue() }
                if !quiet { try printCases(cases, format: fmt) }
                return cases.isEmpty ? 1 : 0
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "One case: its evidence marked as in `explain`, its history, and the steps allowed now.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The case number.") var id: Int64
        @Option(help: "Output: text or jsonl.") var format: String = "text"

        func run() throws {
            try guarded {
                let s = try store.open()
                let c = try referralsGuarded { try s.case(id) }
                let out = OutputSink.stdout
                switch format {
                case "jsonl": out.line(bytes: ReferralExport.json(c, now: Date(), redact: nil))
                case "text": out.write(ReferralShow.render(c, now: Date(), colour: useColour(out)))
                default: throw Failure("unknown --format `\(format)` (text, jsonl)")
                }
                return 0
            }
        }
    }

    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "report",
            abstract: "Per tier and per category: cases, median minutes to first contact, deadlines met, dissuaded, already paid, false alarms; false alarms per rule.")
        @OptionGroup var store: StoreOptions
        @Option(help: "Output: text or json.") var format: String = "text"

        func run() throws {
            try guarded {
                let r = try referralsGuarded { try store.open().report() }
                switch format {
                case "text": OutputSink.stdout.write(ReferralReportText.render(r))
                case "json": OutputSink.stdout.line(ReferralReportText.json(r))
                default: throw Failure("unknown --format `\(format)` (text, json)")
                }
                return 0
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Cases for analysts: CSV (one row per warning), JSON Lines (one case per line), or `eval` (labelled records `fanzha eval` reads).",
            discussion: """
            Phone numbers, cards, IDs, accounts and links are redacted as in the lecture handouts unless --no-redact \
            (authorised use only). --format eval writes one record per screened message or call of closed cases: \
            false_alarm as label `benign`, dissuaded and already_paid as `scam`; by default \
            only those outcomes.
            """)
        @OptionGroup var store: StoreOptions
        @OptionGroup var filters: CaseFilterOptions
        @Option(help: "Output: csv, jsonl or eval.") var format: String = "jsonl"
        @Flag(help: "Keep phone numbers, cards, IDs and links (authorised use only).") var noRedact = false
        @Option(name: .shortAndLong, help: "Write to this file (default: standard output).") var output: String?

        func run() throws {
            try guarded {
                guard ["csv", "jsonl", "eval"].contains(format) else { throw Failure("unknown --format `\(format)` (csv, jsonl, eval)") }
                var filter = try filters.filter()
                if format == "eval" && filter.outcomes.isEmpty { filter.outcomes = [.falseAlarm, .dissuaded, .alreadyPaid] }
                let cases = try referralsGuarded { try store.open().details(filter) }
                let redactor: Redactor? = noRedact ? nil : Redactor()
                let now = Date()
                var lines: [[UInt8]] = []
                switch format {
                case "csv":
                    lines.append(Array(ReferralExport.csvHeader.utf8))
                    for c in cases { lines += ReferralExport.csvRows(c, redactor: redactor).map { Array($0.utf8) } }
                case "eval":
                    for c in cases { lines += ReferralExport.evalLines(c, redactor: redactor) }
                default:
                    for c in cases { lines.append(ReferralExport.json(c, now: now, redact: redactor)) }
                }
                if let output, output != "-" {
                    var data = Data()
                    for l in lines { data.append(contentsOf: l); data.append(0x0A) }
                    do { try data.write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
                        throw Failure("\(output): cannot write (\(error.localizedDescription))")
                    }
                } else {
                    for l in lines { OutputSink.stdout.line(bytes: l) }
                }
                OutputSink.stderr.line("fanzha: \(cases.count) case\(cases.count == 1 ? "" : "s") exported\(redactor == nil ? " (not redacted)" : "")")
                return 0
            }
        }
    }
}

/// Prints case summaries as `list` and `overdue` do.
func printCases(_ cases: [CaseSummary], format: OutputFormat) throws {
    let out = OutputSink.stdout
    let now = Date()
    switch format {
    case .text: for c in cases { out.line(ReferralText.line(c, now: now)) }
    case .tsv:
        out.line(ReferralText.tsvHeader)
        for c in cases { out.line(ReferralText.tsv(c, now: now)) }
    case .jsonl: for c in cases { out.line(bytes: ReferralText.json(c, now: now)) }
    }
}

// MARK: - Steps

/// Takes one step and prints `case N: from → to`.
func takeStep(_ options: StoreOptions, _ id: Int64, _ step: Step, actor: ActorOptions, note: String? = nil) throws {
    let s = try options.open()
    let before = try referralsGuarded { try s.case(id).summary.state }
    let after = try referralsGuarded { try s.apply(step, to: id, actor: actor.actor, note: note ?? actor.note) }
    OutputSink.stdout.line("case \(id): \(before.rawValue) → \(after.rawValue)")
}

extension Referrals {
    struct Claim: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "claim", abstract: "Take a case (a medium or high case starts `calling`).")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The case number.") var id: Int64
        @OptionGroup var actor: ActorOptions
        func run() throws { try guarded { try takeStep(store, id, .claim(assignee: actor.actor), actor: actor); return 0 } }
    }

    struct SMS: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "sms", abstract: "The 12381 warning SMS was sent (low tier).")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The case number.") var id: Int64
        @OptionGroup var actor: ActorOptions
        func run() throws { try guarded { try takeStep(store, id, .sms, actor: actor); return 0 } }
    }

    struct Call: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "call", abstract: "A 96110 call was made: the person was reached, or not.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The case number.") var id: Int64
        @Option(help: "reached or unreached.") var result: String
        @OptionGroup var actor: ActorOptions
        func run() throws {
            try guarded {
                guard result == "reached" || result == "unreached" else { throw Failure("unknown --result `\(result)` (reached, unreached)") }
                try takeStep(store, id, .call(reached: result == "reached"), actor: actor)
                return 0
            }
        }
    }

    struct Visit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "visit",
            abstract: "Request a visit by the local police station (unreached, or still deceived); with --done, the visit took place.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The case number.") var id: Int64
        @Flag(help: "The visit took place.") var done = false
        @OptionGroup var actor: ActorOptions
        func run() throws { try guarded { try takeStep(store, id, done ? .visitDone : .requestVisit, actor: actor); return 0 } }
    }

    struct Close: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "close", abstract: "Close a case with its outcome.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The case number.") var id: Int64
        @Option(help: "dissuaded, already_paid, not_reachable, false_alarm or duplicate.") var outcome: String
        @Option(help: "already_paid: the 110 stop-payment / freeze step taken (reference, time).") var stopPayment: String?
        @OptionGroup var actor: ActorOptions
        func run() throws {
            try guarded {
                guard let o = Outcome(rawValue: outcome) else {
                    throw Failure("unknown --outcome `\(outcome)` (\(Outcome.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                try takeStep(store, id, .close(o, stopPayment: stopPayment), actor: actor)
                return 0
            }
        }
    }

    struct Note: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "note", abstract: "Add a note to a case's history (any state).")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The case number.") var id: Int64
        @Argument(help: "The note.") var text: String
        @Option(help: "Who writes it (default: $USER).") var by: String?
        func run() throws {
            try guarded {
                var a = ActorOptions()
                a.by = by
                try takeStep(store, id, .note, actor: a, note: text)
                return 0
            }
        }
    }

    struct Reopen: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "reopen", abstract: "Open a closed case again (from `new`, its deadlines counted from now).")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The case number.") var id: Int64
        @OptionGroup var actor: ActorOptions
        func run() throws { try guarded { try takeStep(store, id, .reopen, actor: actor); return 0 } }
    }
}

// MARK: - scan --refer

/// `scan --refer DB`: every record at or above --refer-level opens or joins a case.
extension Referrer {
    /// `scan --refer DB` (with --refer-level, --subject-field, --counterparty-field): nil without --refer.
    static func forScan(refer: String?, referLevel: String, subjectField: String?, counterpartyField: String?, rules: RuleSet) throws -> Referrer? {
        guard let refer else { return nil }
        guard let level = Level(name: referLevel), level != .none else { throw Failure("unknown --refer-level `\(referLevel)` (low, medium, high)") }
        let store = try referralsGuarded { try ReferralStore(path: refer) }
        return Referrer(store: store, level: level, rules: rules, subjectField: subjectField, counterpartyField: counterpartyField)
    }
}

/// Turns verdicts and live alerts into referrals. `warning` runs on the scan's workers; `refer`,
/// `see` and `alert` on the thread that delivers output, in input order.
final class Referrer: @unchecked Sendable {
    let store: ReferralStore
    let level: Level
    let rules: RuleSet
    let subjectField: String?
    let counterpartyField: String?
    private var counts: [String: Int] = [:]

    init(store: ReferralStore, level: Level, rules: RuleSet, subjectField: String?, counterpartyField: String?) {
        self.store = store
        self.level = level
        self.rules = rules
        self.subjectField = subjectField
        self.counterpartyField = counterpartyField
    }

    func wants(_ level: Level) -> Bool { level >= self.level }

    /// The warning of a verdict at the referral level. A record known only by its line number
    /// (plain text) is known by `file:line`, so two files' line 3 are two records.
    func warning(_ v: Verdict, _ record: Record) -> Warning? {
        guard wants(v.level), record.inputError == nil else { return nil }
        let key = record.origin == "\(record.originFile):\(record.id)" ? record.origin : record.id
        return Warning(verdict: v, record: record, rules: rules, recordKey: key, subjectField: subjectField, counterpartyField: counterpartyField)
    }

    /// The first batch that could not be written: the scan ends with it (exit 2).
    private var failure: Error?

    /// Refers a batch in one transaction. After a failure nothing more is written.
    func refer(_ warnings: [Warning]) {
        guard !warnings.isEmpty, failure == nil else { return }
        do {
            for r in try referralsGuarded({ try store.refer(warnings, actor: "fanzha scan") }) { count(r) }
        } catch {
            failure = error
        }
    }

    /// At the end of a scan: the counts on stderr, or the failure.
    func finish() throws {
        if let failure { throw failure }
        OutputSink.stderr.line("fanzha: \(summary)")
    }

    private func count(_ r: ReferralStore.Referred) {
        switch r {
        case .opened: counts["opened", default: 0] += 1
        case .joined, .recordedOnClosed: counts["joined", default: 0] += 1
        case .escalated: counts["escalated", default: 0] += 1
        case .reopened: counts["reopened", default: 0] += 1
        case .unchanged: counts["unchanged", default: 0] += 1
        case .extended: counts["extended", default: 0] += 1
        }
    }

    /// For stderr at the end: `referrals: 3 opened, 1 joined, … (cases.db)`.
    var summary: String {
        var parts = ["opened", "joined", "escalated", "reopened", "unchanged"].map { "\(counts[$0, default: 0]) \($0)" }
        if let n = counts["extended"] { parts.append("\(n) extended (a live call's evidence grown to the whole call)") }
        return "referrals: \(parts.joined(separator: ", ")) (\(store.path))"
    }

    /// Live calls: the library's `LiveCallReferrals` (shared with `fanzha serve`) makes the warnings.
    private lazy var live = LiveCallReferrals(level: level, subjectField: subjectField, counterpartyField: counterpartyField)

    /// An input event line, before the screener handles it.
    func see(event line: ArraySlice<UInt8>) { live.see(eventLine: line) }

    /// A live alert: at the referral level it opens or escalates the call's case at once, with
    /// the turns the call has so far and every rule that has fired in it.
    func alert(_ a: CallAlert, source: String) throws {
        guard let w = live.alert(a, origin: "\(source): call \(a.call)") else { return }
        count(try referralsGuarded { try store.refer(w, actor: "fanzha scan (live)") })
    }

    /// A call's final verdict: refers the whole call (unchanged when an alert already did at its
    /// level, extended to the whole call when the alert had fewer turns).
    func final(_ f: CallFinal, source: String) throws {
        guard let w = live.final(f, origin: "\(source): call \(f.call)") else { return }
        count(try referralsGuarded { try store.refer(w, actor: "fanzha scan (live)") })
    }
}
