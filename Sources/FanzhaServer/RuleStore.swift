import Fanzha
import Foundation
import NIOConcurrencyHelpers

/// The rule set serving now, swapped whole on reload: a request reads the current engine once
/// and finishes on it, so no request ever sees half of one rule set and half of another.
package final class RuleStore: Sendable {
    package struct Source: Sendable {
        package var paths: [String]
        package var modelPath: String?
        package var noModel: Bool
        package var readerOptions: ReaderOptions
        package init(paths: [String], modelPath: String? = nil, noModel: Bool = false, readerOptions: ReaderOptions = ReaderOptions()) {
            self.paths = paths
            self.modelPath = modelPath
            self.noModel = noModel
            self.readerOptions = readerOptions
        }
    }

    package let source: Source
    private let engine: NIOLockedValueBox<ScreeningEngine>
    /// One reload at a time (a SIGHUP and a POST at once compile once each, in turn).
    private let reloading = NIOLock()

    package init(source: Source) throws {
        self.source = source
        switch ScreeningEngine.load(paths: source.paths, modelPath: source.modelPath, noModel: source.noModel, readerOptions: source.readerOptions) {
        case .success(let e): engine = NIOLockedValueBox(e)
        case .failure(let f): throw f
        }
    }

    package var current: ScreeningEngine { engine.withLockedValue { $0 } }

    /// Compiles the rules anew from the same paths and swaps them in; on errors the old rule set
    /// keeps serving and the failure says why.
    package func reload() -> Result<ScreeningEngine, ScreeningEngine.LoadFailure> {
        reloading.withLock {
            let result = ScreeningEngine.load(paths: source.paths, modelPath: source.modelPath, noModel: source.noModel, readerOptions: source.readerOptions)
            if case .success(let fresh) = result { engine.withLockedValue { $0 = fresh } }
            return result
        }
    }
}
