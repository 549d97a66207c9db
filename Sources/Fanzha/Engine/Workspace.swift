// The evaluation's memory: the plain values it works with (occurrences, their evidence, frame
// spans) and the per-worker tables reused from record to record, so that screening a record
// allocates next to nothing. The tables live in `Screener.workspaceStore`; an `Evaluation` owns them
// while it runs.

extension Screener {
    /// A place in one turn, in normalised bytes; turn -1 means "true, but nowhere" (from `not`).
    /// Its evidence is `arena[evStart ..< evStart + evCount]` of the workspace: plain values, no
    /// array per occurrence.
    struct Occurrence {
        var turn: Int32
        var start: Int32
        var end: Int32
        var evStart: Int32
        var evCount: Int32
        static let nowhere = Occurrence(turn: -1, start: 0, end: 0, evStart: 0, evCount: 0)
    }
    struct Evidence: Hashable { var turn: Int32; var start: Int32; var end: Int32 }
    /// A frame in one turn: normalised bytes `start ..< end` (what atoms are checked against) and
    /// the original text's scalars `originalStart ..< originalEnd` (what the verdict reports).
    struct FrameSpan: Equatable {
        var turn: Int32, start: Int32, end: Int32, kind: UInt8, originalStart: Int32, originalEnd: Int32, rule: Int32
    }

    /// A node's result: the occurrences `occ[start ..< start + count]` of the workspace. Results
    /// are ranges of one arena, so evaluating a condition allocates nothing per node.
    struct Occurrences {
        var start: Int32
        var count: Int32
        var isEmpty: Bool { count == 0 }
        static let none = Occurrences(start: 0, count: 0)
        /// The workspace keeps `Occurrence.nowhere` at index 0.
        static let nowhere = Occurrences(start: 0, count: 1)
    }

    /// Occurrence lists are capped: enough for evidence and counts, never a combinatorial blow-up.
    static let occurrenceCap = 256
    /// At most this many occurrences of one atom per turn are taken, the same with the automaton
    /// and with PCRE2 (so the prefilter never changes a verdict), however many a hostile text holds.
    static let matchesPerTurn = 4096

    /// Where an atom's word hits are in the evaluation's `atomHits` (the workspace's, or a live
    /// call's own), and whether they are sorted yet. One entry, not three tables: placing a
    /// record's hits writes all three fields of each atom it touches (about 12 a record, at
    /// random over every atom), a cache line each.
    struct AtomHitRun {
        var first: Int32
        var count: Int32
        var sorted: Bool
    }

    /// Per-worker memory reused from record to record; a generation number marks what is current.
    /// A struct the evaluation owns while it runs (moved out of the screener and back), so the
    /// hot loop touches plain arrays, not properties of a shared object.
    struct Workspace {
        var generation: UInt32 = 0
        /// Per word present and per clause of the prefilter that a word of this record satisfies:
        /// `markGeneration` when it holds for this record. A byte each, not the generation's four:
        /// a record's ~11 distinct words stamp about 300 clauses at random over every clause of
        /// the rule set, and the words are read at random over the whole vocabulary, each
        /// stamp a cache line of its own; a quarter of the memory keeps more of them in the
        /// caches from record to record.
        var wordStamp = Arena<UInt8>()
        var clauseStamp = Arena<UInt8>()
        /// The generation `wordStamp`, `clauseStamp` and `atomHitStamp` are marked with: counts
        /// with `generation` but wraps after 255 records, when all three are cleared (`begin`).
        var markGeneration: UInt8 = 0
        /// Per atom and rule (×4 scopes): the generation that last wrote the entry.
        /// Plain buffers (`Arena`), like every table here: no copy-on-write check per write.
        var atomStamp = Arena<UInt32>()
        var atomResult = Arena<Occurrences>()
        var ruleStamp = Arena<UInt32>()
        var ruleResult = Arena<Occurrences>()
        /// Every occurrence made while evaluating one record (index 0: `nowhere`).
        var occ = Arena<Occurrence>()
        var arena = Arena<Evidence>()
        /// Results of a node's children while it combines them (a stack: nodes nest).
        var stack = Arena<Occurrences>()
        /// The candidate rules being collected, one bit per rule: cleared and marked from the
        /// record's words by `placeWordHits`, read by `collectCandidates` (a live call keeps its own).
        var ruleBits = Arena<UInt64>()
        /// The candidate rules, in rule order (an arena: emptying an array cost about 120
        /// instructions a record).
        var candidates = Arena<Int32>()
        /// Whether the prefilter's index (or a rule no word can rule out) named any rule, before
        /// each was checked against its other clauses: frames are found only then (a record no
        /// rule can be tried on has none), whether or not one passed that check.
        var indexedAny = false
        /// The automaton's hits per atom, `atomHits[atomHitRuns[a].first ..< atomHitRuns[a].first +
        /// atomHitRuns[a].count]` (placed by counting, not by sorting: an atom's run is in turn
        /// order, sorted within a turn when the atom is first asked for, `AtomHitRun.sorted`), for
        /// the atoms marked with `markGeneration` in `atomHitStamp` (a byte each, as the words'
        /// and clauses': the conditions' word-list children read it at random over every atom).
        /// A live call's runs are its own (Calls/LiveWordHits.swift, `Evaluation.atomHits`).
        var atomHits = Arena<Evidence>()
        var atomHitStamp = Arena<UInt8>()
        var atomHitRuns = Arena<AtomHitRun>()
        /// The atoms with hits in this record.
        var touchedAtoms = Arena<Int32>()
        /// Per turn, its side.
        var sides = Arena<Side>()
        /// The byte offset of each scalar of a turn's original text (and its length last), for
        /// evidence text: per turn that holds evidence, the generation that found them, where they
        /// start in `scalarBytes` and how many there are (Evidence.swift, `scalarOffsets`).
        var scalarBytes = Arena<Int32>()
        var scalarBytesStamp = Arena<UInt32>()
        var scalarBytesFirst = Arena<Int32>(), scalarBytesCount = Arena<Int32>()
        /// Per turn, its scalar bitmap for the literal gates (`ScalarBits`), and the generation
        /// that made it.
        var scalarBits = Arena<UInt64>()
        var scalarBitsStamp = Arena<UInt32>()
        /// Per turn, its normalised bytes once a regex has read them (`turnBytes`), and the
        /// generation that read them.
        var turnBytes = Arena<UnsafeBufferPointer<UInt8>>()
        var turnBytesStamp = Arena<UInt32>()
        var categoryScores: [Int] = []
        var categoryHit: [Bool] = []
        /// A hit's evidence while it is sorted and merged.
        var evidence = Arena<Evidence>()
        /// The right-hand occurrences of a `near`/`then` pair search, in text order, and those
        /// one left-hand occurrence pairs with.
        var order = Arena<Int32>()
        var accepted = Arena<Int32>()
        /// The frames found in this record (RULES.md, Frames): each a sentence, or a whole message.
        var frames: [FrameSpan] = []
        /// The public rules that fired, for a live call's decision state (LiveDecision.swift).
        var fired: [Int32] = []

        /// Starts a record: a new generation, tables sized for `rules`, the arenas emptied.
        mutating func begin(_ rules: RuleSet, clauses: Int) {
            generation &+= 1
            let wrapped = generation == 0
            if wrapped { generation = 1 }   // forget every stamp below
            markGeneration &+= 1
            let marksWrapped = markGeneration == 0
            if marksWrapped { markGeneration = 1 }   // forget every mark below
            if marksWrapped || clauseStamp.count != clauses { clauseStamp.reset(count: clauses, to: 0) }
            if wrapped {
                scalarBitsStamp.reset(count: scalarBitsStamp.count, to: 0)
                turnBytesStamp.reset(count: turnBytesStamp.count, to: 0)
                scalarBytesStamp.reset(count: scalarBytesStamp.count, to: 0)
            }
            if marksWrapped || wordStamp.count != rules.wordCount { wordStamp.reset(count: rules.wordCount, to: 0) }
            let atoms = rules.atoms.count
            if marksWrapped || atomHitStamp.count != atoms { atomHitStamp.reset(count: atoms, to: 0) }
            if wrapped || atomStamp.count != atoms {
                atomStamp.reset(count: atoms, to: 0)
                atomResult.reset(count: atoms, to: .none)
                atomHitRuns.reset(count: atoms, to: AtomHitRun(first: 0, count: 0, sorted: false))
            }
            let count = rules.rules.count
            if ruleBits.count != (count + 63) >> 6 { ruleBits.reset(count: (count + 63) >> 6, to: 0) }
            // A rule's result per scope (4 sets of sides) and per kinds of frame it cannot read (16).
            if wrapped || ruleStamp.count != count * 64 {
                ruleStamp.reset(count: count * 64, to: 0)
                ruleResult.reset(count: count * 64, to: .none)
            }
            scalarBytes.removeAll()
            if !frames.isEmpty { frames.removeAll(keepingCapacity: true) }   // as `findFrames` does
            occ.removeAll()
            occ.append(.nowhere)
            arena.removeAll()
            stack.removeAll()
        }

        /// Every category's score 0 and not hit, for `count` categories: cleared in place
        /// (emptying the arrays and appending a repeated value took about 450 instructions a
        /// verdict, through the generic `append(contentsOf:)`).
        mutating func clearCategories(_ count: Int) {
            guard categoryScores.count == count && categoryHit.count == count else {
                categoryScores = Array(repeating: 0, count: count)
                categoryHit = Array(repeating: false, count: count)
                return
            }
            categoryScores.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            categoryHit.withUnsafeMutableBufferPointer { $0.update(repeating: false) }
        }

        func deallocate() {
            wordStamp.deallocate(); clauseStamp.deallocate(); atomStamp.deallocate(); atomResult.deallocate()
            ruleStamp.deallocate(); ruleResult.deallocate(); occ.deallocate(); arena.deallocate(); stack.deallocate()
            ruleBits.deallocate(); atomHits.deallocate(); atomHitStamp.deallocate(); atomHitRuns.deallocate()
            touchedAtoms.deallocate(); sides.deallocate(); scalarBytes.deallocate()
            scalarBytesStamp.deallocate(); scalarBytesFirst.deallocate(); scalarBytesCount.deallocate()
            scalarBits.deallocate(); scalarBitsStamp.deallocate(); evidence.deallocate(); order.deallocate(); accepted.deallocate()
            candidates.deallocate(); turnBytes.deallocate(); turnBytesStamp.deallocate()
        }
    }
}
