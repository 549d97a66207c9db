import Foundation
import Testing
@testable import Fanzha

// The Redactor: every format it hides, what it must leave alone, and how evidence spans map
// through a redaction.

private let redactor = Redactor()
private let everything = Redactor(amounts: true, names: true)

/// Digits (ASCII, full-width or Han 〇一二…九) left in a text.
private func digitCount(_ s: String) -> Int {
    s.unicodeScalars.filter { ("0"..."9").contains($0) || ("０"..."９").contains($0) }.count
}

@Suite struct RedactorFormatTests {
    @Test(arguments: [
        ("请尽快联系我 +86 138 1234 5678 办理", "请尽快联系我 [手机号] 办理"),
        ("客服电话138-1234-5678。", "客服电话[手机号]。"),
        ("回拨１３８１２３４５６７８核实", "回拨[手机号]核实"),
        ("电话是 1 3 8 1 2 3 4 5 6 7 8 快打", "电话是 [手机号] 快打"),
        ("致电13912345678", "致电[手机号]"),
        ("号码 +8613912345678", "号码 [手机号]"),
        ("手机：0086 139 1234 5678", "手机：[手机号]"),
        ("拨 139.1234.5678 咨询", "拨 [手机号] 咨询"),
        ("联系幺三八一二三四五六七八", "联系[手机号]"),
        ("加①③⑧①②③④⑤⑥⑦⑧咨询", "加[手机号]咨询"),
        ("回拨𝟏𝟑𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖核实", "回拨[手机号]核实"),
        ("电话١٣٨١٢٣٤٥٦٧٨", "电话[手机号]"),
    ])
    func mobileNumbers(text: String, expected: String) {
        #expect(redactor.apply(text) == expected)
    }

    @Test(arguments: [
        ("请回拨020-96110-0817转刑侦支队", "请回拨[座机号]转刑侦支队"),
        ("座机 0755-12345678 找王科长", "座机 [座机号] 找王科长"),
        ("010 1234567", "[座机号]"),
        ("（010）12345678", "[座机号]"),
        ("客服热线 400-123-4567", "客服热线 [座机号]"),
    ])
    func landlines(text: String, expected: String) {
        #expect(redactor.apply(text) == expected)
    }

    @Test(arguments: [
        ("转到卡号 6222 0212 3456 7890 123 即可", "转到卡号 [银行卡号] 即可"),
        ("收款卡6222021234567890", "收款卡[银行卡号]"),
        ("账号：6217-0012-3456-7890-12，户名张三", "账号：[银行卡号]，户名张三"),
        ("卡号６２２８４８００１２３４５６７８９１", "卡号[银行卡号]"),
        // a shorter (cut-off) account number after an account word
        ("卡号是六二幺七零零三九幺二零二", "卡号是[银行卡号]"),
        ("收款账户：1234 5678 9012", "收款账户：[银行卡号]"),
        ("QQ账号 12345678", "QQ账号 [QQ号]"),
    ])
    func bankCards(text: String, expected: String) {
        #expect(redactor.apply(text) == expected)
    }

    @Test(arguments: [
        ("身份证号11010519491231002X已被冒用", "身份证号[身份证号]已被冒用"),
        ("身份证 11010519491231002x。", "身份证 [身份证号]。"),
        ("证件号 110105 19491231 002X", "证件号 [身份证号]"),
        ("身份证号码440301199001011234", "身份证号码[身份证号]"),
        ("老身份证110105491231002", "老身份证[身份证号]"),
    ])
    func idCards(text: String, expected: String) {
        #expect(redactor.apply(text) == expected)
    }

    @Test func idCardKindsAreLabelledRight() {
        #expect(redactor.matches(in: "11010519491231002X").map(\.kind) == [.idCard])
        #expect(redactor.matches(in: "6222 0212 3456 7890 123").map(\.kind) == [.bankCard])
        #expect(redactor.matches(in: "+86 138 1234 5678").map(\.kind) == [.mobile])
        #expect(redactor.matches(in: "020-87654321").map(\.kind) == [.landline])
    }

    @Test(arguments: [
        ("加QQ：12345678领取", "加QQ：[QQ号]领取"),
        ("qq号 10001 联系", "qq号 [QQ号] 联系"),
        ("扣扣987654321", "扣扣[QQ号]"),
        ("进QQ群 556677889 做任务", "进QQ群 [QQ号] 做任务"),
        ("ＱＱ：１２３４５６７", "ＱＱ：[QQ号]"),
    ])
    func qqNumbers(text: String, expected: String) {
        #expect(redactor.apply(text) == expected)
    }

    @Test(arguments: [
        ("加微信：abc_123456 领红包", "加微信：[微信号] 领红包"),
        ("vx: kefu8888", "vx: [微信号]"),
        ("微信号 zhang-san88，备注兼职", "微信号 [微信号]，备注兼职"),
        ("加wx：Tom_2024", "加wx：[微信号]"),
        ("我的 wxid_abcdef123", "我的 [微信号]"),
        ("加VX 13812345678", "加VX [微信号]"),
        ("微信 88889999", "微信 [微信号]"),
    ])
    func wechatIDs(text: String, expected: String) {
        #expect(redactor.apply(text) == expected)
    }

    @Test(arguments: [
        ("请登录 http://10086-jf.vip-cn.top 及时兑换。", "请登录 [链接] 及时兑换。"),
        ("点击https://www.example.com/a/b?x=1&y=2，完成认证", "点击[链接]，完成认证"),
        ("登录 www.icbc-safe.cc/m 解除限制", "登录 [链接] 解除限制"),
        ("请登录 icbc-safe.cc/m 解除限制", "请登录 [链接] 解除限制"),
        ("下载 abc-xyz.top/app 注册", "下载 [链接] 注册"),
        ("点击 t.cn/A6xq 查看详情", "点击 [链接] 查看详情"),
        ("网址：ＡＢＣ．ＴＯＰ", "网址：[链接]"),
        ("发到123456@qq.com邮箱", "发到[邮箱]邮箱"),
        ("(见 https://a.cn/x)", "(见 [链接])"),
    ])
    func links(text: String, expected: String) {
        #expect(redactor.apply(text) == expected)
    }

    @Test(arguments: [
        ("先交保证金5000元", "先交保证金[金额]"),
        ("充值¥3,000即可提现", "充值[金额]即可提现"),
        ("已经转了3万，还要再转2.5万元", "已经转了[金额]，还要再转[金额]"),
        ("一共三百多万", "一共[金额]"),
        ("卡里有二十来万", "卡里有[金额]"),
        ("额度是四万八", "额度是[金额]"),
        ("只要9.9元", "只要[金额]"),
        ("人民币 800 元", "人民币 [金额]"),
    ])
    func amountsWhenAsked(text: String, expected: String) {
        #expect(Redactor(amounts: true).apply(text) == expected)
        // not by default
        #expect(redactor.apply(text) == text)
    }

    @Test(arguments: [
        ("请问是刘桂芳女士吗？", "请问是[姓名]女士吗？"),
        ("您好，王芳女士", "您好，[姓名]女士"),
        ("我是李明，你的老同学", "我是[姓名]，你的老同学"),
        ("我叫王小军。", "我叫[姓名]。"),
        ("联系李建国警官", "联系[姓名]警官"),
        ("欧阳娜娜女士", "[姓名]女士"),
    ])
    func namesWhenAsked(text: String, expected: String) {
        #expect(Redactor(names: true).apply(text) == expected)
        #expect(redactor.apply(text) == text)
    }

    @Test(arguments: [
        "请致电办案民警王警官", "我是王经理", "我是你领导", "我是中国银行客服", "张女士您好", "我是京东金牌客服",
        "我叫你一声", "这位先生请留步", "我是任务群的接待员", "我是周董", "我是李總",
    ])
    func namesStayConservative(text: String) {
        #expect(Redactor(names: true).apply(text) == text)
    }
}

@Suite struct RedactorRestraintTests {
    @Test(arguments: [
        "如有疑问请拨打96110反诈专线",
        "已经转账的，立即拨打110报警",
        "12381预警短信提示",
        "急救电话120，火警119",
        "活动时间2024年5月1日至2024-05-07",
        "请于今日18:00前回复",
        "核查完毕48小时内原路退还",
        "9.9元包邮，第3期",
        "验证码 482913，5分钟内有效",
        "订单尾号 5678",
        "案件编号沪检刑（2024）0917号",
        "【交管12123】您有一条违章记录",
        "版本 v1.2.3 已发布",
        "积分12860分将于今日清零",
        "日期 2024/05/01 12:30",
        "我在3楼301室",
        "卡号尾号 5678 的用户",
        "账户余额 12345678 元",
    ])
    func ordinaryNumbersStay(text: String) {
        #expect(redactor.apply(text) == text)
        #expect(everything.matches(in: text).allSatisfy { $0.kind == .amount || $0.kind == .name })
    }

    @Test(arguments: [("垫付2万8的款", "垫付[金额]的款"), ("借1万2给我", "借[金额]给我"), ("损失5万多", "损失[金额]"), ("共10万余元", "共[金额]")])
    func amountsWithATailAreHiddenWhole(text: String, expected: String) {
        #expect(everything.apply(text) == expected)
    }

    @Test func pricesStayUnlessAmountsAreRedacted() {
        #expect(redactor.apply("秒杀价9.9元") == "秒杀价9.9元")
        #expect(Redactor(amounts: true).apply("秒杀价9.9元") == "秒杀价[金额]")
    }

    @Test func countsAreNotAmounts() {
        let r = Redactor(amounts: true)
        #expect(r.apply("已有3万人参加") == "已有3万人参加")
        #expect(r.apply("万一出事") == "万一出事")
        #expect(r.apply("千万不要转账") == "千万不要转账")
    }

    @Test(arguments: [
        "回拨+86 138 1234 5678", "打138-1234-5678", "１３８１２３４５６７８", "1 3 8 1 2 3 4 5 6 7 8",
        "卡6222 0212 3456 7890 123", "证11010519491231002X", "qq 123456789", "020-87654321",
        "电话13812345678 2024年5月1日前回复", "卡号6222021234567890，手机13912345678",
        "1.5元 13812345678", "13812345678/13912345678", "13812345678 12345",
    ])
    func noHiddenDigitSurvives(text: String) {
        let out = redactor.apply(text)
        // everything numeric in these texts is sensitive, except the date and the price
        let allowed = ["2024", "5", "1", "1.5"]
        var rest = out
        for a in allowed.sorted(by: { $0.count > $1.count }) { rest = rest.replacingOccurrences(of: a, with: "") }
        #expect(digitCount(rest) == 0, "\(text) → \(out)")
    }

    @Test func overlappingFormatsKeepTheLongest() {
        // a mobile number inside a URL is hidden with the URL
        #expect(redactor.apply("见http://a.cn/u/13812345678，速看") == "见[链接]，速看")
        #expect(redactor.matches(in: "QQ 12345678 电话 13812345678").map(\.kind) == [.qq, .mobile])
    }

    @Test func placeholdersAreListed() {
        #expect(redactor.placeholders.contains("[手机号]"))
        #expect(!redactor.placeholders.contains("[金额]"))
        #expect(everything.placeholders.contains("[金额]") && everything.placeholders.contains("[姓名]"))
        #expect(Redactor.Kind.allCases.map(\.placeholder).contains("[座机号]"))
    }
}

@Suite struct RedactorSpanTests {
    let text = "请拨打13812345678转账到6222021234567890，安全账户"
    // offsets: 请拨打 = 0..<3, phone = 3..<14, 转账到 = 14..<17, card = 17..<33, ， 33, 安全账户 34..<38

    @Test func spansBeforeAndAfterAreShifted() {
        let r = redactor.redact(text)
        #expect(r.text == "请拨打[手机号]转账到[银行卡号]，安全账户")
        let before = r.mapSpan(EvidenceSpan(turn: nil, start: 0, end: 3, text: "请拨打"))
        #expect(before.start == 0 && before.end == 3 && before.text == "请拨打")
        let after = r.mapSpan(EvidenceSpan(turn: nil, start: 34, end: 38, text: "安全账户"))
        #expect(after.text == "安全账户")
        let between = r.mapSpan(EvidenceSpan(turn: nil, start: 14, end: 16, text: "转账"))
        #expect(between.text == "转账")
    }

    @Test func aSpanOverlappingAHiddenRunCoversThePlaceholder() {
        let r = redactor.redact(text)
        // the span covers only part of the number
        let part = r.mapSpan(EvidenceSpan(turn: nil, start: 5, end: 9, text: "8123"))
        #expect(part.text == "[手机号]")
        // a span from the verb into the card number
        let across = r.mapSpan(EvidenceSpan(turn: nil, start: 14, end: 20, text: "转账到622"))
        #expect(across.text == "转账到[银行卡号]")
        // exactly the number
        let exact = r.mapSpan(EvidenceSpan(turn: nil, start: 3, end: 14, text: "13812345678"))
        #expect(exact.text == "[手机号]")
    }

    @Test func highlightingARedactedRecordMarksThePlaceholder() {
        let record = Record(id: "m", text: text)
        let hits = [RuleHit(ruleIndex: 0, spans: [EvidenceSpan(turn: nil, start: 3, end: 10, text: "1381234"),
                                             EvidenceSpan(turn: nil, start: 34, end: 38, text: "安全账户")])]
        let (red, mapped) = redactor.redact(record: record, hits: hits)
        let marked = Highlighter(style: .markdown).mark(record: red, hits: mapped)
        #expect(marked == "请拨打**[手机号]**转账到[银行卡号]，**安全账户**")
        #expect(digitCount(marked) == 0)
    }

    @Test func callsAreRedactedTurnByTurn() {
        let record = Record(id: "call-13812345678", turns: [
            Turn(speaker: "caller", side: .caller, text: "我是刘桂芳女士的律师"),
            Turn(speaker: "callee", side: .callee, text: "好"),
            Turn(speaker: "caller", side: .caller, text: "把钱转到6222 0212 3456 7890 123"),
        ])
        let hits = [RuleHit(ruleIndex: 0, spans: [EvidenceSpan(turn: 2, start: 1, end: 5, text: "钱转到6"),
                                             EvidenceSpan(turn: 0, start: 7, end: 10, text: "的律师")])]
        let (red, mapped) = Redactor(names: true).redact(record: record, hits: hits)
        #expect(red.id == "call-[手机号]")
        #expect(red.turns.map(\.text) == ["我是[姓名]女士的律师", "好", "把钱转到[银行卡号]"])
        #expect(mapped[0].spans.map(\.text) == ["钱转到[银行卡号]", "的律师"])
        #expect(mapped[0].spans.map(\.turn) == [2, 0])
    }
}
