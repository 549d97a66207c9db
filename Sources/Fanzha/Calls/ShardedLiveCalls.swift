import Foundation

extension LiveCallScreener {
    /// Which of `shards` workers screens call `id`: FNV-1a of the id, stable across runs (unlike
    /// `Hasher`), so a call's turns all go to one worker, in order.
    package static func shard(of id: String, among shards: Int) -> Int {
        var h: UInt64 = 1469598103934665603
        for b in id.utf8 { h = (h ^ UInt64(b)) &* 1099511628211 }
        return Int(h % UInt64(max(1, shards)))
    }
}

/// Live call events screened on several threads, with the output of one (`scan --input events`).
///
/// Calls are independent, so each is screened by one worker, chosen by its id
/// (`LiveCallScreener.shard(of:among:)`, as the service's live calls), with the worker's own
/// `Screener`. One `LiveCallScreener` plans every line's steps in input order on the calling
/// thread: which calls are open, idle or evicted, and every notice, exactly as one screener
/// does. The workers perform their calls' steps in that order (normalising the turn, deciding,
/// the alert's or the final verdict, and `render`), and each line's events are handed to
/// `deliver` in input order, together: what `LiveCallScreener.handle` returns for the line.
/// Lines go to the workers in batches; while the workers screen one, the next is read and planned.
package final class ShardedLiveCalls<Rendered>: LiveCallLines, @unchecked Sendable {
    /// An event and its rendered form.
    package typealias Outcome = (event: LiveCallEvent, rendered: Rendered?)

    /// The steps of some lines, and what performing them gave (each worker writes its own steps' slots).
    private final class Batch: @unchecked Sendable {
        /// Per step, in input order: the event of a step that is ready, nil for a call's step
        /// (whose outcome its worker writes).
        var ready: [LiveCallEvent?] = []
        /// Per line, the index of the step after its last.
        var lineEnds: [Int] = []
        /// Each worker's calls' steps, in order.
        let byShard: [ShardSteps]
        var outcomes = UnsafeMutableBufferPointer<Outcome?>(start: nil, count: 0)

        init(shards: Int) { byShard = (0..<shards).map { _ in ShardSteps() } }
        deinit {
            _ = outcomes.deinitialize()
            outcomes.deallocate()
        }
    }

    /// One worker's steps of a batch, and each one's index among the batch's steps. The worker
    /// empties it once it has performed them: a step holds its call, and the step of a call's end
    /// holds it last, so the call's memory (about 37 KB, grown by the worker) is freed on the
    /// thread that used it, while the reader goes on, not by the reader as it delivers the batch.
    private final class ShardSteps: @unchecked Sendable {
        var steps: [LiveCallScreener.Step] = []
        var indices: [Int] = []
    }

    private let planner: LiveCallScreener
    private let screeners: [Screener]
    private let queues: [DispatchQueue]
    private let render: @Sendable (LiveCallEvent) -> Rendered?
    private let deliver: ([Outcome]) throws -> Void
    private var batch: Batch
    /// Batches submitted and not yet delivered, oldest first.
    private var inFlight: [(batch: Batch, done: DispatchGroup)] = []
    /// Lines per batch: enough that handing a batch over costs little per line, few enough that
    /// the verdicts waiting in it stay small.
    private let linesPerBatch: Int

    /// `screeners`: one per worker, each used by that worker alone. `render` runs on the worker
    /// for its alerts and finals, and on the calling thread for the other events; `deliver` on
    /// the calling thread, with each line's outcomes in order.
    package init(screeners: [Screener], limits: LiveCallScreener.Limits, sides: SpeakerSides, linesPerBatch: Int = 512,
                 render: @escaping @Sendable (LiveCallEvent) -> Rendered?, deliver: @escaping ([Outcome]) throws -> Void) {
        precondition(!screeners.isEmpty)
        self.screeners = screeners
        // The planner only plans: the screening is the workers'. It makes each call's
        // `Prepared`, which needs no more of a screener than whether it prefilters.
        planner = LiveCallScreener(screener: screeners[0], limits: limits, sides: sides)
        queues = screeners.indices.map { DispatchQueue(label: "fanzha.live-calls.\($0)") }
        self.linesPerBatch = max(1, linesPerBatch)
        self.render = render
        self.deliver = deliver
        batch = Batch(shards: screeners.count)
    }

    /// One input line, line `number` of `source`.
    package func add(line: ArraySlice<UInt8>, number: Int, source: String) throws {
        try add(planner.plan(line: line, number: number, source: source))
    }

    /// An event for a line that was not given to the screener (one too long to read), in its place.
    package func add(ready event: LiveCallEvent) throws {
        try add([.ready(event)])
    }

    /// Hands on every line added so far, screened (when the input pauses: a live stream's alerts
    /// must not wait for a batch to fill).
    package func flush() throws {
        if !batch.lineEnds.isEmpty { submit() }
        try deliverAll()
    }

    /// Closes every open call (end of input) and delivers everything.
    package func finish() throws {
        try add(planner.planFinish())
        submit()
        try deliverAll()
    }

    private func add(_ steps: [LiveCallScreener.Step]) throws {
        let shards = screeners.count
        for step in steps {
            if case .ready(let event) = step {
                batch.ready.append(event)
            } else if let call = step.call {
                let work = batch.byShard[LiveCallScreener.shard(of: call.id, among: shards)]
                work.indices.append(batch.ready.count)
                work.steps.append(step)
                batch.ready.append(nil)
            }
        }
        batch.lineEnds.append(batch.ready.count)
        if batch.lineEnds.count >= linesPerBatch {
            submit()
            // One batch may still be screened while the next is read: deliver the older ones.
            while inFlight.count > 1 { try deliverOldest() }
        }
    }

    private func submit() {
        let b = batch
        batch = Batch(shards: screeners.count)
        b.outcomes = .allocate(capacity: b.ready.count)
        b.outcomes.initialize(repeating: nil)
        let done = DispatchGroup()
        let planner = planner, render = render
        for (w, work) in b.byShard.enumerated() where !work.steps.isEmpty {
            let screener = screeners[w]
            queues[w].async(group: done) {
                for (step, i) in zip(work.steps, work.indices) {
                    if let event = planner.perform(step, screener: screener) { b.outcomes[i] = (event, render(event)) }
                }
                work.steps = []
            }
        }
        inFlight.append((b, done))
    }

    private func deliverOldest() throws {
        let (b, done) = inFlight.removeFirst()
        done.wait()
        var start = 0
        do {
            for end in b.lineEnds {
                var line: [Outcome] = []
                for i in start..<end {
                    if let event = b.ready[i] {
                        line.append((event, render(event)))
                    } else if let outcome = b.outcomes[i] {
                        line.append(outcome)
                    }
                }
                start = end
                if !line.isEmpty { try deliver(line) }
            }
        } catch {
            // Delivery stopped (`--strict`): the workers finish what they were given first.
            for (_, d) in inFlight { d.wait() }
            inFlight.removeAll()
            throw error
        }
    }

    private func deliverAll() throws {
        while !inFlight.isEmpty { try deliverOldest() }
    }
}
