import Foundation

/// Overlaps reading with scanning: the caller submits batches in input order and goes on reading;
/// a background queue runs `work` on each batch on every core (verdicts and their rendering, or
/// just decisions) and hands the results to `deliver`, in order. At most `depth` batches are in
/// flight, so memory stays bounded however long the input is. The lines the workers write for a
/// batch (`Screener.batchLines`) are theirs until it is delivered: the next batch is worked on
/// only then (the queue is serial), and they are emptied for it.
package final class ScanPipeline<Result>: @unchecked Sendable {
    private let scanner: ParallelScanner
    private let work: (Screener, Record) -> Result
    private let deliver: ([Record], [Result]) -> Void
    private let queue = DispatchQueue(label: "fanzha.scan-pipeline")   // serial: keeps batch order
    private let slots: DispatchSemaphore

    package init(scanner: ParallelScanner, depth: Int = 2, work: @escaping (Screener, Record) -> Result,
                deliver: @escaping ([Record], [Result]) -> Void) {
        self.scanner = scanner
        self.work = work
        self.deliver = deliver
        slots = DispatchSemaphore(value: max(1, depth))
    }

    package func submit(_ batch: [Record]) {
        guard !batch.isEmpty else { return }
        slots.wait()
        queue.async { [self] in
            deliver(batch, scanner.map(batch, work))
            scanner.emptyBatchLines()
            slots.signal()
        }
    }

    /// Waits until every submitted batch has been delivered.
    package func finish() {
        queue.sync {}
    }
}
