import Fanzha
import FanzhaReferrals
import Foundation
import NIOConcurrencyHelpers

/// Live calls fed one turn per HTTP request (`POST /v1/calls/{id}/turns`, `…/end`).
///
/// Calls are spread over shards by id, each shard a `LiveCallScreener` behind its own lock, so
/// calls on different shards are screened at once on all cores while the turns of one call stay
/// in order. A call keeps the rule set it started with; after a reload, new calls start on the
/// new one and the old screener goes once its calls have ended.
final class HTTPLiveCalls: Sendable {
    struct Answer {
        /// The alert of this turn (the call's level rose), as `scan --input events` writes it.
        var alert: [UInt8]?
        /// This call's final verdict, when this request ended it (or the turn limit did).
        var final: [UInt8]?
        /// The event could not be used: why.
        var malformed: String?
        /// With referrals: the warnings of this event's alerts and finals, this call's and those of
        /// other calls it closed (idle, evicted), in order, for the case store.
        var warnings: [Warning] = []
    }

    /// A screener and the rule set it screens with (whose printer writes its events).
    private struct Live {
        let engine: ScreeningEngine
        let screener: LiveCallScreener
    }

    private final class Shard: @unchecked Sendable {
        var current: Live?
        /// Which screener each open call is on (a call keeps the rule set it started with).
        var owner: [String: Live] = [:]
        var line = 0
        /// With referrals: what each open call of this shard needs to open its case at the alert.
        var referrals: LiveCallReferrals?
    }

    private let shards: [NIOLockedValueBox<Shard>]
    let limits: LiveCallScreener.Limits
    /// Finals no client is waiting for (idle or evicted calls, shutdown), as JSON: the server's
    /// output, as `scan --input events` would write them.
    let unclaimed: @Sendable (String) -> Void
    /// Notices (a call closed as idle, a clock that went back): for standard error.
    let notice: @Sendable (String) -> Void
    let onFinal: @Sendable (CallFinal) -> Void

    /// `referrals`: makes a shard's `LiveCallReferrals` when the server refers live calls (`--referrals`).
    init(shards: Int, limits: LiveCallScreener.Limits, referrals: (() -> LiveCallReferrals)? = nil,
         unclaimed: @escaping @Sendable (String) -> Void,
         notice: @escaping @Sendable (String) -> Void, onFinal: @escaping @Sendable (CallFinal) -> Void) {
        var perShard = limits
        perShard.maxOpenCalls = max(1, limits.maxOpenCalls / max(1, shards))
        self.limits = perShard
        self.shards = (0..<max(1, shards)).map { _ in
            let shard = Shard()
            shard.referrals = referrals?()
            return NIOLockedValueBox(shard)
        }
        self.unclaimed = unclaimed
        self.notice = notice
        self.onFinal = onFinal
    }

    private func shard(of call: String) -> NIOLockedValueBox<Shard> {
        shards[LiveCallScreener.shard(of: call, among: shards.count)]
    }

    var openCalls: Int { shards.reduce(0) { $0 + $1.withLockedValue { $0.owner.count } } }

    /// One event of a call: a turn, or its end. `fields`: the turn's other fields by name (the
    /// person at risk and the counterparty, for its case).
    func handle(_ event: CallEventInput, fields: (String) -> String? = { _ in nil }, engine: ScreeningEngine) -> Answer {
        let call: String
        let isEnd: Bool
        switch event {
        case .turn(let c, _, _, _): call = c; isEnd = false
        case .end(let c, _): call = c; isEnd = true
        }
        return shard(of: call).withLockedValue { s in
            if case .turn(_, let speaker, let text, _) = event { s.referrals?.see(call: call, speaker: speaker, text: text, fields: fields) }
            let live: Live
            if let owned = s.owner[call] {
                live = owned
            } else {
                if s.current == nil || s.current!.engine !== engine {
                    s.current = Live(engine: engine, screener: engine.liveScreener(limits: limits))
                }
                live = s.current!
            }
            s.line += 1
            var answer = Answer()
            for e in live.screener.handle(event, number: s.line, source: "call \(call)") {
                switch e {
                case .alert(let a):
                    let json = live.engine.eventPrinter.json(e) ?? ""
                    if a.call == call { answer.alert = Array(json.utf8) } else { unclaimed(json) }
                    if let w = s.referrals?.alert(a, origin: "api: call \(a.call)") { answer.warnings.append(w) }
                case .final(let f):
                    let json = live.engine.eventPrinter.json(e) ?? ""
                    s.owner.removeValue(forKey: f.call)
                    onFinal(f)
                    if let w = s.referrals?.final(f, origin: "api: call \(f.call)") { answer.warnings.append(w) }
                    if f.call == call { answer.final = Array(json.utf8) } else { unclaimed(json) }
                case .malformed(let m):
                    answer.malformed = m.message
                case .notice(let n):
                    notice(n)
                }
            }
            // Open after this event unless it ended it (a turn at the turn limit ends the call so
            // far and opens a new one with the same id, on the same screener).
            if !isEnd && answer.malformed == nil { s.owner[call] = live }
            if s.owner.isEmpty, let c = s.current, c.engine !== engine { s.current = nil }
            return answer
        }
    }

    /// Closes every open call (shutdown): their finals go to the server's output; with referrals,
    /// their warnings are returned for the case store.
    @discardableResult
    func closeAll() -> [Warning] {
        var warnings: [Warning] = []
        for shard in shards {
            shard.withLockedValue { s in
                var screeners: [ObjectIdentifier: Live] = [:]
                for (_, live) in s.owner { screeners[ObjectIdentifier(live.screener)] = live }
                for live in screeners.values {
                    for e in live.screener.finish() {
                        if case .final(let f) = e {
                            onFinal(f)
                            if let json = live.engine.eventPrinter.json(e) { unclaimed(json) }
                            if let w = s.referrals?.final(f, origin: "api: call \(f.call)") { warnings.append(w) }
                        }
                    }
                }
                s.owner.removeAll()
                s.current = nil
                s.referrals?.forgetAll()
            }
        }
        return warnings
    }
}
