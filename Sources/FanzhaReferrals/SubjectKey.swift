import Foundation

/// The key of the person at risk (`--subject-field`): one person must be one key however the
/// number was written, or a second warning opens a second case instead of joining the first.
///
/// A value made of digits and the separators people write in phone numbers (spaces, hyphens,
/// dots, brackets, a leading `+`; full-width forms too) is a number: the separators go, and a
/// Chinese number loses its country code — `+86 138-0013-8000`, `8613800138000`,
/// `0086 13800138000` and `138 0013 8000` are all `13800138000`; `+86 10 8888 7777` and
/// `010-8888-7777` are `01088887777` (the trunk 0 back in front of the area code); a number of
/// another country keeps its code as `+CC…`. Anything else — fewer than 5 or more than 15 digits
/// (a bank card), an account, a WeChat id, a name, a link — is kept as written (only surrounding
/// spaces are trimmed): it is not ours to guess.
///
/// `scan --refer`, `fanzha serve` and the `--subject` filter all key subjects through here.
public enum SubjectKey {
    /// The key of `raw`; empty when `raw` is blank.
    public static func key(_ raw: String) -> String {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        return phoneNumber(trimmed) ?? trimmed
    }

    /// `s` as a phone number's key, or nil when it is not written as one.
    static func phoneNumber(_ s: String) -> String? {
        var digits = ""
        var plus = false
        for u in s.unicodeScalars {
            var v = u.value
            if (0xFF01...0xFF5E).contains(v) { v -= 0xFEE0 }   // full-width ＋－．（）０-９ as ASCII
            switch v {
            case 0x30...0x39: digits.unicodeScalars.append(Unicode.Scalar(v)!)
            case 0x2B where digits.isEmpty && !plus: plus = true              // + before the digits
            case 0x20, 0x2D, 0x2E, 0x28, 0x29, 0xA0, 0x3000, 0x2010...0x2015: continue   // space - . ( ) nbsp ideographic space, dashes
            default: return nil
            }
        }
        // 5 to 15 digits (E.164's longest): a bank card (16–19) is not a phone number.
        guard (5...15).contains(digits.count) else { return nil }
        var international: Substring? = nil
        if plus { international = Substring(digits) }
        else if digits.hasPrefix("00") { international = digits.dropFirst(2) }
        if let rest = international {
            guard rest.hasPrefix("86") else { return "+" + rest }
            let national = rest.dropFirst(2)
            return isMobile(national) || national.hasPrefix("0") ? String(national) : "0" + national
        }
        // 86 before a mobile number without the + (how some switches write the caller).
        if digits.count == 13, digits.hasPrefix("86"), isMobile(digits.dropFirst(2)) { return String(digits.dropFirst(2)) }
        return digits
    }

    /// A mainland mobile number: 11 digits, 1 then 3–9.
    static func isMobile(_ d: Substring) -> Bool {
        d.count == 11 && d.first == "1" && d.dropFirst().first.map { ("3"..."9").contains($0) } == true
    }
}
