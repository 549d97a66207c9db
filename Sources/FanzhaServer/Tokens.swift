import Foundation

/// What a token may do. `screen`: scan, explain, live calls; `dispatch`: the referral queue;
/// `admin`: rule reloads. A token holds any set of them.
package enum Role: String, Sendable, CaseIterable {
    case screen, dispatch, admin
}

/// The `--tokens` file: one token per line, `NAME ROLE[,ROLE…] TOKEN`; `#` starts a comment.
/// The name is who the audit trail says acted; the token is the secret a client sends as
/// `Authorization: Bearer TOKEN`.
package struct TokenTable: Sendable {
    package struct Entry: Sendable {
        package let name: String
        package let roles: Set<Role>
        let secret: [UInt8]
    }

    package let entries: [Entry]

    package init(entries: [Entry]) { self.entries = entries }

    package struct ParseError: Error, CustomStringConvertible {
        package let description: String
    }

    package static func load(path: String) throws -> TokenTable {
        guard let data = FileManager.default.contents(atPath: path) else { throw ParseError(description: "\(path): cannot read the tokens file") }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    package static func parse(_ text: String, path: String) throws -> TokenTable {
        var entries: [Entry] = []
        for (n, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            guard fields.count == 3 else {
                throw ParseError(description: "\(path):\(n + 1): expected `NAME ROLE[,ROLE…] TOKEN`, found \(fields.count) field\(fields.count == 1 ? "" : "s")")
            }
            var roles = Set<Role>()
            for r in fields[1].split(separator: ",") {
                guard let role = Role(rawValue: String(r)) else {
                    throw ParseError(description: "\(path):\(n + 1): unknown role `\(r)` (\(Role.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                roles.insert(role)
            }
            guard fields[2].utf8.count >= 16 else {
                throw ParseError(description: "\(path):\(n + 1): token of `\(fields[0])` is shorter than 16 characters")
            }
            if entries.contains(where: { $0.secret == Array(fields[2].utf8) }) {
                throw ParseError(description: "\(path):\(n + 1): the token of `\(fields[0])` is also another name's")
            }
            entries.append(Entry(name: String(fields[0]), roles: roles, secret: Array(fields[2].utf8)))
        }
        return TokenTable(entries: entries)
    }

    /// The entry whose token this is. Every entry is compared, each in time that depends only on
    /// the lengths, so response time does not tell how much of a guess was right.
    package func entry(token: Substring) -> Entry? {
        let given = Array(token.utf8)
        var found: Entry? = nil
        for e in entries {
            var diff = UInt8(e.secret.count == given.count ? 0 : 1)
            for i in 0..<e.secret.count { diff |= e.secret[i] ^ (i < given.count ? given[i] : 0) }
            if diff == 0 { found = e }
        }
        return found
    }
}

/// Who made a request: a token's entry, or everyone when the server runs without `--tokens`.
package struct Caller: Sendable {
    package let name: String
    package let roles: Set<Role>
    package static let open = Caller(name: "anonymous", roles: Set(Role.allCases))
}
