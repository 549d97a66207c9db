import Foundation

/// A growable array of plain values for the evaluation's hot loop: appends and reads with no
/// copy-on-write check and no reference counting (a Swift array checks uniqueness on every
/// append, and those checks were a tenth of a record's instructions). Copies share storage, so
/// exactly one owner (a scanner's workspace) calls `deallocate()`; elements are bitwise values,
/// never deinitialised.
struct Arena<Element: BitwiseCopyable> {
    private var base: UnsafeMutablePointer<Element>? = nil
    private(set) var count = 0
    private var capacity = 0

    init() {}

    @inline(__always)
    subscript(i: Int) -> Element {
        get {
            assert(i >= 0 && i < count, "arena index out of range")
            return base.unsafelyUnwrapped[i]
        }
        nonmutating set {
            assert(i >= 0 && i < count, "arena index out of range")
            base.unsafelyUnwrapped[i] = newValue
        }
    }

    /// The address of element `i`: a run of elements read or written in place (a turn's scalar bitmap).
    @inline(__always)
    func address(_ i: Int) -> UnsafeMutablePointer<Element> {
        assert(i >= 0 && i < count, "arena index out of range")
        return base.unsafelyUnwrapped + i
    }

    /// The elements in place, to sort them (no copy).
    var buffer: UnsafeMutableBufferPointer<Element> { UnsafeMutableBufferPointer(start: base, count: count) }

    @inline(__always)
    mutating func append(_ e: Element) {
        if count == capacity { grow() }
        (base.unsafelyUnwrapped + count).initialize(to: e)
        count &+= 1
    }

    /// `elements` appended, copied at once (a span's text into an evidence table).
    mutating func append(contentsOf elements: UnsafeBufferPointer<Element>) {
        guard let from = elements.baseAddress, elements.count > 0 else { return }
        while capacity &- count < elements.count { grow() }
        (base.unsafelyUnwrapped + count).initialize(from: from, count: elements.count)
        count &+= elements.count
    }

    private mutating func grow() {
        let newCapacity = Swift.max(64, capacity &* 2)
        let grown = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        if let base {
            grown.moveInitialize(from: base, count: count)
            base.deallocate()
        }
        base = grown
        capacity = newCapacity
    }

    var isEmpty: Bool { count == 0 }

    mutating func removeAll() { count = 0 }

    /// `n` elements, each `value` (the workspace's per-rule and per-atom tables).
    mutating func reset(count n: Int, to value: Element) {
        count = 0
        while capacity < n { grow() }
        if n > 0 { base.unsafelyUnwrapped.initialize(repeating: value, count: n) }
        count = n
    }

    /// `n` elements, not set: for a table whose every element is written next (a record's word
    /// hits, placed by counting). Filling it first with `reset` cost about 120 instructions a record.
    mutating func resize(count n: Int) {
        count = 0
        while capacity < n { grow() }
        count = n
    }

    mutating func removeLast(_ k: Int) { count &-= k }

    /// `n` more elements, each `value`; the address of the first (a live call's turn's
    /// `ScalarBits`, written in place).
    mutating func append(repeating value: Element, count n: Int) -> UnsafeMutablePointer<Element> {
        while capacity &- count < n { grow() }
        let at = base.unsafelyUnwrapped + count
        at.initialize(repeating: value, count: n)
        count &+= n
        return at
    }

    /// The first `k` elements dropped, the rest moved down.
    mutating func removeFirst(_ k: Int) {
        guard k > 0 else { return }
        let b = base.unsafelyUnwrapped
        memmove(b, b + k, (count &- k) &* MemoryLayout<Element>.stride)
        count &-= k
    }

    func deallocate() { base?.deallocate() }
}
