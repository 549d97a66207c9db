/// The normalised form of one text, with a byte-level map back to the original text.
/// A class: the engine reads it many times per record (evidence, distances, regexes), and a
/// struct of four arrays cost four reference counts at every read.
///
/// A text is refilled for another one (`Normaliser.normalise(_:into:)`) only by whoever holds
/// its only reference, so no other thread ever sees it change: hence `@unchecked Sendable`.
///
/// Offsets into the original text are Unicode scalar offsets, end exclusive. Every byte of
/// `bytes` comes from exactly one original scalar (the normaliser never merges two original
/// scalars into one output scalar), so a byte's origin ends one scalar after it starts
/// (`originEnd(ofByte:)`), and the origins never go backwards along `bytes`.
public final class NormalisedText: @unchecked Sendable {
    /// UTF-8 bytes of the normalised text (what PCRE2 and the Aho–Corasick prefilter scan).
    /// Always valid UTF-8, written scalar by scalar: the engine's regexes rely on it (they are
    /// compiled without PCRE2's checks for broken UTF-8, `Pattern`'s `validSubjects`).
    /// (Its fields are unchecked for exclusive access: each check was a runtime call at every
    /// read, and a text is only written while nothing else holds it.)
    @exclusivity(unchecked) public internal(set) var bytes: [UInt8]
    /// For each normalised byte, the original scalar offset where the scalar that produced it starts.
    @exclusivity(unchecked) public internal(set) var originStart: [Int32]
    /// Number of unicode scalars in the original text.
    @exclusivity(unchecked) public internal(set) var originalScalarCount: Int
    /// Number of unicode scalars in the normalised text.
    @exclusivity(unchecked) public internal(set) var scalarCount: Int

    /// Rank structure for `normalisedScalarOffset(ofByte:)`, two words for each 64 bytes `w`:
    /// `rank[2w]` has bit `b & 63` set when byte `b` starts a scalar, `rank[2w + 1]` counts the
    /// starts before byte `64w`. (One array, not two: one allocation less a text.)
    @exclusivity(unchecked) var rank: [UInt64]

    init(bytes: [UInt8], originStart: [Int32], originalScalarCount: Int,
         scalarCount: Int, rank: [UInt64]) {
        self.bytes = bytes
        self.originStart = originStart
        self.originalScalarCount = originalScalarCount
        self.scalarCount = scalarCount
        self.rank = rank
    }

    /// Map a byte range of `bytes` (must lie on scalar boundaries, non-empty) to a scalar range of the ORIGINAL text.
    ///
    /// The result runs from the start of the original scalar behind the first byte to the
    /// end of the original scalar behind the last byte, so characters the normaliser dropped
    /// in between (separators, zero-width characters) are covered. An empty range maps to
    /// the empty original range at the corresponding position.
    public func originalRange(ofBytes r: Range<Int>) -> Range<Int> {
        precondition(r.lowerBound >= 0 && r.upperBound <= bytes.count, "byte range out of bounds")
        if r.isEmpty {
            let p = r.lowerBound < bytes.count ? Int(originStart[r.lowerBound]) : originalScalarCount
            return p..<p
        }
        return Int(originStart[r.lowerBound])..<originEnd(ofByte: r.upperBound - 1)
    }

    /// The original scalar offset where the scalar behind byte `i` ends (exclusive).
    public func originEnd(ofByte i: Int) -> Int { Int(originStart[i]) + 1 }

    /// Scalar offset in the normalised text for a byte offset (used for `near(N)` distances in characters).
    ///
    /// O(1). `b` should lie on a scalar boundary; `b == bytes.count` gives `scalarCount`.
    /// For a byte inside a scalar the result is the offset of the scalar after it.
    public func normalisedScalarOffset(ofByte b: Int) -> Int {
        if b >= bytes.count { return scalarCount }
        if b <= 0 { return 0 }
        let w = b &>> 6
        let mask = (UInt64(1) &<< UInt64(b & 63)) &- 1
        return Int(rank[w &* 2 &+ 1]) + (rank[w &* 2] & mask).nonzeroBitCount
    }

    /// The normalised text as a String.
    public var string: String { String(decoding: bytes, as: UTF8.self) }
}
