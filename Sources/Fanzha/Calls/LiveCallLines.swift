import Foundation

/// What screens the lines of a live event stream (`scan --input events`) and hands each line's
/// events on, in input order: `ShardedLiveCalls` (the calls spread over workers) or
/// `SerialLiveCalls` (one line at a time on the calling thread). `read` is the one loop over an
/// input that both are driven by.
package protocol LiveCallLines: AnyObject {
    /// Input line `number` of `source`.
    func add(line: ArraySlice<UInt8>, number: Int, source: String) throws
    /// An event in place of a line the screener was not given (one too long to read).
    func add(ready event: LiveCallEvent) throws
    /// Hands on the events of every line added so far (the input pauses).
    func flush() throws
    /// Closes every open call (end of input) and hands on everything.
    func finish() throws
}

extension LiveCallLines {
    /// Every line of `reader` (named `source` in messages), then the end of input. A line too long
    /// to read is an error event in its place; when the input pauses, what has arrived is handed
    /// on at once, so a live stream's alerts do not wait for more input.
    package func read(_ reader: LineReader, source: String) throws {
        while true {
            if reader.wouldWait { try flush() }
            guard let next = reader.next() else { break }
            switch next {
            case .line(let line):
                try add(line: line, number: reader.lineNumber, source: source)
            case .tooLong(let bytes):
                try add(ready: .malformed(reader.tooLongError(bytes: bytes, source: source)))
            }
        }
        try finish()
    }
}

/// Live call events screened one line at a time on the calling thread by one `LiveCallScreener`:
/// each line's events are rendered and handed to `deliver` as soon as the line is read. `seeing`
/// gets every line before the screener does (`--refer`: the referral store sees each event as it
/// is read and the alert it raises as it is screened, in one order).
package final class SerialLiveCalls<Rendered>: LiveCallLines {
    package typealias Outcome = (event: LiveCallEvent, rendered: Rendered?)

    private let screener: LiveCallScreener
    private let render: (LiveCallEvent) -> Rendered?
    private let deliver: ([Outcome]) throws -> Void
    private let seeing: ((ArraySlice<UInt8>) -> Void)?

    package init(screener: LiveCallScreener, seeing: ((ArraySlice<UInt8>) -> Void)? = nil,
                 render: @escaping (LiveCallEvent) -> Rendered?, deliver: @escaping ([Outcome]) throws -> Void) {
        self.screener = screener
        self.seeing = seeing
        self.render = render
        self.deliver = deliver
    }

    package func add(line: ArraySlice<UInt8>, number: Int, source: String) throws {
        seeing?(line)
        try hand(screener.handle(line: line, number: number, source: source))
    }

    package func add(ready event: LiveCallEvent) throws {
        try hand([event])
    }

    /// Nothing waits: every line's events were handed on when it was added.
    package func flush() throws {}

    package func finish() throws {
        try hand(screener.finish())
    }

    private func hand(_ events: [LiveCallEvent]) throws {
        if !events.isEmpty { try deliver(events.map { ($0, render($0)) }) }
    }
}
