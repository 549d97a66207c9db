import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Buffered writes to a file descriptor. A closed pipe (`fanzha scan | head`) ends the process
/// quietly instead of raising SIGPIPE or printing an error. Safe to use from several threads: a
/// line is never interleaved with another.
public final class OutputSink: @unchecked Sendable {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private let lock = NSLock()
    public var onClosedPipe: () -> Never = { exit(0) }

    public init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(1 << 16)
    }

    public static let stdout = OutputSink(fd: 1)
    public static let stderr = OutputSink(fd: 2)

    public var isTerminal: Bool { isatty(fd) == 1 }

    public func write(_ s: String) {
        lock.lock(); defer { lock.unlock() }
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 16 { flushLocked() }
    }

    public func line(_ s: String) { appendLine(s.utf8) }

    /// One line given as UTF-8 bytes (without its newline).
    public func line(bytes: [UInt8]) { appendLine(bytes) }

    private func appendLine<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        lock.lock(); defer { lock.unlock() }
        buffer.append(contentsOf: bytes)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { flushLocked() }
    }

    public func flush() {
        lock.lock(); defer { lock.unlock() }
        flushLocked()
    }

    private func flushLocked() {
        var offset = 0
        while offset < buffer.count {
            let n = buffer[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                buffer.removeAll(keepingCapacity: true)
                if errno == EPIPE { onClosedPipe() }
                return
            }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
