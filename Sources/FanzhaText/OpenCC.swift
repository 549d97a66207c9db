import COpenCC

/// Error raised when an OpenCC converter cannot be created.
public struct OpenCCError: Error, CustomStringConvertible, Sendable {
    /// The configuration file that was asked for (for example `t2s.json`).
    public let config: String
    /// OpenCC's own message (`opencc_error()`), when it gave one.
    public let message: String

    public var description: String {
        "OpenCC: cannot open configuration \"\(config)\": \(message) "
            + "(is the libopencc-data package installed? try scripts/setup.sh)"
    }
}

/// A Traditional → Simplified Chinese converter backed by OpenCC (`t2s.json`).
///
/// OpenCC converts by phrases (longest dictionary match first), so the output can have a
/// different number of characters than the input (rarely, but it happens).
///
/// Thread safety: an instance is **not** thread-safe as far as this module promises
/// (OpenCC does not document concurrent use of one handle, and its error reporting is a
/// process-wide global). Create one converter per worker thread; the type is deliberately
/// not `Sendable`.
public final class TraditionalToSimplified {
    private let handle: opencc_t

    /// Opens an OpenCC converter. `config` is an OpenCC configuration name, resolved by
    /// OpenCC against its data directory (Debian: /usr/share/opencc).
    public init(config: String = "t2s.json") throws {
        let h = opencc_open(config)
        // On failure OpenCC returns (opencc_t)-1, not NULL; guard against both.
        guard let h, Int(bitPattern: h) != -1 else {
            var message = "unknown error"
            if let e = opencc_error() { message = String(cString: e) }
            throw OpenCCError(config: config, message: message)
        }
        handle = h
    }

    deinit {
        _ = opencc_close(handle)
    }

    /// Converts `s` from Traditional to Simplified Chinese. Text that is not Traditional
    /// Chinese passes through unchanged. If OpenCC reports an error the input is returned
    /// unchanged.
    public func convert(_ s: String) -> String {
        if s.isEmpty { return s }
        var copy = s
        return copy.withUTF8 { buf -> String in
            guard let out = convertUTF8(buf) else { return s }
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// Converts a UTF-8 buffer; returns `nil` if OpenCC reported an error.
    ///
    /// OpenCC's C API hands back NUL-terminated strings, so NUL bytes in the input are kept
    /// as they are and the pieces between them are converted separately.
    func convertUTF8(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard let base = input.baseAddress, input.count > 0 else { return [] }
        var result: [UInt8] = []
        result.reserveCapacity(input.count + input.count / 8)
        var start = 0
        while true {
            var end = start
            while end < input.count && input[end] != 0 { end += 1 }
            if end > start {
                let ok = base.advanced(by: start).withMemoryRebound(to: CChar.self, capacity: end - start) {
                    p -> Bool in
                    guard let out = opencc_convert_utf8(handle, p, end - start) else { return false }
                    defer { opencc_convert_utf8_free(out) }
                    let n = strlenC(out)
                    out.withMemoryRebound(to: UInt8.self, capacity: n) { q in
                        result.append(contentsOf: UnsafeBufferPointer(start: q, count: n))
                    }
                    return true
                }
                if !ok { return nil }
            }
            if end >= input.count { break }
            result.append(0)
            start = end + 1
        }
        return result
    }
}

@inline(__always)
private func strlenC(_ p: UnsafePointer<CChar>) -> Int {
    var n = 0
    while p[n] != 0 { n += 1 }
    return n
}
