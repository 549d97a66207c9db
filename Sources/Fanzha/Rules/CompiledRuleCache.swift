import Foundation
import FanzhaPCRE
import FanzhaText
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A compiled rule set on disk (`.fzc`): the rules, the prefilter's automaton and the evaluation
/// program, stored so that loading them is reading tables, not parsing, checking and building
/// (issue 22: a one-message `fanzha scan` spent about 1.3 billion instructions compiling the
/// bundled rules; loading this file costs a few million).
///
/// Two uses:
/// - **the automatic cache**: `load(paths:)` keys a file in `$XDG_CACHE_HOME/fanzha/` (else
///   `~/.cache/fanzha/`) by a hash of every rule file's path and bytes (and `variants.txt`'s) and
///   of the fanzha build (the executable's path, size and modification time). A key that does not
///   match, a bad checksum, a truncated or unreadable file is never used: the rules are compiled
///   and the file rewritten. A file checked once is stamped, and not read in full again while
///   `stat` shows it unwritten (`Stamp`). `FANZHA_NO_CACHE=1` turns the cache off.
/// - **`fanzha compile rules/ -o rules.fzc`**, then `--rules rules.fzc`: the same file made on
///   purpose, carrying the rules folder's model too. A file from another fanzha build, or a damaged
///   one, is an error naming it.
///
/// The checksum guards against damage (a truncated write, a flipped bit, another program's file),
/// not against forgery: like a rule file, a `.fzc` file is trusted input once it checks out.
///
/// Loading decodes only what a scan reads; the rest is one block decoded on first use
/// (`LazyRuleDetails`), and each regex is decoded from PCRE2's stored code and JIT-compiled on
/// first use (`AtomPatterns`).
public enum CompiledRuleCache {
    public static let fileExtension = "fzc"
    static let magic: [UInt8] = Array("FZCRULES".utf8)
    /// Bumped whenever the layout below changes.
    static let formatVersion: UInt32 = 15
    static let headerSize = 48
    /// Environment variable that turns the automatic cache off.
    public static let disableVariable = "FANZHA_NO_CACHE"
    /// How many cached rule sets the cache folder keeps (the most recently written).
    static let keep = 8

    public struct CacheError: Error, CustomStringConvertible, Sendable {
        public let path: String
        public let problem: String
        public var description: String { "\(path): \(problem)" }
    }

    // MARK: - Automatic cache

    /// The rules under `paths`, from the cache when an entry for exactly these files and this build
    /// exists and checks out, else compiled (and cached when they compile without errors).
    public static func load(paths: [String]) throws -> CompileResult {
        if paths.count == 1, paths[0].hasSuffix(".\(fileExtension)") {
            let set = try read(path: paths[0], expectedKey: nil)
            return CompileResult(loaded: set)
        }
        let enabled = environmentValue(disableVariable).map { $0.isEmpty || $0 == "0" } ?? true
        return try load(paths: paths, cacheFolder: enabled ? cacheFolder() : nil)
    }

    /// `load(paths:)` with the cache in `folder` (nil: no cache). `stampAge`: see `Stamp`.
    static func load(paths: [String], cacheFolder folder: String?, stampAge: Double = Stamp.minimumAge) throws -> CompileResult {
        guard let folder else { return try RuleCompiler.compile(paths: paths) }
        let inputs = try RuleCompiler.sourceFiles(paths: paths)
        let key = sourceKey(inputs)
        let file = (folder as NSString).appendingPathComponent("rules-\(String(key, radix: 16)).\(fileExtension)")
        if FileManager.default.fileExists(atPath: file),
           let set = try? read(path: file, expectedKey: key, stamp: Stamp(path: file + Stamp.suffix, minimumAge: stampAge)) {
            return CompileResult(loaded: set)
        }
        let result = RuleCompiler.compile(files: inputs.rules, variants: inputs.variants)
        if let set = result.ruleSet, result.errors.isEmpty {
            // A cache that cannot be written (read-only home, full disk) only costs the next run its start-up.
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            if (try? write(set, key: key, model: nil, to: file)) != nil { prune(folder, keeping: file) }
        }
        return result
    }

    /// `$XDG_CACHE_HOME/fanzha`, else `$HOME/.cache/fanzha`; nil when neither is set.
    static func cacheFolder() -> String? {
        if let xdg = environmentValue("XDG_CACHE_HOME"), xdg.hasPrefix("/") { return (xdg as NSString).appendingPathComponent("fanzha") }
        if let home = environmentValue("HOME"), !home.isEmpty { return ((home as NSString).appendingPathComponent(".cache") as NSString).appendingPathComponent("fanzha") }
        return nil
    }

    /// Removes all but the `keep` most recent cache files (rules edited many times leave old entries).
    static func prune(_ folder: String, keeping current: String) {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: folder) else { return }
        var entries: [(String, Date)] = []
        for n in names where n.hasPrefix("rules-") && n.hasSuffix(".\(fileExtension)") {
            let p = (folder as NSString).appendingPathComponent(n)
            let date = (try? fm.attributesOfItem(atPath: p)[.modificationDate] as? Date) ?? .distantPast
            entries.append((p, date))
        }
        guard entries.count > keep else { return }
        for (p, _) in entries.sorted(by: { $0.1 > $1.1 }).dropFirst(keep) where p != current {
            try? fm.removeItem(atPath: p)
            try? fm.removeItem(atPath: p + Stamp.suffix)
        }
    }

    /// The cache key of a rule set's inputs: every rule file's and variant dictionary's path and
    /// bytes, in order, and the fanzha build.
    static func sourceKey(_ inputs: RuleCompiler.SourceFiles) -> UInt64 {
        var h = ContentHash()
        h.add(UInt64(formatVersion))
        h.add(buildIdentity)
        for (kind, list) in [(1, inputs.rules), (2, inputs.variants)] {
            for f in list {
                h.add(UInt64(kind))
                h.add(Array(f.path.utf8))
                f.data.withUnsafeBytes { h.add($0) }
            }
        }
        return h.value
    }

    /// This fanzha build: the running executable's path, size and modification time. A rebuilt or
    /// reinstalled fanzha misses every cache entry the old one wrote.
    static let buildIdentity: UInt64 = {
        var h = ContentHash()
        h.add(UInt64(formatVersion))
        #if os(Linux)
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        #else
        guard let exe = Bundle.main.executablePath else { return h.value }
        #endif
        h.add(Array(exe.utf8))
        var st = stat()
        if stat(exe, &st) == 0 {
            h.add(UInt64(truncatingIfNeeded: st.st_size))
            #if canImport(Glibc)
            h.add(UInt64(truncatingIfNeeded: st.st_mtim.tv_sec))
            h.add(UInt64(truncatingIfNeeded: st.st_mtim.tv_nsec))
            #else
            h.add(UInt64(truncatingIfNeeded: st.st_mtimespec.tv_sec))
            h.add(UInt64(truncatingIfNeeded: st.st_mtimespec.tv_nsec))
            #endif
        }
        return h.value
    }()

    // MARK: - Files

    /// Writes `set` (with `model`, a model file's bytes, if given) to `path`, atomically: a reader
    /// sees the old file or the new one, never half of one. `key` is what `read` will expect
    /// (the source key for the automatic cache; the build identity for `fanzha compile`).
    public static func write(_ set: RuleSet, model: [UInt8]?, to path: String) throws {
        try write(set, key: buildIdentity, model: model, to: path)
    }

    static func write(_ set: RuleSet, key: UInt64, model: [UInt8]?, to path: String) throws {
        var w = ByteWriter()
        encode(set, model: model, into: &w)
        let payload = w.bytes
        var h = ContentHash()
        payload.withUnsafeBytes { h.add($0) }
        var header = ByteWriter()
        header.raw(magic)
        header.u32(formatVersion)
        header.u32(0)
        header.u64(buildIdentity)
        header.u64(key)
        header.u64(UInt64(payload.count))
        header.u64(h.value)
        precondition(header.bytes.count == headerSize)
        let temporary = "\(path).\(getpid()).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: nil) else {
            throw CacheError(path: path, problem: "cannot create \(temporary)")
        }
        do {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
            try handle.write(contentsOf: header.bytes)
            try handle.write(contentsOf: payload)
            try handle.close()
            if rename(temporary, path) != 0 { throw CacheError(path: path, problem: String(cString: strerror(errno))) }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            if let e = error as? CacheError { throw e }
            throw CacheError(path: path, problem: "cannot write: \(error.localizedDescription)")
        }
    }

    /// Reads a compiled rule set. `expectedKey` nil: a `fanzha compile` file, which must come from
    /// this build; otherwise the automatic cache's key.
    public static func read(path: String) throws -> RuleSet { try read(path: path, expectedKey: nil) }

    /// `stamp`: the automatic cache's record that this very file was checked (see `Stamp`).
    static func read(path: String, expectedKey: UInt64?, stamp: Stamp? = nil) throws -> RuleSet {
        func bad(_ problem: String) -> CacheError { CacheError(path: path, problem: problem) }
        let file = try MappedFile(path: path)
        let all = file.bytes
        guard all.count >= headerSize, Array(all[0..<8]) == magic else { throw bad("not a compiled rule set (no FZCRULES magic)") }
        var r = ByteReader(all, path: path)
        r.p = 8
        let version = try r.u32()
        guard version == formatVersion else { throw bad("compiled rule set format \(version), this fanzha reads \(formatVersion): compile the rules again (fanzha compile)") }
        _ = try r.u32()
        let build = try r.u64(), key = try r.u64(), length = try r.u64(), checksum = try r.u64()
        guard build == buildIdentity else { throw bad("compiled by another fanzha build: compile the rules again (fanzha compile)") }
        if let expectedKey, key != expectedKey { throw bad("compiled from other rule files") }
        if expectedKey == nil, key != buildIdentity { throw bad("not a file `fanzha compile` wrote") }
        guard UInt64(all.count - headerSize) == length else { throw bad("truncated or damaged (\(all.count) bytes, expected \(UInt64(headerSize) + length))") }
        let payload = UnsafeRawBufferPointer(rebasing: all[headerSize...])
        if let stamp, stamp.vouches(for: file.identity) {
            var p = ByteReader(payload, path: path, owner: file)
            return try decode(&p, walkingAutomaton: false)
        }
        // The checksum and the decoding run side by side (start-up is wall-clock time); the
        // decoded rules are used only if the checksum then agrees. Decoding a damaged file is
        // safe: every read is bounds-checked and every table index checked.
        let sum = Box<UInt64>(0), decoded = Box<Result<RuleSet, Error>?>(nil)
        DispatchQueue.concurrentPerform(iterations: 2) { part in
            if part == 0 {
                var h = ContentHash()
                h.add(payload)
                sum.value = h.value
            } else {
                decoded.value = Result {
                    var p = ByteReader(payload, path: path, owner: file)
                    return try decode(&p)
                }
            }
        }
        guard sum.value == checksum else { throw bad("damaged (checksum mismatch)") }
        let set = try decoded.value!.get()
        stamp?.record(file.identity)
        return set
    }

    /// The automatic cache's record that a cache file was checked, so that the next runs need not
    /// read all of it again (its checksum was 12 million instructions and a page fault every 64 KB
    /// of a 28 MB file on every start-up): `rules-KEY.fzc.ok` beside it holds the file's device,
    /// inode, size, modification and status-change times as they were when its checksum last
    /// agreed. A file whose `stat` still gives exactly these has not been written since: any write,
    /// truncation, replacement or rename gives it a new status-change time (which no program can
    /// set back) or another inode. A stamp is only written for a file last changed at least
    /// `minimumAge` seconds before it was checked, so that a write in the same tick of the file
    /// system's clock cannot go unseen. What a stamp cannot see is the disk itself returning other
    /// bytes than were written (the file system's own checks are for that). Files given with
    /// `--rules X.fzc` are always checked in full.
    struct Stamp {
        static let suffix = ".ok"
        static let minimumAge: Double = 2
        let path: String
        let minimumAge: Double

        func vouches(for identity: MappedFile.Identity) -> Bool {
            guard let data = FileManager.default.contents(atPath: path) else { return false }
            return data.elementsEqual(identity.bytes)
        }

        /// Writes the stamp when the file is old enough (see above); a stamp that cannot be
        /// written only costs the next run its checksum.
        func record(_ identity: MappedFile.Identity) {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let age = Double(now.tv_sec - identity.changed.tv_sec) + Double(now.tv_nsec - identity.changed.tv_nsec) / 1e9
            guard age >= minimumAge, !vouches(for: identity) else { return }
            let temporary = "\(path).\(getpid()).tmp"
            guard FileManager.default.createFile(atPath: temporary, contents: Data(identity.bytes)) else { return }
            if rename(temporary, path) != 0 { try? FileManager.default.removeItem(atPath: temporary) }
        }
    }

    private final class Box<Value>: @unchecked Sendable {
        var value: Value
        init(_ value: Value) { self.value = value }
    }

    // MARK: - Encoding

    static func encode(_ set: RuleSet, model: [UInt8]?, into w: inout ByteWriter) {
        w.i64(set.levels.low); w.i64(set.levels.medium); w.i64(set.levels.high)
        w.count(set.categories.count)
        for c in set.categories {
            w.string(c.id); w.string(c.title); w.string(c.description); w.string(c.advice); w.string(c.script); w.strings(c.labels)
        }
        w.raw(set.wordEdges, counted: true)
        w.u8(set.usesModel ? 1 : 0)
        // The evaluation program, as built from these rules (written last): its clause counts
        // say which regexes get a literal gate.
        let made = set.prebuilt == nil ? Program(set) : nil
        defer { made?.deallocate() }
        let program = made ?? set.prebuilt!.program
        // What a scan reads: each atom's kind and regexes, each rule's name, score and frame.
        // Each regex atom's PCRE2 code too (`SerializedPatterns`), checksummed and aligned, for
        // the PCRE2 library named first (another one compiles the sources), and for a regex that
        // gets a literal gate, the gate: 0 not stored, 1 none, 2 its layout (`StoredGate`); for one
        // that may be searched from its start anchors, they and its anchored twin's code: 0 not
        // stored, 1 none, 2 the anchors, then the code as above (`StoredAnchors`).
        w.string(Pattern.library)
        w.count(set.atoms.count)
        for (i, a) in set.atoms.enumerated() {
            w.u8(a.kind == .words ? 0 : 1)
            w.count(a.regexes.specs.count)
            for p in a.regexes.specs { w.string(p.source); w.u32(p.options.rawValue) }
            guard !a.regexes.specs.isEmpty else { continue }
            let code = a.regexes.serializedCode ?? []
            w.count(code.count)
            if !code.isEmpty {
                w.u64(code.withUnsafeBytes(SerializedPatterns.checksum))
                w.align(8)
                w.raw(code)
            }
            if let spec = Screener.gatedRegex(a, clauseCount: program.atomClauseCount[i]) {
                if let layout = Screener.LiteralGate.layout(source: spec.source, extended: spec.options.contains(.extended), beyondWords: spec.beyondWords) {
                    var g = ByteWriter()
                    layout.encode(into: &g)
                    w.u8(2)
                    w.raw(g.bytes, counted: true)
                } else {
                    w.u8(1)
                }
            } else {
                w.u8(0)
            }
            if let spec = Screener.anchoredRegex(a, clauseCount: program.atomClauseCount[i]) {
                if let anchors = Screener.AnchoredSearch.anchors(source: spec.source, options: spec.options) {
                    var g = ByteWriter()
                    anchors.encode(into: &g)
                    w.u8(2)
                    w.raw(g.bytes, counted: true)
                    let twin = Screener.AnchoredSearch.twin(source: spec.source, options: spec.options).flatMap { Pattern.serialized([$0]) } ?? []
                    w.count(twin.count)
                    if !twin.isEmpty {
                        w.u64(twin.withUnsafeBytes(SerializedPatterns.checksum))
                        w.align(8)
                        w.raw(twin)
                    }
                } else {
                    w.u8(1)
                }
            } else {
                w.u8(0)
            }
        }
        w.count(set.rules.count)
        for r in set.rules {
            w.string(r.id); w.string(r.title); w.i64(r.category ?? -1); w.i64(r.score); w.u8(r.status == .stable ? 0 : 1)
            w.strings(r.tags); w.u8(r.isPrivate ? 1 : 0)
            encode(r.range, &w)
            w.u8(r.frameKind.rawValue)
            w.i64(r.whole ?? Int.min)
            w.u8(r.reads.rawValue)
        }
        // What only the tools read (`LazyRuleDetails`), as one counted block that loading skips.
        var d = ByteWriter()
        d.strings(set.words)
        var shared = SharedRequirements()
        for a in set.atoms {
            d.string(a.display)
            d.ints(a.wordIDs)
            // The compiler's usual atom: its words are the dictionary's words of its ids, and it
            // requires any of them. Stored as one flag each, so loading shares the dictionary's
            // strings instead of making thousands of copies.
            if a.words == a.wordIDs.map({ set.words[$0] }) { d.u8(1) } else { d.u8(0); d.strings(a.words) }
            if a.requirement == .anyOf(a.wordIDs.map { .word($0) }) {
                d.u8(1)
                shared.register(a.requirement)
            } else {
                d.u8(0)
                shared.encode(a.requirement, &d)
            }
            d.strings(a.literalSources)
        }
        for r in set.rules {
            encode(r.condition, &d)
            shared.encode(r.requirement, &d)
            for list in [r.hits, r.misses] {
                d.count(list.count)
                for e in list { d.string(e.text); d.u8(e.isCall ? 1 : 0); encode(e.range, &d) }
            }
            if let u = r.unless { d.u8(1); encode(u, &d) } else { d.u8(0) }
        }
        let sources = set.sources
        d.count(sources.count)
        for s in sources {
            d.string(s.path)
            d.int32s(s.scalars.map { Int32(bitPattern: $0.value) })
        }
        let variants = set.variants
        let keys = variants.entries.keys.sorted()
        d.count(keys.count)
        for k in keys { d.string(k); d.strings(variants.entries[k]!) }
        let falseFriends = variants.falseFriends.keys.sorted()
        d.count(falseFriends.count)
        for l in falseFriends { d.string(l); d.string(variants.falseFriends[l]!) }
        w.raw(d.bytes, counted: true)
        if let model { w.u8(1); w.raw(model, counted: true) } else { w.u8(0) }
        // The prefilter's automaton and the evaluation program, as built from these rules.
        let prebuilt = set.prebuilt
        let automaton = prebuilt?.automaton ?? AhoCorasick(words: set.words)
        w.count(automaton.classCount)
        w.count(automaton.stateCount)
        // Aligned, so that loading reads them in place from the mapped file.
        w.align(4)
        w.uint16s(automaton.classBlocks.buffer)
        w.align(4)
        w.uint16s(automaton.classes.buffer)
        w.align(4)
        w.int32s(automaton.nodes.buffer)
        program.encode(into: &w)
    }

    /// The rule set `encode` wrote. Only what a scan reads is decoded here; the details block
    /// (conditions, requirements, examples, sources, variants) is decoded on first use, and each
    /// atom's regexes are compiled on first use (`AtomPatterns`).
    ///
    /// `walkingAutomaton`: whether to check the automaton's tables record by record (a few million
    /// instructions: about 3 ms of a start-up). The scan walks them without bounds checks, so a file
    /// is walked whenever its checksum is checked (that is, before its first use, and every use of a
    /// `fanzha compile` file); a stamped cache file is the same bytes as when it was walked.
    static func decode(_ r: inout ByteReader, walkingAutomaton: Bool = true) throws -> RuleSet {
        let levels = Levels(low: try r.int(), medium: try r.int(), high: try r.int())
        var categories: [Category] = []
        let n1 = try r.count()
        for _ in 0..<n1 {
            categories.append(Category(id: try r.string(), title: try r.string(), description: try r.string(), advice: try r.string(),
                                       script: try r.string(), labels: try r.strings()))
        }
        let wordEdges = try r.bytes()
        let wordCount = wordEdges.count
        let usesModel = try r.u8() != 0
        let sameLibrary = try r.string() == Pattern.library
        let atomCount = try r.count()
        // Read before the atoms and rules that refer to it; filled in once their counts are known.
        let details = LazyRuleDetails()
        var atoms: [Atom] = []
        atoms.reserveCapacity(atomCount)
        for i in 0..<atomCount {
            let kind: Atom.Kind = try r.u8() == 0 ? .words : .regex
            var specs: [(source: String, options: Pattern.Options)] = []
            let n2 = try r.count()
            for _ in 0..<n2 { specs.append((try r.string(), Pattern.Options(rawValue: try r.u32()))) }
            var code: SerializedPatterns?
            var storedGate: StoredGate?
            var storedAnchors: StoredAnchors?
            /// PCRE2's stored code, in place only: a reader with no mapping to keep (or code off its alignment) compiles.
            func storedCode() throws -> SerializedPatterns? {
                let codeLength = try r.count()
                guard codeLength > 0 else { return nil }
                let checksum = try r.u64()
                try r.align(8)
                let bytes = try r.span(byteCount: codeLength)
                guard sameLibrary, let owner = r.owner, Int(bitPattern: bytes.baseAddress) % 8 == 0 else { return nil }
                return SerializedPatterns(bytes: bytes, checksum: checksum, storage: owner)
            }
            if n2 > 0 {
                code = try storedCode()
                switch try r.u8() {
                case 0: break
                case 1: storedGate = .noGate
                case 2:
                    let bytes = try r.span(byteCount: try r.count())
                    if let owner = r.owner { storedGate = .layout(bytes, storage: owner) }   // else made from the source
                default: throw r.bad("unknown literal gate")
                }
                switch try r.u8() {
                case 0: break
                case 1: storedAnchors = .noAnchors
                case 2:
                    let bytes = try r.span(byteCount: try r.count())
                    let twin = try storedCode()
                    if let owner = r.owner { storedAnchors = .stored(bytes, twin: twin, storage: owner) }   // else read from the source
                default: throw r.bad("unknown start anchors")
                }
            }
            atoms.append(Atom(kind: kind, regexes: specs.isEmpty ? .none : AtomPatterns(specs: specs, code: code, storedGate: storedGate,
                                                                                        storedAnchors: storedAnchors),
                              details: details, index: i))
        }
        var rules: [CompiledRule] = []
        let ruleCount = try r.count()
        rules.reserveCapacity(ruleCount)
        for i in 0..<ruleCount {
            let id = try r.string(), title = try r.string()
            let category = try r.int()
            let score = try r.int()
            // A byte, not the name: 633 strings fewer to decode at every start-up.
            let status: RuleStatus
            switch try r.u8() {
            case 0: status = .stable
            case 1: status = .experimental
            default: throw r.bad("unknown rule status")
            }
            let tags = try r.strings()
            let isPrivate = try r.u8() != 0
            let range = try decodeRange(&r)
            guard category >= -1 && category < categories.count else { throw r.bad("category out of range") }
            var rule = CompiledRule(id: id, title: title, category: category < 0 ? nil : category, score: score, status: status, tags: tags,
                                    isPrivate: isPrivate, range: range, details: details, index: i)
            rule.frameKind = FrameKinds(rawValue: try r.u8())
            let whole = try r.int()
            rule.whole = whole == Int.min ? nil : whole
            rule.reads = FrameKinds(rawValue: try r.u8())
            rules.append(rule)
        }
        let detailLength = try r.count()
        details.locate(try r.reader(skipping: detailLength), words: wordCount, atoms: atomCount, rules: ruleCount)
        let model: [UInt8]? = try r.u8() != 0 ? r.bytes() : nil

        let classCount = try r.count(), stateCount = try r.count()
        // Read in place from the mapped file (copied where it is not aligned), and checked: the
        // scan walks these tables without bounds checks.
        let classBlocks = try r.uint16Table(), classes = try r.uint16Table()
        let nodes = try r.programTable()
        guard AhoCorasick.tablesAreConsistent(classBlocks: classBlocks, classes: classes, classCount: classCount, nodes: nodes,
                                              stateCount: stateCount, wordCount: wordCount, walkingRecords: walkingAutomaton) else {
            for t in [classBlocks, classes] { t.deallocate() }
            nodes.deallocate()
            throw r.bad("inconsistent automaton tables")
        }
        let automaton = AhoCorasick(classBlocks: classBlocks, classes: classes, classCount: classCount, nodes: nodes,
                                    stateCount: stateCount, storage: r.owner)
        let program = try Program(from: &r, rules: ruleCount, atoms: atomCount, words: wordCount)
        guard r.p == r.base.count else {
            program.deallocate()
            throw r.bad("trailing bytes")
        }
        return RuleSet(levels: levels, categories: categories, atoms: atoms, rules: rules, wordEdges: wordEdges,
                       details: details, usesModel: usesModel, prebuilt: PrebuiltMatcher(automaton: automaton, program: program, details: details, storage: r.owner),
                       embeddedModel: model)
    }

    /// The details block `encode` wrote after the rules (see `LazyRuleDetails`).
    static func decodeDetails(_ r: inout ByteReader, words wordCount: Int, atoms atomCount: Int, rules ruleCount: Int) throws -> LazyRuleDetails.Decoded {
        let words = try r.strings()
        guard words.count == wordCount else { throw r.bad("word count") }
        // One `.word(w)` per word, shared by every requirement that names it (each is a boxed enum).
        let wordRequirement = (0..<words.count).map { WordRequirement.word($0) }
        var shared: [WordRequirement] = []
        var atoms: [AtomDetail] = []
        atoms.reserveCapacity(atomCount)
        for _ in 0..<atomCount {
            let display = try r.string()
            let ids = try r.ints(below: words.count)
            let atomWords = try r.u8() == 1 ? ids.map { words[$0] } : r.strings()
            let requirement: WordRequirement
            if try r.u8() == 1 {
                requirement = .anyOf(ids.map { wordRequirement[$0] })
                switch requirement {
                case .all, .any: shared.append(requirement)
                default: break
                }
            } else {
                requirement = try decodeRequirement(&r, words: wordRequirement, shared: &shared)
            }
            atoms.append(AtomDetail(display: display, words: atomWords, wordIDs: ids, requirement: requirement, literalSources: try r.strings()))
        }
        var rules: [RuleDetail] = []
        rules.reserveCapacity(ruleCount)
        for _ in 0..<ruleCount {
            let condition = try decodeCondition(&r, atoms: atomCount, rules: ruleCount)
            let requirement = try decodeRequirement(&r, words: wordRequirement, shared: &shared)
            var examples: [[CompiledExample]] = [[], []]
            for k in 0..<2 {
                let n3 = try r.count()
                for _ in 0..<n3 {
                    examples[k].append(CompiledExample(text: try r.string(), isCall: try r.u8() != 0, range: try decodeRange(&r)))
                }
            }
            let unless = try r.u8() != 0 ? decodeCondition(&r, atoms: atomCount, rules: ruleCount) : nil
            rules.append(RuleDetail(condition: condition, requirement: requirement, hits: examples[0], misses: examples[1], unless: unless))
        }
        var sources: [SourceFile] = []
        let n4 = try r.count()
        for _ in 0..<n4 {
            let path = try r.string()
            let values = try r.int32s()
            for v in values where Unicode.Scalar(UInt32(bitPattern: v)) == nil { throw r.bad("invalid scalar in a source") }
            // Checked above: every value is a scalar, which is a UInt32 in memory.
            let scalars = [Unicode.Scalar](unsafeUninitializedCapacity: values.count) { buffer, initialized in
                values.withUnsafeBytes { bytes in
                    if let from = bytes.baseAddress { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: from, byteCount: bytes.count) }
                }
                initialized = values.count
            }
            sources.append(SourceFile(path: path, scalars: scalars))
        }
        var entries: [String: [String]] = [:]
        let n5 = try r.count()
        for _ in 0..<n5 { entries[try r.string()] = try r.strings() }
        var falseFriends: [String: String] = [:]
        let n6 = try r.count()
        for _ in 0..<n6 { falseFriends[try r.string()] = try r.string() }
        guard r.p == r.base.count else { throw r.bad("trailing bytes in the details") }
        return LazyRuleDetails.Decoded(words: words, atoms: atoms, rules: rules, sources: sources,
                                       variants: VariantDictionary(entries: entries, falseFriends: falseFriends))
    }

    static func encode(_ range: SourceRange, _ w: inout ByteWriter) { w.i64(range.file); w.i64(range.start); w.i64(range.end) }

    static func decodeRange(_ r: inout ByteReader) throws -> SourceRange {
        SourceRange(file: try r.int(), start: try r.int(), end: try r.int())
    }

    static func encode(_ q: WordRequirement, _ w: inout ByteWriter) {
        switch q {
        case .always: w.u8(0)
        case .word(let x): w.u8(1); w.i64(x)
        case .all(let xs): w.u8(2); w.count(xs.count); for x in xs { encode(x, &w) }
        case .any(let xs): w.u8(3); w.count(xs.count); for x in xs { encode(x, &w) }
        }
    }

    /// Requirements repeat (a rule's requirement holds its term lists' whole word lists, as the
    /// atoms do): each `all`/`any` is written once and later referred to by number (tag 4), in
    /// the order both sides register them (after their parts), so loading shares one value.
    struct SharedRequirements {
        var numbers: [[UInt8]: Int] = [:]
        var count = 0

        /// A requirement the reader rebuilds without reading it (an atom's `any` of its words).
        mutating func register(_ q: WordRequirement) {
            switch q {
            case .all, .any: add(q)
            case .always, .word: break
            }
        }

        private mutating func add(_ q: WordRequirement) {
            var plain = ByteWriter()
            CompiledRuleCache.encode(q, &plain)
            if numbers[plain.bytes] == nil { numbers[plain.bytes] = count }
            count += 1
        }

        mutating func encode(_ q: WordRequirement, _ w: inout ByteWriter) {
            let xs: [WordRequirement], tag: UInt8
            switch q {
            case .always, .word: CompiledRuleCache.encode(q, &w); return
            case .all(let ys): xs = ys; tag = 2
            case .any(let ys): xs = ys; tag = 3
            }
            var plain = ByteWriter()
            CompiledRuleCache.encode(q, &plain)
            if let k = numbers[plain.bytes] {
                w.u8(4)
                w.count(k)
                return
            }
            w.u8(tag)
            w.count(xs.count)
            for x in xs { encode(x, &w) }
            numbers[plain.bytes] = count
            count += 1
        }
    }

    static func decodeRequirement(_ r: inout ByteReader, words: [WordRequirement], shared: inout [WordRequirement]) throws -> WordRequirement {
        switch try r.u8() {
        case 0: return .always
        case 1:
            let x = try r.int()
            guard x >= 0 && x < words.count else { throw r.bad("word id out of range") }
            return words[x]
        case 4:
            let k = Int(try r.u32())
            guard k < shared.count else { throw r.bad("requirement reference out of range") }
            return shared[k]
        case let tag where tag == 2 || tag == 3:
            var xs: [WordRequirement] = []
            let n6 = try r.count()
            for _ in 0..<n6 { xs.append(try decodeRequirement(&r, words: words, shared: &shared)) }
            let q: WordRequirement = tag == 2 ? .all(xs) : .any(xs)
            shared.append(q)
            return q
        default: throw r.bad("unknown requirement")
        }
    }

    static func encode(_ c: Condition, _ w: inout ByteWriter) {
        func list(_ xs: [Condition]) { w.count(xs.count); for x in xs { encode(x, &w) } }
        switch c {
        case .atom(let a): w.u8(0); w.i64(a)
        case .rule(let x): w.u8(1); w.i64(x)
        case .and(let xs): w.u8(2); list(xs)
        case .or(let xs): w.u8(3); list(xs)
        case .not(let x): w.u8(4); encode(x, &w)
        case .atLeast(let n, let xs): w.u8(5); w.i64(n); list(xs)
        case .near(let a, let b, let d, let unit): w.u8(6); encode(a, &w); encode(b, &w); w.i64(d); w.u8(unit == .characters ? 0 : 1)
        case .then(let a, let b, let gap): w.u8(7); encode(a, &w); encode(b, &w); w.i64(gap ?? Int.min)
        case .count(let x, let cmp, let n): w.u8(8); encode(x, &w); w.u8(UInt8(Comparison.allCases.firstIndex(of: cmp)!)); w.i64(n)
        case .scope(let s, let x): w.u8(9); w.u8(s == .caller ? 0 : 1); encode(x, &w)
        case .model(let cmp, let t): w.u8(10); w.u8(UInt8(Comparison.allCases.firstIndex(of: cmp)!)); w.u64(t.bitPattern)
        }
    }

    static func decodeCondition(_ r: inout ByteReader, atoms: Int, rules: Int) throws -> Condition {
        func one() throws -> Condition { try decodeCondition(&r, atoms: atoms, rules: rules) }
        func list() throws -> [Condition] {
            var xs: [Condition] = []
            let n7 = try r.count()
            for _ in 0..<n7 { xs.append(try one()) }
            return xs
        }
        func comparison() throws -> Comparison {
            let k = Int(try r.u8())
            guard k < Comparison.allCases.count else { throw r.bad("unknown comparison") }
            return Comparison.allCases[k]
        }
        switch try r.u8() {
        case 0:
            let a = try r.int()
            guard a >= 0 && a < atoms else { throw r.bad("atom out of range") }
            return .atom(a)
        case 1:
            let x = try r.int()
            guard x >= 0 && x < rules else { throw r.bad("rule out of range") }
            return .rule(x)
        case 2: return .and(try list())
        case 3: return .or(try list())
        case 4: return .not(try one())
        case 5: return .atLeast(try r.int(), try list())
        case 6:
            let a = try one(), b = try one(), d = try r.int()
            let unit = try r.u8()
            guard unit < 2 else { throw r.bad("unknown distance unit") }
            return .near(a, b, distance: d, unit: unit == 0 ? .characters : .turns)
        case 7:
            let a = try one(), b = try one(), gap = try r.int()
            return .then(a, b, maxGap: gap == Int.min ? nil : gap)
        case 8: return .count(try one(), try comparison(), try r.int())
        case 9:
            let s = try r.u8()
            guard s < 2 else { throw r.bad("unknown speaker") }
            return .scope(s == 0 ? .caller : .callee, try one())
        case 10: return .model(try comparison(), Double(bitPattern: try r.u64()))
        default: throw r.bad("unknown condition")
        }
    }
}

/// The automaton and program a compiled rule cache carried; the rule set owns them (the program's
/// tables are freed with it).
final class PrebuiltMatcher: @unchecked Sendable {
    let automaton: AhoCorasick
    let program: Program
    /// The compiled rule set's details, decoded on first use (nil when the details were in hand).
    let details: LazyRuleDetails?
    /// The mapped file the program's tables are read in place from (nil when they were copied).
    private let storage: AnyObject?
    init(automaton: AhoCorasick, program: Program, details: LazyRuleDetails? = nil, storage: AnyObject? = nil) {
        self.automaton = automaton
        self.program = program
        self.details = details
        self.storage = storage
    }
    deinit { program.deallocate() }
}

/// A compiled rule set's details block: each atom's display text, words, word ids, requirement
/// and literal sources, each rule's condition, requirement, `unless` and examples, the rule files
/// and the variant dictionary. Scanning reads none of them (the evaluation program and the
/// automaton hold what it needs), so loading skips the block; the tools (`fanzha test`, explain's
/// source lines, writing the set again) decode it all at once, the first time any part is asked
/// for, on whichever thread asks first.
final class LazyRuleDetails: @unchecked Sendable {
    struct Decoded: Sendable {
        let words: [String]
        let atoms: [AtomDetail]
        let rules: [RuleDetail]
        let sources: [SourceFile]
        let variants: VariantDictionary
    }

    private let lock = NSLock()
    // All guarded by `lock`: the block until decoded, then the decoded details.
    private var block: ByteReader?
    private var wordCount = 0, atomCount = 0, ruleCount = 0
    private var value: Decoded?

    /// Where the block is (in the mapped file the reader keeps alive), and the counts it is checked against.
    func locate(_ block: ByteReader, words: Int, atoms: Int, rules: Int) {
        lock.lock()
        defer { lock.unlock() }
        self.block = block
        wordCount = words
        atomCount = atoms
        ruleCount = rules
    }

    /// Whether something asked for the details (tests: a scan must not).
    var isDecoded: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value != nil
    }

    var decoded: Decoded {
        lock.lock()
        defer { lock.unlock() }
        if let value { return value }
        guard var r = block else { preconditionFailure("a compiled rule set's details were read before they were located") }
        do {
            let d = try CompiledRuleCache.decodeDetails(&r, words: wordCount, atoms: atomCount, rules: ruleCount)
            value = d
            block = nil
            return d
        } catch {
            // The whole file, this block included, passed its checksum before the rule set was
            // handed out, and was written by this very build (`buildIdentity`): only a file forged
            // with a matching checksum can get here, and a `.fzc` file is trusted input once it
            // checks out (see `CompiledRuleCache`).
            fatalError("\(error)")
        }
    }
}

extension Program {
    func encode(into w: inout ByteWriter) {
        w.count(nodes.count)
        for n in nodes { w.u8(n.op.rawValue); w.i32(n.arg); w.i32(n.arg2); w.i32(n.first); w.i32(n.count) }
        for t in [kids, roots, clauseFirst, clauseCount, clausesByWordStart, clausesByWord, scores, categories, frameRules,
                  unlessRoots, frameWhole, regexAtoms, atomClauseFirst, atomClauseCount, rulesByWordStart, rulesByWord, unfiltered,
                  atomsByWordStart, atomsByWord, ruledOutBy] {
            w.align(4)   // so that loading reads the table in place (`ByteReader.programTable`)
            w.int32s(t.buffer)
        }
        w.i64(clauseTotal)
        for t in [isPrivate, moneyRequest, appeal, atomIsWords] { w.raw(t.map { $0 ? 1 : 0 }, counted: true) }
        for t in [blind, frameKind] { w.raw(Array(t), counted: true) }
    }

    /// The program `encode` wrote; every index a table holds is checked against the table it
    /// points into, so a damaged file cannot send the evaluation outside its memory.
    init(from r: inout ByteReader, rules: Int, atoms: Int, words: Int) throws {
        // Nodes: 17 bytes each (op, then arg, arg2, first, count), bounds-checked once as a whole.
        let n = try r.count()
        let packed = try r.span(byteCount: n * 17)
        var nodes: [Node] = []
        nodes.reserveCapacity(n)
        for i in 0..<n {
            let at = i * 17
            guard let op = Op(rawValue: packed[at]) else { throw r.bad("unknown program node") }
            func field(_ k: Int) -> Int32 { Int32(littleEndian: packed.loadUnaligned(fromByteOffset: at + 1 + 4 * k, as: Int32.self)) }
            nodes.append(Node(op: op, arg: field(0), arg2: field(1), first: field(2), count: field(3)))
        }
        // The Int32 tables are read in place from the mapped file (the rule set's `PrebuiltMatcher`
        // keeps it mapped): at start-up, checking them is all the work they cost.
        var t: [Table<Int32>] = []
        for _ in 0..<20 { t.append(try r.programTable()) }
        let clauseTotal = try r.int()
        var flags: [[Bool]] = []
        for _ in 0..<4 { flags.append(try r.bytes().map { $0 != 0 }) }
        let blind = try r.bytes(), frameKind = try r.bytes()
        // Shapes and index bounds. Each check is one pass over a table, kept simple enough for the
        // compiler to vectorise (the lowest and highest entry against the bounds).
        let kids = t[0]
        func within(_ xs: Table<Int32>, _ bound: Int, allowNegative: Bool = false) -> Bool {
            var lowest = Int32.max, highest = Int32.min
            for x in xs.buffer {
                lowest = Swift.min(lowest, x)
                highest = Swift.max(highest, x)
            }
            return xs.count == 0 || (lowest >= (allowNegative ? -1 : 0) && Int(highest) < bound)
        }
        func starts(_ xs: Table<Int32>, _ entries: Int, _ listCount: Int) -> Bool {
            guard xs.count == entries + 1, xs[0] == 0, Int(xs[entries]) == listCount else { return false }
            let b = xs.buffer
            var rising = true
            for i in 0..<entries { rising = rising && b[i] <= b[i + 1] }
            return rising
        }
        func ranges(_ first: Table<Int32>, _ count: Table<Int32>, _ entries: Int, _ bound: Int) -> Bool {
            guard first.count == entries, count.count == entries else { return false }
            let f = first.buffer, c = count.buffer
            var inside = true
            for i in 0..<entries { inside = inside && f[i] >= 0 && c[i] >= 0 && Int(f[i]) + Int(c[i]) <= bound }
            return inside
        }
        var ok = true
        for node in nodes {
            let first = Int(node.first), count = Int(node.count), arg = Int(node.arg)
            if first < 0 || count < 0 || first + count > kids.count { ok = false }
            if node.op == .atom && !(arg >= 0 && arg < atoms) { ok = false }
            if node.op == .rule && !(arg >= 0 && arg < rules) { ok = false }
        }
        ok = ok && within(kids, nodes.count) && t[1].count == rules && within(t[1], nodes.count)
        ok = ok && ranges(t[2], t[3], rules, clauseTotal)
        ok = ok && starts(t[4], words, t[5].count) && within(t[5], clauseTotal)
        ok = ok && t[6].count == rules && t[7].count == rules && within(t[8], rules)
        ok = ok && t[9].count == rules && within(t[9], nodes.count, allowNegative: true) && t[10].count == rules
        ok = ok && within(t[11], atoms) && ranges(t[12], t[13], atoms, clauseTotal)
        ok = ok && starts(t[14], words, t[15].count) && within(t[15], rules) && within(t[16], rules)
        ok = ok && starts(t[17], words, t[18].count) && within(t[18], atoms)
        ok = ok && t[19].count == nodes.count && within(t[19], nodes.count, allowNegative: true)
        ok = ok && flags[0].count == rules && flags[1].count == rules && flags[2].count == rules && flags[3].count == atoms
        ok = ok && blind.count == rules && frameKind.count == rules
        self.nodes = Table(nodes)
        self.kids = kids
        roots = t[1]; clauseFirst = t[2]; clauseCount = t[3]
        clausesByWordStart = t[4]; clausesByWord = t[5]
        scores = t[6]; categories = t[7]; frameRules = t[8]
        unlessRoots = t[9]; frameWhole = t[10]; regexAtoms = t[11]
        atomClauseFirst = t[12]; atomClauseCount = t[13]
        rulesByWordStart = t[14]; rulesByWord = t[15]; unfiltered = t[16]
        atomsByWordStart = t[17]; atomsByWord = t[18]; ruledOutBy = t[19]
        self.clauseTotal = clauseTotal
        isPrivate = Table(flags[0]); moneyRequest = Table(flags[1]); appeal = Table(flags[2]); atomIsWords = Table(flags[3])
        self.blind = Table(blind); self.frameKind = Table(frameKind)
        guard ok else {
            deallocate()   // the tables that were copied
            throw r.bad("inconsistent program tables")
        }
        kidPrefilter = Program.kidPrefilter(nodes: self.nodes, kids: kids, atomIsWords: atomIsWords,
                                            atomClauseFirst: atomClauseFirst, atomClauseCount: atomClauseCount)
        wordLists = Program.wordLists(clauses: clausesByWordStart, rules: rulesByWordStart, atoms: atomsByWordStart)
        // `ruledOutBy` is stored, not made again (made, it cost a start-up about 1.2 million
        // instructions). What `Evaluation.ruledOut` reads through it must stay inside its tables:
        // each node named names itself, and is an atom or an `or`/`at_least` of word lists.
        let named = ruledOutBy
        for id in 0..<nodes.count where named[id] >= 0 {
            let at = Int(named[id])
            guard at == id else {
                if named[at] != Int32(at) { ok = false }
                continue
            }
            let n = self.nodes[id]
            if n.op == .atom { continue }
            if n.op != .or && n.op != .atLeast { ok = false }
            for k in Int(n.first)..<(Int(n.first) + Int(n.count)) where kidPrefilter[k] < 0 { ok = false }
        }
        guard ok else {
            deallocate()
            throw r.bad("inconsistent program tables")
        }
    }
}

extension Screener.LiteralGate.Layout {
    func encode(into w: inout ByteWriter) {
        w.count(tables.count)
        for t in tables { w.int32s(t) }
        w.raw(bytes, counted: true)
    }

    /// The layout `encode` wrote, if it is one `LiteralGate.layout` could have made (nil: make
    /// the gate from its source instead). A stamped cache file is not checksummed again, so these
    /// checks are what keep a damaged gate from reading outside its tables: every index inside
    /// its table, a node's children after it (so a check ends), every literal at least one byte
    /// and every scalar bit inside `ScalarBits`
    /// (at least one a literal: `init(_:)` reads each literal's first).
    init?(stored: UnsafeRawBufferPointer) {
        var r = ByteReader(stored, path: "literal gate")
        guard let n = try? r.count(), n == 7,
              let tables = try? (0..<n).map({ _ in try r.int32s() }), let bytes = try? r.bytes(), r.p == stored.count else { return nil }
        let (kind, first, count, kids, byteStart, bitStart, bits) = (tables[0], tables[1], tables[2], tables[3], tables[4], tables[5], tables[6])
        let nodes = kind.count, literals = byteStart.count - 1
        guard nodes > 0, first.count == nodes, count.count == nodes, literals >= 0, bitStart.count == literals + 1,
              byteStart[0] == 0, Int(byteStart[literals]) == bytes.count, bitStart[0] == 0, Int(bitStart[literals]) == bits.count,
              (0..<literals).allSatisfy({ byteStart[$0] < byteStart[$0 + 1] && bitStart[$0] < bitStart[$0 + 1] }),
              bits.allSatisfy({ $0 >= 0 && Int($0) < ScalarBits.words * 64 }) else { return nil }
        for i in 0..<nodes {
            let f = Int(first[i]), c = Int(count[i])
            switch kind[i] {
            case 0: guard f >= 0 && f < literals else { return nil }
            case 1, 2:
                guard f >= 0 && c >= 1 && f + c <= kids.count,
                      kids[f..<(f + c)].allSatisfy({ Int($0) > i && Int($0) < nodes }) else { return nil }
            default: return nil
            }
        }
        self.init(tables: tables, bytes: bytes)
    }
}

/// Little-endian fixed-width values, counted strings and arrays.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ x: UInt8) { bytes.append(x) }
    mutating func u32(_ x: UInt32) { withUnsafeBytes(of: x.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i32(_ x: Int32) { u32(UInt32(bitPattern: x)) }
    mutating func u64(_ x: UInt64) { withUnsafeBytes(of: x.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i64(_ x: Int) { u64(UInt64(bitPattern: Int64(x))) }
    mutating func count(_ n: Int) { u32(UInt32(n)) }
    mutating func raw(_ b: [UInt8], counted: Bool = false) {
        if counted { count(b.count) }
        bytes.append(contentsOf: b)
    }
    mutating func string(_ s: String) { raw(Array(s.utf8), counted: true) }
    mutating func strings(_ xs: [String]) { count(xs.count); for x in xs { string(x) } }
    mutating func ints(_ xs: [Int]) { count(xs.count); for x in xs { i64(x) } }
    /// Zero bytes up to a multiple of `n` (from the start of the payload, itself at an offset
    /// that is a multiple of 8 in the file).
    mutating func align(_ n: Int) {
        while bytes.count % n != 0 { bytes.append(0) }
    }

    mutating func int32s(_ xs: [Int32]) { xs.withUnsafeBufferPointer { values($0) } }
    mutating func int32s(_ xs: UnsafeBufferPointer<Int32>) { values(xs) }
    mutating func uint16s(_ xs: UnsafeBufferPointer<UInt16>) { values(xs) }

    /// A count, then the values, little-endian (what `ByteReader`'s tables read in place).
    private mutating func values<T: FixedWidthInteger>(_ xs: UnsafeBufferPointer<T>) {
        count(xs.count)
        #if _endian(little)
        bytes.append(contentsOf: UnsafeRawBufferPointer(xs))
        #else
        for x in xs { withUnsafeBytes(of: x.littleEndian) { bytes.append(contentsOf: $0) } }
        #endif
    }
}

/// Reads what `ByteWriter` wrote; every read is bounds-checked, and a short or malformed file is a
/// `CacheError`, never a crash.
struct ByteReader {
    let base: UnsafeRawBufferPointer
    let path: String
    var p = 0
    /// The mapped file `base` lies in, for tables read in place.
    let owner: AnyObject?

    init(_ base: UnsafeRawBufferPointer, path: String, owner: AnyObject? = nil) {
        self.base = base
        self.path = path
        self.owner = owner
    }

    func bad(_ problem: String) -> CompiledRuleCache.CacheError {
        CompiledRuleCache.CacheError(path: path, problem: "damaged compiled rule set (\(problem) at byte \(p))")
    }

    @inline(__always)
    private mutating func take(_ n: Int) throws -> Int {
        guard n >= 0, n <= base.count - p else { throw bad("unexpected end") }
        defer { p += n }
        return p
    }

    /// A reader of the next `n` bytes (in the same mapped file), which this one skips.
    mutating func reader(skipping n: Int) throws -> ByteReader {
        let at = try take(n)
        return ByteReader(UnsafeRawBufferPointer(rebasing: base[at..<(at + n)]), path: path, owner: owner)
    }

    mutating func u8() throws -> UInt8 { base[try take(1)] }
    mutating func u32() throws -> UInt32 { UInt32(littleEndian: base.loadUnaligned(fromByteOffset: try take(4), as: UInt32.self)) }
    mutating func i32() throws -> Int32 { Int32(bitPattern: try u32()) }
    mutating func u64() throws -> UInt64 { UInt64(littleEndian: base.loadUnaligned(fromByteOffset: try take(8), as: UInt64.self)) }
    mutating func int() throws -> Int { Int(Int64(bitPattern: try u64())) }
    mutating func count() throws -> Int {
        let n = Int(try u32())
        guard n <= base.count - p else { throw bad("count \(n) larger than the file") }
        return n
    }
    mutating func bytes() throws -> [UInt8] {
        let n = try count()
        let at = try take(n)
        return Array(UnsafeRawBufferPointer(rebasing: base[at..<(at + n)]))
    }
    mutating func string() throws -> String {
        let n = try count()
        let at = try take(n)
        return String(decoding: UnsafeRawBufferPointer(rebasing: base[at..<(at + n)]), as: UTF8.self)
    }
    mutating func strings() throws -> [String] {
        let n = try count()
        var out: [String] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try string()) }
        return out
    }
    mutating func ints(below bound: Int) throws -> [Int] {
        let n = try count()
        var out: [Int] = []
        out.reserveCapacity(n)
        for _ in 0..<n {
            let x = try int()
            guard x >= 0 && x < bound else { throw bad("index out of range") }
            out.append(x)
        }
        return out
    }
    mutating func align(_ n: Int) throws {
        while p % n != 0 {
            guard try u8() == 0 else { throw bad("bad padding") }
        }
    }

    /// The next `byteCount` bytes, in place, skipped.
    mutating func span(byteCount: Int) throws -> UnsafeRawBufferPointer {
        let at = try take(byteCount)
        return UnsafeRawBufferPointer(rebasing: base[at..<(at + byteCount)])
    }

    /// A program table of Int32 after its alignment padding: read in place from the mapped file
    /// (`owner`, which whoever holds the program keeps alive), or copied when not aligned there.
    mutating func programTable() throws -> Table<Int32> { try table() }

    /// A table of UInt16 after its alignment padding, read in place as `programTable` reads Int32s.
    mutating func uint16Table() throws -> Table<UInt16> { try table() }

    private mutating func table<T: FixedWidthInteger & BitwiseCopyable>() throws -> Table<T> {
        try align(4)
        let n = try count()
        let at = try take(n * MemoryLayout<T>.size)
        #if _endian(little)
        if owner != nil, (Int(bitPattern: base.baseAddress!) + at) % MemoryLayout<T>.alignment == 0 {
            return Table(borrowing: base.baseAddress! + at, count: n)
        }
        #endif
        return Table((0..<n).map { T(littleEndian: base.loadUnaligned(fromByteOffset: at + $0 * MemoryLayout<T>.size, as: T.self)) })
    }

    mutating func int32s() throws -> [Int32] {
        let n = try count()
        let at = try take(n * 4)
        let src = base.baseAddress! + at
        let values = [Int32](unsafeUninitializedCapacity: n) { buf, initialized in
            if n > 0 { UnsafeMutableRawPointer(buf.baseAddress!).copyMemory(from: src, byteCount: n * 4) }
            initialized = n
        }
        #if _endian(little)
        return values
        #else
        return values.map { Int32(littleEndian: $0) }
        #endif
    }
}

/// A 64-bit hash of bytes, eight at a time (a checksum and a cache key, not a defence against forgery).
struct ContentHash {
    private(set) var value: UInt64 = 0x9E37_79B9_7F4A_7C15

    @inline(__always)
    private mutating func mix(_ x: UInt64) {
        value = (value ^ (x &* 0xC2B2_AE3D_27D4_EB4F))
        value = ((value &<< 31) | (value &>> 33)) &* 0x9E37_79B9_7F4A_7C15
    }

    mutating func add(_ x: UInt64) { mix(x) }

    mutating func add(_ bytes: [UInt8]) { bytes.withUnsafeBytes { add($0) } }

    mutating func add(_ b: UnsafeRawBufferPointer) {
        let n = b.count
        var i = 0
        // Four independent lanes over 32 bytes at a time (a compiled rule set is about 25 MB,
        // checked on every load): each step is a bijection of its lane, so one changed word
        // always changes the result.
        var l0 = value, l1 = value ^ 0x6A09_E667_F3BC_C908, l2 = value ^ 0xBB67_AE85_84CA_A73B, l3 = value ^ 0x3C6E_F372_FE94_F82B
        while i &+ 32 <= n {
            l0 = (l0 ^ b.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            l1 = (l1 ^ b.loadUnaligned(fromByteOffset: i &+ 8, as: UInt64.self)) &* 0xC2B2_AE3D_27D4_EB4F
            l2 = (l2 ^ b.loadUnaligned(fromByteOffset: i &+ 16, as: UInt64.self)) &* 0x1656_67B1_9E37_79F9
            l3 = (l3 ^ b.loadUnaligned(fromByteOffset: i &+ 24, as: UInt64.self)) &* 0x85EB_CA77_C2B2_AE63
            i &+= 32
        }
        mix(l0); mix(l1); mix(l2); mix(l3)
        while i &+ 8 <= n {
            mix(b.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i &+= 8
        }
        var tail: UInt64 = 0
        var k: UInt64 = 0
        while i < n { tail |= UInt64(b[i]) << (8 &* k); i &+= 1; k &+= 1 }
        mix(tail ^ (UInt64(n) << 56))
        mix(UInt64(n))
    }
}

/// A file mapped read-only into memory (unmapped when released).
final class MappedFile {
    let bytes: UnsafeRawBufferPointer
    /// The file's `stat` when it was mapped.
    let identity: Identity

    /// What `stat` says of a file that changes whenever the file is written (see `Stamp`).
    struct Identity {
        let device: UInt64, inode: UInt64, size: UInt64
        let modified: timespec, changed: timespec

        init(_ st: stat) {
            device = UInt64(truncatingIfNeeded: st.st_dev)
            inode = UInt64(truncatingIfNeeded: st.st_ino)
            size = UInt64(truncatingIfNeeded: st.st_size)
            #if canImport(Glibc)
            modified = st.st_mtim; changed = st.st_ctim
            #else
            modified = st.st_mtimespec; changed = st.st_ctimespec
            #endif
        }

        var bytes: [UInt8] {
            var w = ByteWriter()
            w.raw(Array("FZCSTAMP".utf8))
            w.u32(CompiledRuleCache.formatVersion)
            for x in [device, inode, size] { w.u64(x) }
            for t in [modified, changed] {
                w.u64(UInt64(truncatingIfNeeded: t.tv_sec))
                w.u64(UInt64(truncatingIfNeeded: t.tv_nsec))
            }
            return w.bytes
        }
    }

    init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CompiledRuleCache.CacheError(path: path, problem: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CompiledRuleCache.CacheError(path: path, problem: String(cString: strerror(errno))) }
        let size = Int(st.st_size)
        guard size > 0 else { throw CompiledRuleCache.CacheError(path: path, problem: "empty file") }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw CompiledRuleCache.CacheError(path: path, problem: "cannot map: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
        identity = Identity(st)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count) }
}
