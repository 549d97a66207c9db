@testable import Fanzha

// Random regexes and texts for the suites that check a reading of regex syntax against PCRE2
// itself (LiteralGateTests, StartAnchorsTests): whatever the reading concludes must hold of
// every match PCRE2 finds.

/// Alternations of sequences of items with quantifiers, up to three groups deep. An item is one
/// of `chars` (written as it is), one of `items` (classes, escapes, assertions: anything else of
/// one character or none), or a group opened by one of `groups` (each as likely as its count in
/// the list). The texts are made of `chars`, so the regexes match some of them.
struct RandomRegexes {
    private var rng: SplitMix64
    let chars: [String]
    let items: [String]
    let groups: [String]
    let quantifiers: [String]

    init(seed: UInt64, chars: [String], items: [String], groups: [String], quantifiers: [String]) {
        rng = SplitMix64(seed: seed)
        self.chars = chars
        self.items = items
        self.groups = groups
        self.quantifiers = quantifiers
    }

    mutating func next() -> UInt64 { rng.next() }

    mutating func regex() -> String { alternation(0) }

    /// Up to `maxLength - 1` of `chars`.
    mutating func text(maxLength: Int) -> String {
        (0..<Int(rng.next() % UInt64(maxLength))).map { _ in pick(chars) }.joined()
    }

    private mutating func pick(_ xs: [String]) -> String { xs[Int(rng.next() % UInt64(xs.count))] }

    private mutating func item(_ depth: Int) -> String {
        let k = Int(rng.next() % UInt64(depth > 2 ? 4 : 4 + groups.count))
        switch k {
        case 0, 1, 2: return pick(chars)
        case 3: return pick(items)
        default: return groups[k - 4] + alternation(depth + 1) + ")"
        }
    }

    private mutating func sequence(_ depth: Int) -> String {
        var s = ""
        for _ in 0..<(1 + Int(rng.next() % 4)) {
            s += item(depth)
            s += pick(quantifiers)
        }
        return s
    }

    private mutating func alternation(_ depth: Int) -> String {
        var branches: [String] = []
        for _ in 0..<(1 + Int(rng.next() % (depth == 0 ? 2 : 3))) { branches.append(sequence(depth)) }
        return branches.joined(separator: "|")
    }
}
