/// The normalised form of one text, with a byte-level map back to the original text.
/// A class: the engine reads it many times per record (evidence, distances, regexes), and a
/// struct of four arrays cost four reference counts at every read.
///
/// A text is refilled for another one (`Normaliser.normalise(_:into:scalarBits:)`) only by whoever holds
/// its only reference, so no other thread ever sees it change: hence `@unchecked Sendable`.
///
/// Offsets into the original text are Unicode scalar offsets, end exclusive. Every byte of
/// `bytes` comes from exactly one original scalar (the normaliser never merges two original
/// scalars into one output scalar), so a byte's origin ends one scalar after it starts
/// (`originEnd(ofByte:)`), and the origins never go backwards along `bytes`.
public final class NormalisedText: @unchecked Sendable {
    // Each field is stored unchecked for exclusive access (a text is only written while nothing
    // else holds it) and read through an inlinable property: a module that reads a stored
    // property of another module's class checks the access at run time whatever the attribute
    // says (about 60 instructions a read, several a record: a record's bytes are read by every
    // stage), and an inlinable body keeps this module's unchecked access.

    /// UTF-8 bytes of the normalised text (what PCRE2 and the Aho–Corasick prefilter scan).
    /// Always valid UTF-8, written scalar by scalar: the engine's regexes rely on it (they are
    /// compiled without PCRE2's checks for broken UTF-8, `Pattern`'s `validSubjects`).
    @inlinable public var bytes: [UInt8] { storedBytes }
    /// For each normalised byte, the original scalar offset where the scalar that produced it starts.
    @inlinable public var originStart: [Int32] { storedOriginStart }
    /// Number of unicode scalars in the original text.
    @inlinable public var originalScalarCount: Int { storedOriginalScalarCount }
    /// Number of unicode scalars in the normalised text.
    @inlinable public var scalarCount: Int { storedScalarCount }

    @exclusivity(unchecked) @usableFromInline var storedBytes: [UInt8]
    @exclusivity(unchecked) @usableFromInline var storedOriginStart: [Int32]
    @exclusivity(unchecked) @usableFromInline var storedOriginalScalarCount: Int
    @exclusivity(unchecked) @usableFromInline var storedScalarCount: Int
    /// Rank structure for `normalisedScalarOffset(ofByte:)`, two words for each 64 bytes `w`:
    /// `rank[2w]` has bit `b & 63` set when byte `b` starts a scalar, `rank[2w + 1]` counts the
    /// starts before byte `64w`. (One array, not two: one allocation less a text.)
    @exclusivity(unchecked) @usableFromInline var rank: [UInt64]

    init(bytes: [UInt8], originStart: [Int32], originalScalarCount: Int,
         scalarCount: Int, rank: [UInt64]) {
        storedBytes = bytes
        storedOriginStart = originStart
        storedOriginalScalarCount = originalScalarCount
        storedScalarCount = scalarCount
        self.rank = rank
    }

    /// Map a byte range of `bytes` (must lie on scalar boundaries, non-empty) to a scalar range of the ORIGINAL text.
    ///
    /// The result runs from the start of the original scalar behind the first byte to the
    /// end of the original scalar behind the last byte, so characters the normaliser dropped
    /// in between (separators, zero-width characters) are covered. An empty range maps to
    /// the empty original range at the corresponding position.
    @inlinable public func originalRange(ofBytes r: Range<Int>) -> Range<Int> {
        precondition(r.lowerBound >= 0 && r.upperBound <= bytes.count, "byte range out of bounds")
        if r.isEmpty {
            let p = r.lowerBound < bytes.count ? Int(originStart[r.lowerBound]) : originalScalarCount
            return p..<p
        }
        return Int(originStart[r.lowerBound])..<originEnd(ofByte: r.upperBound - 1)
    }

    /// The original scalar offset where the scalar behind byte `i` ends (exclusive).
    @inlinable public func originEnd(ofByte i: Int) -> Int { Int(originStart[i]) + 1 }

    /// Scalar offset in the normalised text for a byte offset (used for `near(N)` distances in characters).
    ///
    /// O(1). `b` should lie on a scalar boundary; `b == bytes.count` gives `scalarCount`.
    /// For a byte inside a scalar the result is the offset of the scalar after it.
    @inlinable public func normalisedScalarOffset(ofByte b: Int) -> Int {
        if b >= bytes.count { return scalarCount }
        if b <= 0 { return 0 }
        let w = b &>> 6
        let mask = (UInt64(1) &<< UInt64(b & 63)) &- 1
        return Int(rank[w &* 2 &+ 1]) + (rank[w &* 2] & mask).nonzeroBitCount
    }

    /// The normalised text as a String.
    public var string: String { String(decoding: bytes, as: UTF8.self) }
}
