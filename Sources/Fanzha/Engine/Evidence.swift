// Evidence: a hit's occurrences mapped back from normalised bytes to the original text
// (Unicode scalar offsets, end exclusive), merged and in order, with their text.

extension Screener.Evaluation {
    /// A fired rule's evidence, placed in this record's evidence table (made at its first hit).
    mutating func hitEvidence(_ occ: Occurrences) -> HitEvidence {
        let table: EvidenceTable
        if let t = evidenceTable { table = t } else {
            table = screener.emptyEvidenceTable(isCall: prepared.isCall)
            evidenceTable = table
        }
        return .found(table, place(occ, in: table))
    }

    /// Evidence spans in the original text, merged and in order.
    mutating func spans(of occ: Occurrences) -> [EvidenceSpan] {
        let table = EvidenceTable(isCall: prepared.isCall)
        return place(occ, in: table).map(table.span)
    }

    /// Places `occ`'s evidence in `table`, merged and in order (original text's scalars, and its
    /// text copied from the record's bytes); the range of places it took.
    mutating func place(_ occ: Occurrences, in table: EvidenceTable) -> Range<Int> {
        // Gathered, sorted and merged in the workspace's plain memory (an array checked its
        // uniqueness and capacity at every append, and was swapped in and out of the workspace).
        ws.evidence.removeAll()
        for i in Int(occ.start)..<Int(occ.start + occ.count) {
            let o = ws.occ[i]
            for e in Int(o.evStart)..<Int(o.evStart + o.evCount) { ws.evidence.append(ws.arena[e]) }
        }
        let first = table.count
        guard ws.evidence.count > 0 else { return first..<first }
        var merged = UnsafeMutableBufferPointer(start: ws.evidence.address(0), count: ws.evidence.count)
        merged.sort { ($0.turn, $0.start, $0.end) < ($1.turn, $1.start, $1.end) }
        // Merge overlapping evidence within a turn, in place.
        var kept = 0
        for k in merged.indices {
            let e = merged[k]
            if kept > 0, merged[kept - 1].turn == e.turn, e.start <= merged[kept - 1].end {
                merged[kept - 1].end = max(merged[kept - 1].end, e.end)
            } else {
                merged[kept] = e
                kept += 1
            }
        }
        // Each span's text: the turn's scalar → byte offsets (`scalarOffsets`), then each span
        // is two lookups and a copy. The record's turns read once (a class's property: each read
        // is checked for exclusive access at run time and copies the turn out).
        let turns = prepared.turns
        var k = 0
        while k < kept {
            let t = Int(merged[k].turn)
            var text = turns[t].turn.text
            let normalised = turns[t].text
            text.withUTF8 { u in
                let offsets = scalarOffsets(ofTurn: t, u)
                let last = offsets.count - 1
                while k < kept && Int(merged[k].turn) == t {
                    let e = merged[k]
                    k += 1
                    let r = normalised.originalRange(ofBytes: Int(e.start)..<Int(e.end))
                    let from = Int(offsets[min(r.lowerBound, last)]), to = Int(offsets[min(r.upperBound, last)])
                    table.append(turn: t, start: r.lowerBound, end: r.upperBound, text: UnsafeBufferPointer(rebasing: u[from..<to]))
                }
            }
        }
        return first..<table.count
    }

    /// The byte offset of each scalar of turn `t`'s original text `u`, and its length last: found
    /// in one walk over its UTF-8 the first time evidence in the turn is placed, and kept for the
    /// evaluation's other hits. Kept per turn: a call's hits go back and forth between its turns,
    /// and with one turn's kept at a time they were found again at each change (21,884 walks a
    /// run of the bench's live events). Read before the next turn's are made (which may move them).
    /// Inlined: called out of line, it cost a JSON verdict about 40 instructions a record.
    @inline(__always)
    private mutating func scalarOffsets(ofTurn t: Int, _ u: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<Int32> {
        if ws.scalarBytesStamp.count < turnLimit {
            ws.scalarBytesStamp.reset(count: turnLimit, to: 0)
            ws.scalarBytesFirst.reset(count: turnLimit, to: 0)
            ws.scalarBytesCount.reset(count: turnLimit, to: 0)
        }
        if ws.scalarBytesStamp[t] != ws.generation {
            ws.scalarBytesStamp[t] = ws.generation
            ws.scalarBytesFirst[t] = Int32(ws.scalarBytes.count)
            // Room for the most there can be (one a byte, and the end), then written in place and
            // cut to what was written: appended one by one, each scalar checked the capacity and
            // stored the count (about 9 instructions a scalar, 640 a JSON verdict on the bench slice).
            let starts = ws.scalarBytes.append(repeating: 0, count: u.count + 1)
            var n = 0
            for b in 0..<u.count where u[b] & 0xC0 != 0x80 {
                starts[n] = Int32(b)
                n &+= 1
            }
            starts[n] = Int32(u.count)
            ws.scalarBytes.removeLast(u.count - n)
            ws.scalarBytesCount[t] = Int32(n + 1)
        }
        return UnsafeBufferPointer(start: ws.scalarBytes.address(Int(ws.scalarBytesFirst[t])), count: Int(ws.scalarBytesCount[t]))
    }
}

extension Screener {
    /// An empty evidence table for a record: the last record's, emptied, when no verdict holds it
    /// any more (`scan` prints each verdict and lets it go before the next record), else a new one.
    /// Reused, a verdict's evidence costs no allocation: a new table cost three, and three frees.
    func emptyEvidenceTable(isCall: Bool) -> EvidenceTable {
        if isKnownUniquelyReferenced(&lastEvidenceTable), let table = lastEvidenceTable {
            table.reset(isCall: isCall)
            return table
        }
        let table = EvidenceTable(isCall: isCall)
        lastEvidenceTable = table
        return table
    }

    /// The scalars `range` of `text`.
    static func substring(_ text: String, _ range: Range<Int>) -> String {
        let scalars = text.unicodeScalars
        guard let start = scalars.index(scalars.startIndex, offsetBy: range.lowerBound, limitedBy: scalars.endIndex),
              let end = scalars.index(start, offsetBy: range.count, limitedBy: scalars.endIndex) else { return "" }
        return String(scalars[start..<end])
    }
}
