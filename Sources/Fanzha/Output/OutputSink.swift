import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Buffered writes to a file descriptor. A closed pipe (`fanzha scan | head`) ends the process
/// quietly instead of raising SIGPIPE or printing an error.
public final class OutputSink: @unchecked Sendable {
    private let fd: Int32
    private var buffer: [UInt8] = []
    public var onClosedPipe: () -> Never = { exit(0) }

    public init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(1 << 16)
    }

    public static let stdout = OutputSink(fd: 1)
    public static let stderr = OutputSink(fd: 2)

    public var isTerminal: Bool { isatty(fd) == 1 }

    public func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    public func line(_ s: String) {
        write(s)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { flush() }
    }

    public func flush() {
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
