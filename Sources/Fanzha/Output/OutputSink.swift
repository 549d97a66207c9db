import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Buffered writes to a file descriptor, every one of them checked. A closed pipe (`fanzha scan |
/// head`) ends the process quietly instead of raising SIGPIPE or printing an error; any other
/// write error (a full disk, `/dev/full`, an I/O error) on standard output prints `fanzha: write
/// error: <reason>` and exits 2, so lost output is never reported as success. Safe to use from
/// several threads: a line is never interleaved with another.
package final class OutputSink: @unchecked Sendable {
    private let fd: Int32
    /// Read and written under `lock` only: unchecked for exclusive access (the run-time check
    /// cost about 60 instructions a line).
    @exclusivity(unchecked) private var buffer: [UInt8] = []
    private let lock = NSLock()
    @exclusivity(unchecked) private var closed = false
    /// What a closed pipe does (default: exit 0, quietly, as a filter cut short by `head`).
    package var onClosedPipe: () -> Never = { exit(0) }
    /// What any other write error does; nil ignores it (standard error: there is nowhere left to
    /// report it). The default for standard output prints the reason and exits 2.
    package var onWriteError: ((String) -> Never)?

    package init(fd: Int32, onWriteError: ((String) -> Never)? = OutputSink.failWithWriteError) {
        self.fd = fd
        self.onWriteError = onWriteError
        buffer.reserveCapacity(1 << 16)
    }

    package static let stdout = OutputSink(fd: 1)
    package static let stderr = OutputSink(fd: 2, onWriteError: nil)

    /// `fanzha: write error: <reason>` on standard error (unbuffered), then exit status 2.
    package static let failWithWriteError: (String) -> Never = { reason in
        let message = Array("fanzha: write error: \(reason)\n".utf8)
        _ = message.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
        exit(2)
    }

    package var isTerminal: Bool { isatty(fd) == 1 }

    package func write(_ s: String) {
        lock.lock(); defer { lock.unlock() }
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 16 { flushLocked() }
    }

    package func line(_ s: String) { appendLine(s.utf8) }

    /// One line given as UTF-8 bytes (without its newline).
    package func line(bytes: [UInt8]) { appendLine(bytes) }

    /// One line given as UTF-8 bytes in place (a worker's batch of lines, `Screener.batchLines`).
    package func line(bytes: UnsafeBufferPointer<UInt8>) { appendLine(bytes) }

    private func appendLine<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        lock.lock(); defer { lock.unlock() }
        buffer.append(contentsOf: bytes)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { flushLocked() }
    }

    package func flush() {
        lock.lock(); defer { lock.unlock() }
        flushLocked()
    }

    /// Flushes and closes the descriptor, checking the close too (some file systems report a
    /// failed write only there). Called once, at the end of a command.
    package func close() {
        lock.lock(); defer { lock.unlock() }
        flushLocked()
        guard !closed else { return }
        closed = true
        if Glibc.close(fd) != 0 && errno != EINTR && errno != EBADF { failed(errno) }
    }

    private func flushLocked() {
        var offset = 0
        while offset < buffer.count {
            let n = buffer[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                buffer.removeAll(keepingCapacity: true)
                failed(code)
                return
            }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    private func failed(_ code: Int32) {
        if code == EPIPE { onClosedPipe() }
        onWriteError?(String(cString: strerror(code)))
    }
}
