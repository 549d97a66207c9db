#if canImport(Glibc)
import Glibc
#endif

/// A read-only copy of a hot table in memory the kernel may back with a 2 MB page (Linux's
/// transparent huge pages, `MADV_HUGEPAGE`), for tables a scan reads at random on every record.
///
/// Why: on this project's machine (a virtual machine, where every TLB miss is a two-level page
/// walk) the prefilter automaton's table, 1.6 MB in 4 KB pages as it then was, cost about 8% of a
/// record's seconds in address translation alone; in one huge page it costs none. Where the kernel gives no huge
/// page (THP off, another system) the copy is ordinary memory and costs only the copying.
final class HugePageCopy: @unchecked Sendable {
    /// The copy: valid while this object lives.
    let base: UnsafeRawPointer
    private let mapping: UnsafeMutableRawPointer
    private let mappedLength: Int

    private static let hugePage = 2 << 20

    /// A copy of `byteCount` bytes at `source`; nil where the memory cannot be had (then the
    /// caller keeps reading the original).
    init?(copying source: UnsafeRawPointer, byteCount: Int) {
        #if os(Linux)
        guard byteCount > 0 else { return nil }
        let length = (byteCount + Self.hugePage - 1) & ~(Self.hugePage - 1)
        // One huge page more than needed, to start the copy on a 2 MB boundary.
        let mapped = mmap(nil, length + Self.hugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let mapped, mapped != MAP_FAILED else { return nil }
        let start = UnsafeMutableRawPointer(bitPattern: (Int(bitPattern: mapped) + Self.hugePage - 1) & ~(Self.hugePage - 1))!
        _ = madvise(start, length, MADV_HUGEPAGE)   // advice: refused (THP off), the copy is still good
        start.copyMemory(from: source, byteCount: byteCount)
        _ = mprotect(start, length, PROT_READ)
        base = UnsafeRawPointer(start)
        mapping = mapped
        mappedLength = length + Self.hugePage
        #else
        return nil
        #endif
    }

    deinit {
        #if os(Linux)
        munmap(mapping, mappedLength)
        #endif
    }
}
