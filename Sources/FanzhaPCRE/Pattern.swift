import CPCRE2

/// A compiled PCRE2 pattern over UTF-8 subjects.
///
/// Always compiled with UTF, UCP and NEVER_BACKSLASH_C, then JIT-compiled; and with
/// MATCH_INVALID_UTF unless every subject is known to be valid UTF-8 (`validSubjects`).
/// MATCH_INVALID_UTF lets a subject with broken UTF-8 be searched without a validity pass per
/// call (which, in a loop over one large subject, made throughput collapse) and without an error:
/// invalid bytes simply never match. It has a price: the JIT's code then checks every character
/// it reads, which made matching and JIT compilation about a tenth dearer on the engine's
/// short texts (docs/BENCHMARKS.md, issue 22, twelfth round). The engine searches only
/// normalised text, valid UTF-8 by construction, so its patterns go without it.
///
/// A `Pattern` is immutable after init and may be shared between threads; everything a match
/// mutates lives in a per-thread `MatchScratch`.
public final class Pattern: @unchecked Sendable {
    public struct Options: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let caseless = Options(rawValue: 0x0000_0008)   // PCRE2_CASELESS
        public static let dotAll = Options(rawValue: 0x0000_0020)     // PCRE2_DOTALL
        public static let multiline = Options(rawValue: 0x0000_0400)  // PCRE2_MULTILINE
        public static let extended = Options(rawValue: 0x0000_0080)   // PCRE2_EXTENDED
        public static let literal = Options(rawValue: 0x0200_0000)    // PCRE2_LITERAL
        /// Matches only at the start offset given (the JIT supports this at compile time only).
        public static let anchored = Options(rawValue: 0x8000_0000)   // PCRE2_ANCHORED
    }

    public let source: String
    public let options: Options
    /// Whether JIT compilation succeeded (it can fail for exotic patterns; the interpreter is then used).
    public let isJIT: Bool
    private let code: OpaquePointer

    /// Match options: for a pattern whose subjects are valid UTF-8, NO_UTF_CHECK spares the
    /// interpreter (a pattern the JIT could not compile) its validity pass over the subject.
    private let matchOptions: UInt32

    private static let baseOptions: UInt32 = 0x0008_0000 /* UTF */ | 0x0002_0000 /* UCP */ | 0x0010_0000 /* NEVER_BACKSLASH_C */

    /// - Parameter validSubjects: every subject this pattern will search is valid UTF-8, each
    ///   search starting at a character's first byte. PCRE2's behaviour on any other subject is
    ///   then undefined; false (the default) makes broken UTF-8 simply not match.
    public convenience init(_ source: String, options: Options = [], validSubjects: Bool = false) throws(PatternCompileError) {
        var errorCode: Int32 = 0
        var errorOffset: Int = 0
        let utf8 = Array(source.utf8)
        let compiled = utf8.withUnsafeBufferPointer { buf in
            pcre2_compile_8(buf.baseAddress ?? UnsafePointer(bitPattern: 1), buf.count,
                            Pattern.compileOptions(options, validSubjects: validSubjects), &errorCode, &errorOffset, nil)
        }
        guard let compiled else {
            throw PatternCompileError(message: Pattern.message(for: errorCode), byteOffset: errorOffset,
                                      scalarOffset: Pattern.scalarOffset(in: utf8, byte: errorOffset))
        }
        self.init(adopting: compiled, source: source, options: options, validSubjects: validSubjects)
    }

    /// A pattern around `code`, PCRE2's compiled code of `source` (freed with the pattern), JIT-compiled here.
    private init(adopting code: OpaquePointer, source: String, options: Options, validSubjects: Bool) {
        self.source = source
        self.options = options
        self.code = code
        matchOptions = validSubjects ? 0x4000_0000 /* NO_UTF_CHECK */ : 0
        // `(*NO_JIT)` makes pcre2_jit_compile succeed without generating code: ask for the code's size.
        var jitSize = 0
        isJIT = pcre2_jit_compile_8(code, 0x1 /* PCRE2_JIT_COMPLETE */) == 0
            && pcre2_pattern_info_8(code, 10 /* PCRE2_INFO_JITSIZE */, &jitSize) == 0 && jitSize > 0
    }

    /// What `pcre2_compile` is given for a pattern with `options`.
    private static func compileOptions(_ options: Options, validSubjects: Bool) -> UInt32 {
        // PCRE2 refuses UCP and NEVER_BACKSLASH_C together with LITERAL (they mean nothing there).
        var base = options.contains(.literal) ? Pattern.baseOptions & ~(0x0002_0000 | 0x0010_0000) : Pattern.baseOptions
        if !validSubjects { base |= 0x0400_0000 /* MATCH_INVALID_UTF */ }
        return base | options.rawValue
    }

    // MARK: - Compiled code kept between runs

    /// The PCRE2 library's version and code unit width: serialised code (`serialized`) is only
    /// ever decoded by the same (PCRE2 itself refuses another major or minor version or width).
    public static let library: String = {
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = pcre2_config_8(11 /* PCRE2_CONFIG_VERSION */, &buffer)
        return "PCRE2 \(String(decoding: buffer.prefix(max(0, Int(n) - 1)), as: UTF8.self)), 8-bit"
    }()

    /// PCRE2's compiled code of `patterns` (without their JIT code, which PCRE2 cannot serialise),
    /// as one byte string `deserialized` turns back into the same patterns without compiling
    /// their sources; nil if PCRE2 refuses.
    public static func serialized(_ patterns: [Pattern]) -> [UInt8]? {
        var codes: [OpaquePointer?] = patterns.map(\.code)
        var bytes: UnsafeMutablePointer<UInt8>?
        var size = 0
        guard !patterns.isEmpty, pcre2_serialize_encode_8(&codes, Int32(codes.count), &bytes, &size, nil) == Int32(codes.count),
              let bytes else { return nil }
        defer { pcre2_serialize_free_8(bytes) }
        return Array(UnsafeBufferPointer(start: bytes, count: size))
    }

    /// The patterns of `specs` (sources and options, in order) from `bytes`, which `serialized`
    /// wrote for them with this library and the same `validSubjects`, JIT-compiled as `init`
    /// does; nil when the bytes are not that (another PCRE2 version or width, another number of
    /// patterns, or code compiled with other options): compile the sources instead.
    ///
    /// PCRE2 checks the code's header, not its body, and takes no length: `bytes` must be the
    /// very bytes `serialized` gave (a caller that stores them checks them first).
    public static func deserialized(_ bytes: UnsafeRawBufferPointer, specs: [(source: String, options: Options)],
                                    validSubjects: Bool) -> [Pattern]? {
        // The header: magic, version, configuration, number of codes.
        guard !specs.isEmpty, bytes.count >= 16, let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
              pcre2_serialize_get_number_of_codes_8(base) == Int32(specs.count) else { return nil }
        var codes = [OpaquePointer?](repeating: nil, count: specs.count)
        guard pcre2_serialize_decode_8(&codes, Int32(specs.count), base, nil) == Int32(specs.count) else { return nil }
        let decoded = codes.compactMap { $0 }
        let asCompiled = decoded.count == specs.count && zip(decoded, specs).allSatisfy { code, spec in
            var given: UInt32 = 0
            return pcre2_pattern_info_8(code, 1 /* PCRE2_INFO_ARGOPTIONS */, &given) == 0
                && given == compileOptions(spec.options, validSubjects: validSubjects)
        }
        guard asCompiled else {
            for code in decoded { pcre2_code_free_8(code) }
            return nil
        }
        return zip(decoded, specs).map { Pattern(adopting: $0, source: $1.source, options: $1.options, validSubjects: validSubjects) }
    }

    deinit { pcre2_code_free_8(code) }

    /// The first match at or after byte `start`, as a byte range of `subject`.
    /// Throws `MatchFailure` when a resource limit stops the search: that is not "no match".
    public func firstMatch(in subject: UnsafeBufferPointer<UInt8>, from start: Int = 0,
                           using scratch: MatchScratch) throws(MatchFailure) -> Range<Int>? {
        guard start <= subject.count else { return nil }
        // A zero-length subject still needs a valid pointer.
        let base = subject.baseAddress ?? UnsafePointer(Pattern.emptySubject)
        let rc: Int32
        if isJIT {
            rc = pcre2_jit_match_8(code, base, subject.count, start, 0, scratch.matchData, scratch.context)
        } else {
            rc = pcre2_match_8(code, base, subject.count, start, matchOptions, scratch.matchData, scratch.context)
        }
        if rc == -1 /* PCRE2_ERROR_NOMATCH */ { return nil }
        if rc < 0 { throw MatchFailure(code: rc) }
        let ovector = pcre2_get_ovector_pointer_8(scratch.matchData)!
        return ovector[0]..<ovector[1]
    }

    /// Calls `body` for each non-overlapping match, left to right; `body` returns false to stop.
    public func forEachMatch(in subject: UnsafeBufferPointer<UInt8>, using scratch: MatchScratch,
                             _ body: (Range<Int>) -> Bool) throws(MatchFailure) {
        var position = 0
        while position <= subject.count, let range = try firstMatch(in: subject, from: position, using: scratch) {
            if !body(range) { return }
            if range.upperBound > range.lowerBound {
                position = range.upperBound
            } else {
                // An empty match: step over one whole UTF-8 character so we never split one.
                guard range.upperBound < subject.count else { return }
                position = range.upperBound + Pattern.sequenceLength(in: subject, at: range.upperBound)
            }
        }
    }

    /// All non-overlapping matches as byte ranges (a convenience for tests and tools).
    public func matches(in subject: String, using scratch: MatchScratch) throws(MatchFailure) -> [Range<Int>] {
        var bytes = Array(subject.utf8)
        return try Pattern.collect(self, &bytes, scratch)
    }

    public func matches(inBytes subject: [UInt8], using scratch: MatchScratch) throws(MatchFailure) -> [Range<Int>] {
        var bytes = subject
        return try Pattern.collect(self, &bytes, scratch)
    }

    private static func collect(_ p: Pattern, _ bytes: inout [UInt8], _ scratch: MatchScratch) throws(MatchFailure) -> [Range<Int>] {
        var found: [Range<Int>] = []
        let result: Result<Void, MatchFailure> = bytes.withUnsafeBufferPointer { buf in
            do throws(MatchFailure) {
                try p.forEachMatch(in: buf, using: scratch) { found.append($0); return true }
                return .success(())
            } catch { return .failure(error) }
        }
        try result.get()
        return found
    }

    private static let emptySubject: UnsafeMutablePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()

    /// Bytes of the character at `i`: its lead byte and the continuation bytes that follow, so a
    /// broken sequence (an invalid or truncated lead) is stepped over without skipping valid text.
    static func sequenceLength(in s: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
        let n = sequenceLength(lead: s[i])
        var k = 1
        while k < n, i + k < s.count, s[i + k] & 0xC0 == 0x80 { k += 1 }
        return k
    }

    static func sequenceLength(lead: UInt8) -> Int {
        switch lead {
        case 0xF0...0xF7: return 4
        case 0xE0...0xEF: return 3
        case 0xC0...0xDF: return 2
        default: return 1
        }
    }

    static func message(for code: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = pcre2_get_error_message_8(code, &buffer, buffer.count)
        return n > 0 ? String(decoding: buffer[..<Int(n)], as: UTF8.self) : "PCRE2 error \(code)"
    }

    static func scalarOffset(in utf8: [UInt8], byte: Int) -> Int {
        var count = 0
        for i in 0..<min(byte, utf8.count) where utf8[i] & 0xC0 != 0x80 { count += 1 }
        return count
    }
}

/// A pattern that PCRE2 refused, with its message and where in the pattern it stopped.
public struct PatternCompileError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    /// Offset in the pattern's UTF-8 bytes.
    public let byteOffset: Int
    /// The same offset in Unicode scalars: what a diagnostic column is built from.
    public let scalarOffset: Int
    public var description: String { "\(message) at offset \(scalarOffset)" }
}

/// A search that PCRE2 stopped before it could say match or no match.
public struct MatchFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable { case matchLimit = "match limit", depthLimit = "depth limit",
                                         heapLimit = "heap limit", jitStackLimit = "JIT stack limit", other }
    public let code: Int32
    public var kind: Kind {
        switch code {
        case -47: return .matchLimit
        case -53: return .depthLimit
        case -63: return .heapLimit
        case -46: return .jitStackLimit
        default: return .other
        }
    }
    public var description: String {
        let message = Pattern.message(for: code)
        guard kind != .other else { return "match error: \(message)" }
        let summary = "\(kind.rawValue) exceeded"
        return message == summary ? summary : "\(summary): \(message)"   // PCRE2's own text often says it already
    }
}

/// Per-thread match state: match data, a match context with limits, and a JIT stack.
/// Never share one between threads; make one per worker and reuse it for every pattern.
public final class MatchScratch {
    public static let defaultMatchLimit: UInt32 = 5_000_000
    let matchData: OpaquePointer
    let context: OpaquePointer
    private let jitStack: OpaquePointer?

    /// - Parameters:
    ///   - matchLimit: PCRE2's match limit (applies to JIT and interpreter); hitting it is a `MatchFailure`.
    ///   - jitStackSize: the largest JIT stack, in bytes; the 32 KiB default overflows on long Han lines.
    public init(matchLimit: UInt32 = MatchScratch.defaultMatchLimit, jitStackSize: Int = 4 << 20) {
        matchData = pcre2_match_data_create_8(1, nil)!
        context = pcre2_match_context_create_8(nil)!
        pcre2_set_match_limit_8(context, matchLimit)
        pcre2_set_depth_limit_8(context, matchLimit)
        pcre2_set_heap_limit_8(context, 256 * 1024) // KiB; the interpreter's only bound
        jitStack = pcre2_jit_stack_create_8(32 * 1024, jitStackSize, nil)
        if let jitStack { pcre2_jit_stack_assign_8(context, nil, UnsafeMutableRawPointer(jitStack)) }
    }

    deinit {
        pcre2_match_data_free_8(matchData)
        pcre2_match_context_free_8(context)
        if let jitStack { pcre2_jit_stack_free_8(jitStack) }
    }
}

/// Escapes a literal so PCRE2 matches it exactly.
public func pcre2Escape(_ literal: String) -> String {
    var out = ""
    out.reserveCapacity(literal.utf8.count)
    for ch in literal.unicodeScalars {
        if "\\^$.|?*+()[]{}/-#".unicodeScalars.contains(ch) { out.append("\\") }
        if ch == " " { out.append("\\x20"); continue }
        out.unicodeScalars.append(ch)
    }
    return out
}
