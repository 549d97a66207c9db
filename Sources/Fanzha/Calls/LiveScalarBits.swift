import Foundation
import FanzhaText

// A live call's turns' `ScalarBits`, written by the normaliser as each turn is added.
//
// The regexes' literal gates read a turn's `ScalarBits` (LiteralGate.swift). A record evaluated
// once makes them on first use in its evaluation. A live call is evaluated again at its events,
// and each evaluation made a turn's set again when it first matched a regex there (about two
// fills of 880 instructions a turn). Kept with the call, a turn's set is written with its text
// (no second pass over the bytes) and read in place: 512 bytes a turn the window holds.

extension Screener {
    /// The `ScalarBits` of a live call's turns `from ..< end` (the call's turn numbers),
    /// `ScalarBits.words` words each, in plain memory. Kept with the call's `RegexMemo`.
    final class CallScalarBits {
        // Unchecked for exclusive access, as `CallTurnClauses`: a call is handled on one thread at a time.
        @exclusivity(unchecked) private(set) var from = 0
        @exclusivity(unchecked) private var words = Arena<UInt64>()

        deinit { words.deallocate() }

        /// The call's turns held end here.
        var end: Int { from + words.count / ScalarBits.words }

        /// Room for turn `turn`'s set, for the normaliser to write: the turn after those held,
        /// else (turns added some other way before it) the first of a new stretch.
        func room(forTurn turn: Int) -> UnsafeMutablePointer<UInt64> {
            if turn != end {
                from = turn
                words.removeAll()
            }
            return words.append(repeating: 0, count: ScalarBits.words)
        }

        /// The sets of the turns `lo ..< hi`, the first's address (each next `ScalarBits.words`
        /// on), when all are held; they stay where they are until a turn is added or let go.
        func sets(ofTurns lo: Int, _ hi: Int) -> UnsafePointer<UInt64>? {
            guard from <= lo, hi <= end, lo < hi else { return nil }
            return UnsafePointer(words.address((lo - from) * ScalarBits.words))
        }

        /// Lets go of the turns before `turn`: they have left the window for good.
        func forget(before turn: Int) {
            guard turn > from else { return }
            words.removeFirst(min(turn - from, end - from) * ScalarBits.words)
            from = turn
        }
    }
}
