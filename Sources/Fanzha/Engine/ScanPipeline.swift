import Foundation

/// Overlaps reading with scanning: the caller submits batches in input order and goes on reading;
/// a background queue runs `work` on each batch on every core (verdicts and their rendering, or
/// just decisions) and hands the results to `deliver`, in order. At most `depth` batches are in
/// flight, so memory stays bounded however long the input is. `work` reads each record where its
/// batch holds it (`inout`, `ParallelScanner.map`): a batch should be handed over, not shared, or
/// it is copied first. The lines the workers write for a batch (`Screener.batchLines`) are theirs
/// until it is delivered: the next batch is worked on only then (the queue is serial), and they
/// are emptied for it.
package final class ScanPipeline<Result>: @unchecked Sendable {
    private let scanner: ParallelScanner
    private let work: (Screener, inout Record) -> Result
    private let deliver: ([Record], [Result]) -> Void
    private let queue = DispatchQueue(label: "fanzha.scan-pipeline")   // serial: keeps batch order
    private let slots: DispatchSemaphore

    package init(scanner: ParallelScanner, depth: Int = 2, work: @escaping (Screener, inout Record) -> Result,
                deliver: @escaping ([Record], [Result]) -> Void) {
        self.scanner = scanner
        self.work = work
        self.deliver = deliver
        slots = DispatchSemaphore(value: max(1, depth))
    }

    package func submit(_ records: consuming [Record]) {
        guard !records.isEmpty else { return }
        slots.wait()
        let batch = Batch(records)
        queue.async { [self] in
            let results = scanner.map(&batch.records, work)
            deliver(batch.records, results)
            scanner.emptyBatchLines()
            slots.signal()
        }
    }

    /// Waits until every submitted batch has been delivered.
    package func finish() {
        queue.sync {}
    }
}

/// A batch in flight, held by its work alone: its records are lent to `work` in place, which a
/// batch shared with anything else could not do without copying it.
private final class Batch: @unchecked Sendable {
    var records: [Record]
    init(_ records: consuming [Record]) { self.records = records }
}
