import Foundation
import FanzhaText

/// Learned evidence: a linear classifier over hashed character n-grams of the normalised text
/// (the scanner's normaliser, so width, case, traditional/simplified and separator tricks fold
/// away before the model sees the text). The `model` condition of the rules language reads its
/// calibrated probability. The file format is in docs/MODEL.md.
public final class TextModel: @unchecked Sendable {
    package static let magic: [UInt8] = Array("FZMODEL\0".utf8)
    package static let version: UInt32 = 1
    /// The file name a rules folder's default model has.
    public static let defaultFileName = "model.fzm"

    package enum Algorithm: UInt32, Sendable, CaseIterable {
        case logisticRegression = 0, complementNaiveBayes = 1
        package var name: String { self == .logisticRegression ? "lr" : "cnb" }
        package init?(name: String) {
            switch name.lowercased() {
            case "lr", "logistic", "logistic-regression": self = .logisticRegression
            case "cnb", "nb", "complement-nb", "complement-naive-bayes": self = .complementNaiveBayes
            default: return nil
            }
        }
    }

    /// Where it was read from (empty for a model built in memory).
    package let path: String
    package let minN: Int
    package let maxN: Int
    package let bucketBits: Int
    package let algorithm: Algorithm
    package let seed: UInt64
    package let scamCount: Int
    package let benignCount: Int
    package let bias: Double
    /// Platt scaling: probability = 1 / (1 + exp(-(plattA * margin + plattB))).
    package let plattA: Double
    package let plattB: Double
    /// Free text: how it was trained (files, options). Never a time stamp, so training is reproducible.
    package let info: String
    /// The weight of each bucket (zero for buckets the model never saw), stored packed.
    let weights: WeightTable
    package var buckets: Int { 1 << bucketBits }
    var mask: UInt64 { UInt64(buckets - 1) }
    /// Buckets with a non-zero weight (what the file stores).
    package let nonZero: Int

    /// `weights`: the non-zero weights by bucket, in bucket order (what the file stores).
    init(path: String = "", minN: Int, maxN: Int, bucketBits: Int, algorithm: Algorithm, seed: UInt64, scamCount: Int, benignCount: Int,
         bias: Double, plattA: Double, plattB: Double, info: String, weights sparse: [(bucket: Int, weight: Float)]) {
        self.path = path
        self.minN = minN
        self.maxN = maxN
        self.bucketBits = bucketBits
        self.algorithm = algorithm
        self.seed = seed
        self.scamCount = scamCount
        self.benignCount = benignCount
        self.bias = bias
        self.plattA = plattA
        self.plattB = plattB
        self.info = info
        weights = WeightTable(buckets: 1 << bucketBits, sparse: sparse)
        nonZero = weights.count
    }

    /// The same from one weight per bucket (the trainer's table).
    convenience init(minN: Int, maxN: Int, bucketBits: Int, algorithm: Algorithm, seed: UInt64, scamCount: Int, benignCount: Int,
                     bias: Double, plattA: Double, plattB: Double, info: String, weights dense: [Float]) {
        precondition(dense.count == 1 << bucketBits)
        self.init(minN: minN, maxN: maxN, bucketBits: bucketBits, algorithm: algorithm, seed: seed, scamCount: scamCount, benignCount: benignCount,
                  bias: bias, plattA: plattA, plattB: plattB, info: info,
                  weights: dense.indices.filter { dense[$0] != 0 }.map { (bucket: $0, weight: dense[$0]) })
    }

    deinit { weights.deallocate() }

    package func weight(ofBucket b: Int) -> Float { weights[b] }

    /// The calibrated probability for a raw margin.
    package func probability(margin: Double) -> Double {
        let z = plattA * margin + plattB
        return 1 / (1 + exp(-z))
    }

    // MARK: - Features

    /// Calls `body(bucket, startByte, endByte, length)` for every n-gram (minN…maxN scalars) of one
    /// normalised text, in order of their last scalar. `oneGramBuckets` (see `ModelScratch`), when
    /// given, keeps the buckets of the 1-grams of scalars below U+10000 from call to call.
    @inline(__always)
    static func forEachNGram(_ bytes: UnsafeBufferPointer<UInt8>, minN: Int, maxN: Int, mask: UInt64,
                             oneGramBuckets: UnsafeMutablePointer<UInt32>? = nil, _ body: (Int, Int, Int, Int) -> Void) {
        if maxN <= 4 {
            forEachShortNGram(bytes, minN: minN, maxN: maxN, mask: mask, oneGramBuckets: oneGramBuckets, body)
            return
        }
        // The last 8 scalars and where they start (maxN ≤ 8).
        var values: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0, 0, 0, 0)
        var starts: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
        var seen = 0
        var i = 0
        let n = bytes.count
        withUnsafeMutableBytes(of: &values) { vraw in
            withUnsafeMutableBytes(of: &starts) { sraw in
                let vs = vraw.bindMemory(to: UInt32.self), ss = sraw.bindMemory(to: Int.self)
                while i < n {
                    let start = i
                    let v = decodeScalar(bytes, &i)
                    vs[seen & 7] = v
                    ss[seen & 7] = start
                    seen += 1
                    let top = min(maxN, seen)
                    if top < minN { continue }
                    // FNV-1a over the n-gram's scalars from the newest back, so each longer
                    // n-gram ending here extends the shorter one's hash by one step.
                    var h = fnvBasis
                    for len in 1...top {
                        h = fnvStep(h, UInt64(vs[(seen - len) & 7]))
                        if len < minN { continue }
                        body(Int(finalMix(h, len) & mask), ss[(seen - len) & 7], i, len)
                    }
                }
            }
        }
    }

    /// Where the shortest n-gram of `minN`…`maxN` scalars that ends at byte `end` of normalised
    /// text `bytes`, falls in `bucket` and is not `excluded` (given its start) starts; nil for
    /// none. The n-gram's bucket as `forEachNGram` gives it (FNV-1a from the newest scalar back,
    /// then `finalMix`), found from its end alone: the scalars before `end` read backwards (valid
    /// UTF-8: each starts at a byte that is not a continuation byte) and decoded as forward.
    @inline(__always)
    static func startOfNGram(ending end: Int, in bytes: UnsafeBufferPointer<UInt8>, bucket: Int, minN: Int, maxN: Int, mask: UInt64,
                             excluded: (Int) -> Bool) -> Int? {
        var h = fnvBasis
        var start = end
        for len in 1...maxN {
            guard start > 0 else { return nil }
            start -= 1
            while start > 0 && bytes[start] & 0xC0 == 0x80 { start -= 1 }
            var i = start
            h = fnvStep(h, UInt64(decodeScalar(bytes, &i)))
            if len >= minN && Int(truncatingIfNeeded: finalMix(h, len) & mask) == bucket && !excluded(start) { return start }
        }
        return nil
    }

    /// The scalar whose UTF-8 starts at `i` (advancing `i` past it); U+FFFD for a cut-off tail.
    @inline(__always)
    static func decodeScalar(_ bytes: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> UInt32 {
        let n = bytes.count
        // `i` < `n`, a buffer's count: the sums below cannot overflow (wrapping arithmetic, no checks).
        let b0 = UInt32(bytes[i])
        if b0 < 0x80 { i &+= 1; return b0 }
        if b0 < 0xE0, i &+ 1 < n { defer { i &+= 2 }; return (b0 & 0x1F) << 6 | UInt32(bytes[i &+ 1] & 0x3F) }
        if b0 < 0xF0, i &+ 2 < n { defer { i &+= 3 }; return (b0 & 0x0F) << 12 | UInt32(bytes[i &+ 1] & 0x3F) << 6 | UInt32(bytes[i &+ 2] & 0x3F) }
        if i &+ 3 < n {
            defer { i &+= 4 }
            return (b0 & 0x07) << 18 | UInt32(bytes[i &+ 1] & 0x3F) << 12 | UInt32(bytes[i &+ 2] & 0x3F) << 6 | UInt32(bytes[i &+ 3] & 0x3F)
        }
        i = n
        return 0xFFFD
    }

    /// FNV-1a, 64 bits: the n-grams' running hash (`forEachNGram`, `startOfNGram`) and the
    /// model file's checksum, one value at a time from `fnvBasis`.
    @inline(__always) static var fnvBasis: UInt64 { 0xcbf2_9ce4_8422_2325 }
    @inline(__always)
    static func fnvStep(_ h: UInt64, _ value: UInt64) -> UInt64 { (h ^ value) &* 0x0000_0100_0000_01B3 }

    /// The n-gram's length mixed into its running hash, so the low bits depend on every scalar.
    @inline(__always)
    static func finalMix(_ h: UInt64, _ len: Int) -> UInt64 {
        var x = h ^ UInt64(len) &* 0x9E37_79B9_7F4A_7C15
        x ^= x >> 29
        x = x &* 0xbf58_476d_1ce4_e5b9
        x ^= x >> 32
        return x
    }

    /// `forEachNGram` for n-grams of at most 4 scalars (the usual case), the last four scalars
    /// and their starts kept in locals rather than memory. The same buckets, in the same order.
    @inline(__always)
    static func forEachShortNGram(_ bytes: UnsafeBufferPointer<UInt8>, minN: Int, maxN: Int, mask: UInt64,
                                  oneGramBuckets: UnsafeMutablePointer<UInt32>?, _ body: (Int, Int, Int, Int) -> Void) {
        var v0: UInt64 = 0, v1: UInt64 = 0, v2: UInt64 = 0, v3: UInt64 = 0
        var s0 = 0, s1 = 0, s2 = 0, s3 = 0
        var i = 0
        let n = bytes.count
        @inline(__always) func emit(_ h: UInt64, _ len: Int, _ start: Int, _ end: Int) {
            body(Int(truncatingIfNeeded: finalMix(h, len) & mask), start, end, len)
        }
        /// Reads the next scalar into the window, then reports the n-grams of `minN`…`top`
        /// scalars that end with it.
        @inline(__always) func step(top: Int) {
            let start = i
            let v = decodeScalar(bytes, &i)
            v3 = v2; v2 = v1; v1 = v0; v0 = UInt64(v)
            s3 = s2; s2 = s1; s1 = s0; s0 = start
            if top < minN { return }
            var h = fnvBasis
            h = fnvStep(h, v0)
            if minN <= 1 {
                if let known = oneGramBuckets, v0 < 1 << 16 {
                    // A 1-gram's bucket is its scalar's alone: mixed once, then read (kept plus
                    // one, so 0 is "not yet"). Most of a text's scalars are common ideographs.
                    var b = known[Int(v0)]
                    if b == 0 {
                        b = UInt32(truncatingIfNeeded: finalMix(h, 1) & mask) &+ 1
                        known[Int(v0)] = b
                    }
                    body(Int(b) &- 1, s0, i, 1)
                } else {
                    emit(h, 1, s0, i)
                }
            }
            if top < 2 { return }
            h = fnvStep(h, v1)
            if minN <= 2 { emit(h, 2, s1, i) }
            if top < 3 { return }
            h = fnvStep(h, v2)
            if minN <= 3 { emit(h, 3, s2, i) }
            if top < 4 { return }
            h = fnvStep(h, v3)
            emit(h, 4, s3, i)
        }
        // The first `maxN - 1` scalars of the text end fewer n-grams than the rest; from the
        // `maxN`th on, every length ends at each scalar, and a loop that knows it (the usual
        // case's sizes are constants) tests no count of scalars seen.
        var seen = 0
        while i < n && seen < maxN - 1 {
            seen &+= 1
            step(top: seen)
        }
        while i < n { step(top: maxN) }
    }

    /// A record's feature vector: sorted distinct buckets with values (1 + ln count), scaled to
    /// unit length. The same for training and for scanning.
    static func features(of texts: [[UInt8]], minN: Int, maxN: Int, mask: UInt64, into buckets: inout [Int32],
                         indices: inout [Int32], values: inout [Float]) {
        buckets.removeAll(keepingCapacity: true)
        for t in texts {
            t.withUnsafeBufferPointer { buf in
                forEachNGram(buf, minN: minN, maxN: maxN, mask: mask) { b, _, _, _ in buckets.append(Int32(b)) }
            }
        }
        vectorise(&buckets, indices: &indices, values: &values)
    }

    static func vectorise(_ buckets: inout [Int32], indices: inout [Int32], values: inout [Float]) {
        indices.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        guard !buckets.isEmpty else { return }
        buckets.sort()
        var k = 0
        var norm = 0.0
        while k < buckets.count {
            var j = k + 1
            while j < buckets.count && buckets[j] == buckets[k] { j += 1 }
            let v = 1 + log(Double(j - k))
            indices.append(buckets[k])
            values.append(Float(v))
            norm += v * v
            k = j
        }
        let scale = Float(1 / norm.squareRoot())
        for i in values.indices { values[i] *= scale }
    }

    /// The margin (before calibration) of a feature vector.
    func margin(indices: [Int32], values: [Float]) -> Double {
        var m = bias
        for k in indices.indices { m += Double(weights[Int(indices[k])]) * Double(values[k]) }
        return m
    }

    /// The calibrated probability of texts given as normalised UTF-8 (one per turn).
    package func probability(normalised texts: [[UInt8]]) -> Double {
        var b: [Int32] = [], i: [Int32] = [], v: [Float] = []
        TextModel.features(of: texts, minN: minN, maxN: maxN, mask: mask, into: &b, indices: &i, values: &v)
        return probability(margin: margin(indices: i, values: v))
    }

    // MARK: - File

    /// The file's bytes (docs/MODEL.md): header, info, sparse weights, checksum.
    package func serialised() -> [UInt8] {
        var out: [UInt8] = TextModel.magic
        func u8(_ x: UInt8) { out.append(x) }
        func u32(_ x: UInt32) { withUnsafeBytes(of: x.littleEndian) { out += $0 } }
        func u64(_ x: UInt64) { withUnsafeBytes(of: x.littleEndian) { out += $0 } }
        func f64(_ x: Double) { u64(x.bitPattern) }
        u32(TextModel.version)
        u8(UInt8(minN)); u8(UInt8(maxN)); u8(UInt8(bucketBits)); u8(UInt8(algorithm.rawValue))
        u64(seed)
        u32(UInt32(scamCount)); u32(UInt32(benignCount))
        f64(bias); f64(plattA); f64(plattB)
        let infoBytes = Array(info.utf8)
        u32(UInt32(infoBytes.count))
        out += infoBytes
        u32(UInt32(nonZero))
        weights.forEachNonZero { b, w in
            u32(UInt32(b))
            u32(w.bitPattern)
        }
        u64(TextModel.checksum(out[...]))
        return out
    }

    package func write(to path: String) throws {
        do {
            try Data(serialised()).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ModelError(path: path, problem: "cannot write: \(error.localizedDescription)")
        }
    }

    /// FNV-1a, 64 bits, over the bytes.
    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var h = fnvBasis
        for b in bytes { h = fnvStep(h, UInt64(b)) }
        return h
    }

    /// Reads and checks a model file: magic, version, sizes, every index and weight, checksum.
    public static func load(path: String) throws -> TextModel {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw ModelError(path: path, problem: "no such file") }
        guard !isDir.boolValue else { throw ModelError(path: path, problem: "is a directory, not a model file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError(path: path, problem: "cannot read") }
        return try decode([UInt8](data), path: path)
    }

    package static func decode(_ bytes: [UInt8], path: String) throws -> TextModel {
        func bad(_ problem: String) -> ModelError { ModelError(path: path, problem: problem) }
        let headerSize = 8 + 4 + 4 + 8 + 8 + 24 + 4
        guard bytes.count >= 8, Array(bytes[0..<8]) == magic else { throw bad("not a Fanzha model file (no FZMODEL magic)") }
        guard bytes.count >= headerSize + 4 + 8 else { throw bad("truncated (\(bytes.count) bytes)") }
        var p = 8
        func u8() -> UInt8 { defer { p += 1 }; return bytes[p] }
        func u32() -> UInt32 { var x: UInt32 = 0; for k in 0..<4 { x |= UInt32(bytes[p + k]) << (8 * k) }; p += 4; return x }
        func u64() -> UInt64 { var x: UInt64 = 0; for k in 0..<8 { x |= UInt64(bytes[p + k]) << (8 * k) }; p += 8; return x }
        let version = u32()
        guard version == TextModel.version else {
            throw bad("model format version \(version), this fanzha reads version \(TextModel.version); retrain it with `fanzha train`")
        }
        let minN = Int(u8()), maxN = Int(u8()), bits = Int(u8()), algo = u8()
        guard minN >= 1, maxN >= minN, maxN <= 8 else { throw bad("bad n-gram sizes \(minN)…\(maxN)") }
        guard (8...26).contains(bits) else { throw bad("bad bucket count 2^\(bits)") }
        guard let algorithm = Algorithm(rawValue: UInt32(algo)) else { throw bad("unknown algorithm \(algo)") }
        let seed = u64()
        let scam = Int(u32()), benign = Int(u32())
        let bias = Double(bitPattern: u64()), a = Double(bitPattern: u64()), b = Double(bitPattern: u64())
        guard bias.isFinite, a.isFinite, b.isFinite else { throw bad("calibration values are not finite numbers") }
        let infoLength = Int(u32())
        guard p + infoLength + 4 + 8 <= bytes.count else { throw bad("truncated (\(bytes.count) bytes)") }
        let info = String(decoding: bytes[p..<(p + infoLength)], as: UTF8.self)
        p += infoLength
        let count = Int(u32())
        let expected = p + count * 8 + 8
        guard expected == bytes.count else {
            throw bad(expected > bytes.count ? "truncated (\(bytes.count) bytes, the header says \(expected))"
                      : "\(bytes.count - expected) bytes of trailing data after the weights")
        }
        var stored: UInt64 = 0
        for k in 0..<8 { stored |= UInt64(bytes[bytes.count - 8 + k]) << (8 * k) }
        guard stored == checksum(bytes[0..<(bytes.count - 8)]) else { throw bad("checksum mismatch: the file is corrupt") }
        var sparse: [(bucket: Int, weight: Float)] = []
        sparse.reserveCapacity(count)
        var last = -1
        for _ in 0..<count {
            let index = Int(u32())
            let w = Float(bitPattern: u32())
            guard index > last, index < 1 << bits else { throw bad("weight index \(index) out of order or range") }
            guard w.isFinite else { throw bad("weight \(index) is not a finite number") }
            sparse.append((index, w))
            last = index
        }
        return TextModel(path: path, minN: minN, maxN: maxN, bucketBits: bits, algorithm: algorithm, seed: seed, scamCount: scam,
                         benignCount: benign, bias: bias, plattA: a, plattB: b, info: info, weights: sparse)
    }

    /// The model a rules folder carries: `model.fzm` in the first of `paths` that is a directory holding one.
    package static func defaultPath(forRules paths: [String]) -> String? {
        for p in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue else { continue }
            let candidate = (p as NSString).appendingPathComponent(defaultFileName)
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return nil
    }
}

package struct ModelError: Error, CustomStringConvertible {
    package let path: String
    package let problem: String
    package var description: String { "\(path): \(problem)" }
}

/// A model with a normaliser of its own, for scoring records outside a scan (`fanzha train
/// --apply`). One per thread.
package final class ModelScorer {
    package let model: TextModel
    private let normaliser: Normaliser
    package init(_ model: TextModel) throws {
        self.model = model
        normaliser = try Normaliser()
    }
    package func probability(_ record: Record) -> Double {
        model.probability(normalised: record.turns.map { normaliser.normalise($0.text).bytes })
    }
}

/// A model's non-zero weights by bucket, in an open-addressed table of (bucket, weight) pairs at
/// most half full, placed by the bucket's own low bits (a bucket is already the low bits of a
/// mixed hash, `TextModel.finalMix`), and **ordered**: the pairs are placed largest bucket first,
/// so along any run of pairs a look-up meets larger buckets before its own (Amble and Knuth's
/// ordered hash table). A look-up for a bucket with no weight then stops at the first smaller
/// one, as early as a look-up that finds its bucket: about 1.4 pairs either way, half full.
/// For the bundled model (14,681 weights) that is 256 KB. Every distinct bucket of a record is
/// looked up here (the margin), at random: a quarter full (512 KB, unordered, a look-up for a
/// missing bucket read to the next free pair) the table fell out of the L2 cache, between the
/// automaton's transitions, about twice as often.
struct WeightTable {
    struct Entry {
        /// The bucket plus one; 0 marks a free entry, smaller than any bucket's, so a look-up
        /// stops at it as at any smaller bucket.
        var tag: UInt32
        var weight: Float
    }
    private let entries: UnsafeMutablePointer<Entry>
    private let mask: Int
    /// Buckets with a non-zero weight.
    let count: Int

    /// `sparse`: (bucket, weight) pairs; zero weights are left out, and of two for one bucket the later wins.
    init(buckets: Int, sparse: [(bucket: Int, weight: Float)]) {
        precondition(buckets <= 1 << 31)
        // Placed from the largest bucket down. A model file's pairs are in rising bucket order
        // (`decode` checks it): read backwards. Others (a model being trained) are put in that
        // order first, each bucket keeping its later weight.
        var rising = true
        for k in sparse.indices.dropFirst() where sparse[k - 1].bucket >= sparse[k].bucket { rising = false; break }
        var kept: [(bucket: Int, weight: Float)]
        if rising {
            kept = sparse.reversed().filter { $0.weight != 0 }
        } else {
            var last: [Int: Float] = [:]
            for (b, x) in sparse { last[b] = x }
            kept = last.filter { $0.value != 0 }.map { (bucket: $0.key, weight: $0.value) }.sorted { $0.bucket > $1.bucket }
        }
        for (b, _) in kept { precondition(b >= 0 && b < buckets) }
        // At most half full: with the table ordered, about 1.4 pairs a look-up (a quarter full,
        // unordered, took 1.2, and twice the memory).
        var capacity = 16
        while capacity < 2 * kept.count { capacity *= 2 }
        entries = .allocate(capacity: capacity)
        entries.initialize(repeating: Entry(tag: 0, weight: 0), count: capacity)
        mask = capacity - 1
        for (b, x) in kept {
            // Every pair already placed is of a larger bucket: this one goes to the first free
            // entry from its own, after them.
            var i = b & mask
            while entries[i].tag != 0 { i = (i + 1) & mask }
            entries[i] = Entry(tag: UInt32(b + 1), weight: x)
        }
        count = kept.count
    }

    /// The weight of bucket `b`; zero when the model has none (a stored weight is never zero).
    @inline(__always)
    subscript(b: Int) -> Float {
        let tag = UInt32(truncatingIfNeeded: b &+ 1)
        var i = b & mask
        // Larger buckets first (see the type's comment): past them, this bucket or none.
        while entries[i].tag > tag { i = (i &+ 1) & mask }
        let e = entries[i]
        return e.tag == tag ? e.weight : 0
    }

    /// Each non-zero weight with its bucket, in bucket order.
    func forEachNonZero(_ body: (Int, Float) -> Void) {
        var stored: [Entry] = []
        stored.reserveCapacity(count)
        for i in 0...mask where entries[i].tag != 0 { stored.append(entries[i]) }
        stored.sort { $0.tag < $1.tag }
        for e in stored { body(Int(e.tag) - 1, e.weight) }
    }

    func deallocate() { entries.deallocate() }
}
