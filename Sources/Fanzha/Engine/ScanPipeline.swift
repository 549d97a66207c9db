import Foundation

/// Overlaps reading with scanning: the caller submits batches in input order and goes on reading;
/// a background queue scans each batch on every core and hands the results to `deliver`, in order.
/// At most `depth` batches are in flight, so memory stays bounded however long the input is.
public final class ScanPipeline<Rendered>: @unchecked Sendable {
    private let scanner: ParallelScanner
    private let render: (Record, Verdict) -> Rendered
    private let deliver: ([Record], [(Verdict, Rendered)]) -> Void
    private let queue = DispatchQueue(label: "fanzha.scan-pipeline")   // serial: keeps batch order
    private let slots: DispatchSemaphore

    public init(scanner: ParallelScanner, depth: Int = 2, render: @escaping (Record, Verdict) -> Rendered,
                deliver: @escaping ([Record], [(Verdict, Rendered)]) -> Void) {
        self.scanner = scanner
        self.render = render
        self.deliver = deliver
        slots = DispatchSemaphore(value: max(1, depth))
    }

    public func submit(_ batch: [Record]) {
        guard !batch.isEmpty else { return }
        slots.wait()
        queue.async { [self] in
            deliver(batch, scanner.scan(batch, render: render))
            slots.signal()
        }
    }

    /// Waits until every submitted batch has been delivered.
    public func finish() {
        queue.sync {}
    }
}
