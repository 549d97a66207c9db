import Fanzha
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
    }

    private final class Shard: @unchecked Sendable {
        var current: (engine: ScreeningEngine, screener: LiveCallScreener)?
        /// Which screener each open call is on (a call keeps the rule set it started with).
        var owner: [String: LiveCallScreener] = [:]
        var line = 0
    }

    private let shards: [NIOLockedValueBox<Shard>]
    let limits: LiveCallScreener.Limits
    /// Finals and notices no client is waiting for (idle or evicted calls, shutdown): the server's
    /// output, as `scan --input events` would write them.
    let unclaimed: @Sendable (LiveCallScreener.Output) -> Void
    let onFinal: @Sendable (_ json: String, _ level: Level) -> Void

    init(shards: Int, limits: LiveCallScreener.Limits, unclaimed: @escaping @Sendable (LiveCallScreener.Output) -> Void,
         onFinal: @escaping @Sendable (String, Level) -> Void) {
        var perShard = limits
        perShard.maxOpenCalls = max(1, limits.maxOpenCalls / max(1, shards))
        self.limits = perShard
        self.shards = (0..<max(1, shards)).map { _ in NIOLockedValueBox(Shard()) }
        self.unclaimed = unclaimed
        self.onFinal = onFinal
    }

    private func shard(of call: String) -> NIOLockedValueBox<Shard> {
        var h: UInt64 = 1469598103934665603   // FNV-1a: stable across runs, unlike Hasher
        for b in call.utf8 { h = (h ^ UInt64(b)) &* 1099511628211 }
        return shards[Int(h % UInt64(shards.count))]
    }

    var openCalls: Int { shards.reduce(0) { $0 + $1.withLockedValue { $0.owner.count } } }

    /// One event line for `call` (already checked: `call`, `speaker`, `text`, `t` or `end`).
    func handle(call: String, line: [UInt8], end: Bool, engine: ScreeningEngine) -> Answer {
        shard(of: call).withLockedValue { s in
            let screener: LiveCallScreener
            if let owned = s.owner[call] {
                screener = owned
            } else {
                if s.current == nil || s.current!.engine !== engine {
                    s.current = (engine, engine.liveScreener(limits: limits))
                }
                screener = s.current!.screener
            }
            s.line += 1
            let outputs = screener.handle(line: ArraySlice(line), number: s.line, source: "call \(call)")
            var answer = Answer()
            for o in outputs {
                switch o {
                case .alert(let json, _):
                    if eventCall(json, key: "call") == call { answer.alert = Array(json.utf8) } else { unclaimed(o) }
                case .final(let json, let level):
                    let id = eventCall(json, key: "id")
                    if let id { s.owner.removeValue(forKey: id) }
                    onFinal(json, level)
                    if id == call { answer.final = Array(json.utf8) } else { unclaimed(o) }
                case .malformed(let m):
                    answer.malformed = m
                case .notice:
                    unclaimed(o)
                }
            }
            // Open after this event unless it ended it (a turn at the turn limit ends the call so
            // far and opens a new one with the same id, on the same screener).
            if !end && answer.malformed == nil { s.owner[call] = screener }
            if s.owner.isEmpty, let c = s.current, c.engine !== engine { s.current = nil }
            return answer
        }
    }

    /// Closes every open call (shutdown): their finals go to the server's output.
    func closeAll() {
        for shard in shards {
            shard.withLockedValue { s in
                var screeners: [ObjectIdentifier: LiveCallScreener] = [:]
                for (_, sc) in s.owner { screeners[ObjectIdentifier(sc)] = sc }
                for sc in screeners.values {
                    for o in sc.finish() {
                        if case .final(let json, let level) = o { onFinal(json, level) }
                        unclaimed(o)
                    }
                }
                s.owner.removeAll()
                s.current = nil
            }
        }
    }
}

/// The call id an alert (`call`) or a final (`id`) is about.
func eventCall(_ json: String, key: String) -> String? {
    guard case .success(let fields) = JSONLine.object(ArraySlice(json.utf8)) else { return nil }
    for f in fields where f.key == key {
        if let s = f.value as? String { return s }
        if let n = f.value as? JSONNumber { return n.text }
    }
    return nil
}

/// A field of an alert or final event, for metrics (level, category).
func eventField(_ json: String, _ key: String) -> String? { eventCall(json, key: key) }
