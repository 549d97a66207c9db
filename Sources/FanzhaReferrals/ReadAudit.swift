import Foundation
import GRDB

extension ReferralStore {
    /// Writes into a case's history that `actor` read it (the service's audit trail: who looked
    /// at a person's case, not only who changed it). The state is unchanged: `from` = `to`.
    public func recordRead(_ id: Int64, actor: String, note: String? = nil) throws {
        let at = now
        try write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT state, tier FROM referral_case WHERE id = ?", arguments: [id]) else {
                throw ReferralError.noSuchCase(id)
            }
            let state: String = row["state"]
            try event(db, case: id, at: at, actor: actor, kind: "read", from: state, to: state, tier: Tier(rawValue: row["tier"]) ?? .low, note: note)
        }
    }
}
