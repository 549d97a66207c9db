/// A text's scalars as a 4,096-bit set of hashes: a literal none of whose scalars' bits is
/// missing may be in the text; one with a bit missing is not (the literal gates, Fanzha's
/// LiteralGate.swift). Here, beside the normaliser, because it writes a text's set as it writes
/// the text (`Normaliser.normalise(_:into:scalarBits:)`), with no second pass over the bytes.
public enum ScalarBits {
    /// The set's size in 64-bit words. (Inlinable, as the other members: a constant another
    /// module reads with no call.)
    @inlinable public static var words: Int { 64 }

    @inlinable @inline(__always)
    public static func bit(_ scalar: UInt32) -> UInt16 { UInt16(truncatingIfNeeded: (scalar &* 0x9E37_79B1) >> 20) }

    /// Adds `scalar`'s bit to the set `bits`.
    @inlinable @inline(__always)
    public static func insert(_ scalar: UInt32, into bits: UnsafeMutablePointer<UInt64>) {
        let b = Int(bit(scalar))
        bits[b &>> 6] |= 1 &<< UInt64(b & 63)
    }

    /// Fills `into` (`words` words) from the UTF-8 `text`.
    public static func fill(_ into: UnsafeMutablePointer<UInt64>, from text: UnsafeBufferPointer<UInt8>) {
        into.initialize(repeating: 0, count: words)
        var i = 0
        let n = text.count
        while i < n {
            let b0 = UInt32(text[i])
            var c: UInt32
            if b0 < 0x80 { c = b0; i &+= 1 }
            else if b0 < 0xE0, i + 1 < n { c = (b0 & 0x1F) << 6 | (UInt32(text[i + 1]) & 0x3F); i &+= 2 }
            else if b0 < 0xF0, i + 2 < n { c = (b0 & 0x0F) << 12 | (UInt32(text[i + 1]) & 0x3F) << 6 | (UInt32(text[i + 2]) & 0x3F); i &+= 3 }
            else if i + 3 < n { c = (b0 & 0x07) << 18 | (UInt32(text[i + 1]) & 0x3F) << 12 | (UInt32(text[i + 2]) & 0x3F) << 6 | (UInt32(text[i + 3]) & 0x3F); i &+= 4 }
            else { break }
            insert(c, into: into)
        }
    }
}
