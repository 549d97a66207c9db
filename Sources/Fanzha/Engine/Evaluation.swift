// One evaluation of the rules on one record: what it holds while it runs. Its work is spread
// over the files that follow the pipeline: Prefilter (which rules and regexes may run), Atoms
// (where each atom occurs), Conditions (the interpreter and the `near`/`then` pair join),
// Frames, Scoring (the decision and the verdict) and Evidence (spans in the original text).

extension Screener {
    /// One evaluation of the rules on the first `turnLimit` turns of a record.
    ///
    /// It refers to the screener and the record `unowned(unsafe)` and to the program by pointer:
    /// the caller keeps them alive for the evaluation's whole (short, synchronous) life, and
    /// counting references to objects all workers share would make the cores fight over the
    /// same cache lines on every record. It owns the screener's workspace while it runs (swapped
    /// in, so no array is copied); `release()` hands it back.
    struct Evaluation {
        // The screener's value types, by their short names in the extensions that do the work.
        typealias Occurrence = Screener.Occurrence
        typealias Occurrences = Screener.Occurrences
        typealias Evidence = Screener.Evidence
        typealias PreparedTurn = Screener.PreparedTurn

        unowned(unsafe) let screener: Screener
        unowned(unsafe) let prepared: Prepared
        /// The shared program, read in place: no copy, no reference counting per record.
        let program: UnsafePointer<Program>
        var ws: Workspace
        let turnLimit: Int
        let usePrefilter: Bool
        var errors: [String] = []
        var failedAtoms = Set<Int>()
        var currentRule = 0
        /// The kinds of frame (bits of `FrameKinds`) whose text the rule being evaluated does not
        /// read: its atoms' occurrences inside such frames are left out.
        var blindness: UInt8 = 0
        /// The sides with a turn here.
        var sidesPresent: Side = []
        /// The model's margin and evidence on this record, per scope mask, once asked for (Model/ModelCondition.swift).
        var modelCache = ModelCache()
        /// The evidence of this record's hits, made at the first (Evidence.swift).
        var evidenceTable: EvidenceTable?
        /// A live call's candidate rules, one bit per rule, when its hits were placed from those it
        /// keeps (Calls/LiveWordHits.swift); nil otherwise. The call's memory, which the
        /// evaluation only reads.
        var liveCandidateRules: UnsafeMutableBufferPointer<UInt64>?
        /// Where the prefilter's clauses are marked, and the mark that says a clause holds
        /// (`candidate`, `atomCandidate`, `nextKid`): the workspace's `clauseStamp` and
        /// `markGeneration` for a record; a live call's own table and `CallWordHits.clauseHolds`
        /// when its hits were placed from those it keeps (Calls/LiveWordHits.swift), so that an
        /// event does not stamp again every clause of every word the call has held.
        var clauseMarks: UnsafeMutablePointer<UInt8>?
        var clauseMark: UInt8 = 0
        /// Where the atoms' runs of word hits are (`Workspace.atomHitRuns`): the workspace's
        /// `atomHits` for a record, a live call's own runs (`CallWordHits.placed`) when its hits
        /// were placed from those it keeps, read and sorted in place.
        var atomHits: UnsafeMutablePointer<Evidence>?
        /// A one-turn record's (a message's) normalised bytes, for the regexes' literal gates
        /// (Atoms.swift); nil for more turns. The buffer of a `let` array of the record's text,
        /// which the record keeps unchanged for the evaluation's life: read here once, it spares
        /// each gate check the reads of `prepared.turns` and of the turn (about 20 reference counts).
        let oneTurnBytes: UnsafeBufferPointer<UInt8>?
        /// That record's `ScalarBits`: the message's, written with its text (`Prepared.messageScalarBits`),
        /// or else once made (`scalarBits(ofTurn: 0)`), for the gates it checks next: neither
        /// moves during an evaluation, and asking `scalarBits` again cost about 75 instructions a
        /// gate (tens of thousands of gates turn a regex away per 10,000 records).
        var oneTurnScalars: UnsafePointer<UInt64>?
        /// A live call's turns' `ScalarBits`, kept with the call (Calls/LiveScalarBits.swift):
        /// turn `t`'s at `t * ScalarBits.words`; nil when the call does not hold them all.
        let liveScalars: UnsafePointer<UInt64>?
        /// A live call's memo (`prepared.regexMemo`) and its turns' clauses, read once: the record
        /// keeps them for the evaluation's life, and each read through `prepared` counted
        /// references (two a turn a regex asks about, Calls/LiveTurnClauses.swift). `Unmanaged`,
        /// as `unowned(unsafe)` still retained the clauses around each question, and the memo
        /// around each regex's look-up in it.
        let liveMemo: Unmanaged<RegexMemo>?
        let liveTurnClauses: Unmanaged<CallTurnClauses>?

        /// Inlined: made out of line, the evaluation (920 bytes) was built in the initialiser's
        /// frame and copied to the caller's, then again into its variable.
        @inline(__always)
        init(screener: Screener, prepared: Prepared, turnLimit: Int) {
            self.screener = screener
            self.prepared = prepared
            self.turnLimit = turnLimit
            self.program = UnsafePointer(screener.matcher.programPointer)
            self.usePrefilter = screener.usePrefilter
            precondition(!screener.workspaceTaken, "one evaluation at a time per screener")
            screener.workspaceTaken = true
            ws = screener.workspaceStore.move()
            ws.begin(screener.rules, clauses: program.pointee.clauseTotal)
            clauseMarks = ws.clauseStamp.buffer.baseAddress
            clauseMark = ws.markGeneration
            ws.sides.reset(count: turnLimit, to: [])
            // The record's arrays read once (each read of a class's property is checked for
            // exclusive access at run time).
            let turns = prepared.turns
            oneTurnBytes = turnLimit == 1 ? turns[0].text.bytes.withUnsafeBufferPointer { $0 } : nil
            oneTurnScalars = turnLimit == 1 ? prepared.messageScalarBits : nil
            let memo = prepared.regexMemo
            liveMemo = memo.map { Unmanaged.passUnretained($0) }
            liveTurnClauses = memo.map { Unmanaged.passUnretained($0.turnClauses) }
            liveScalars = memo?.scalarBits.sets(ofTurns: prepared.firstTurnNumber, prepared.firstTurnNumber + turnLimit)
            for t in 0..<turnLimit {
                let side = turns[t].turn.side
                ws.sides[t] = side
                sidesPresent.formUnion(side)
            }
            placeWordHits()
        }

        /// Hands the workspace back to the screener for the next record: moved, as it was taken
        /// (assigning `ws` itself would retain its arrays for the screener's copy and release them
        /// again with the evaluation's, about 500 instructions a record), and an empty
        /// `Workspace()`, which allocates nothing, left in its place; the evaluation does not read
        /// `ws` after this.
        mutating func release() {
            withUnsafeMutablePointer(to: &ws) { mine in
                screener.workspaceStore.moveInitialize(from: mine, count: 1)
                mine.initialize(to: Workspace())
            }
            screener.workspaceTaken = false
        }
    }
}
