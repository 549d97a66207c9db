import Foundation
import Testing
@testable import Fanzha
import FanzhaText

// Learned evidence: `fanzha train`, the model file, and the rules' `model` condition.

/// The model shipped beside the bundled rules (rules/model.fzm).
func bundledModel(sourceLocation: SourceLocation = #_sourceLocation) throws -> TextModel {
    try TextModel.load(path: PackageFiles.rulesDirectory + "/" + TextModel.defaultFileName)
}

/// A small labelled set written for this test: scam messages of a few types and everyday
/// messages, each template with several fillers.
private func tinyLabelledSet() -> [Record] {
    let scams = ["你的银行卡涉嫌洗钱，请把资金转到安全账户配合调查", "恭喜中奖，请先缴纳手续费领取奖金", "刷单返利，先垫付本金完成任务立即返还佣金",
                 "客服通知：您的订单异常，需要退款，请提供验证码", "我是你领导，明天来我办公室，先帮我转一笔钱给客户",
                 "贷款无抵押秒批，先交保证金解冻账户"]
    let benign = ["今晚一起吃饭吗，我订了七点的位子", "妈，我周末回家，帮我留点汤", "会议改到下午三点，请准时参加",
                  "快递到了驿站，记得去取", "明天下雨，出门带伞", "孩子的作业写完了吗，早点睡"]
    let fillers = ["", "。", "！谢谢", "，收到请回复", "，急", "。好的"]
    var out: [Record] = []
    for (k, f) in fillers.enumerated() {
        for (i, s) in scams.enumerated() { out.append(Record(id: "s\(i)-\(k)", text: s + f, label: "scam")) }
        for (i, b) in benign.enumerated() { out.append(Record(id: "b\(i)-\(k)", text: b + f, label: "benign")) }
    }
    return out
}

private func tinyModel() throws -> TextModel {
    var options = TrainOptions()
    options.bucketBits = 16
    options.minDocumentFrequency = 1
    options.epochs = 20
    options.holdout = 0   // calibrated on the training records: few enough that a slice would be noise
    return try Trainer.train(tinyLabelledSet(), options: options, info: "test").0
}

private func temporaryFile(_ name: String, _ bytes: [UInt8]) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fanzha-model-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let path = dir.appendingPathComponent(name).path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

@Suite struct ModelTests {
    /// The weight table answers as a dense one would, for every bucket: random sparse weights
    /// with zeros and repeated buckets (the later wins), buckets that share their low bits (so
    /// collide and probe on), and probes that wrap round the end of the table; both from pairs in
    /// any order (a model being trained) and in rising bucket order (a model file's, read
    /// backwards to place the largest bucket first), at several densities up to half full.
    @Test func packedWeightsAnswerAsADenseTable() {
        var rng = SystemRandomNumberGenerator()
        for buckets in [256, 1 << 12] {
            for share in [64, 16, 4] {
                var dense = [Float](repeating: 0, count: buckets)
                var sparse: [(bucket: Int, weight: Float)] = [(0, 1.5), (63, -2), (64, 0.25), (buckets - 1, 3), (buckets - 1 - 64, -1), (buckets / 2 - 1, 0.5)]
                // A `share`th of the buckets drawn: the table (a power of two, two pairs a weight
                // or more) is then smaller than the bucket range, so buckets share their low bits.
                for _ in 0..<(buckets / share) {
                    let b = Int.random(in: 0..<buckets, using: &rng)
                    sparse.append((b, Bool.random(using: &rng) ? 0 : Float.random(in: -4...4, using: &rng)))
                }
                for (b, x) in sparse { dense[b] = x }
                let rising = dense.indices.map { (bucket: $0, weight: dense[$0]) }.filter { $0.weight != 0 || Bool.random(using: &rng) }
                for pairs in [sparse, rising] {
                    let table = WeightTable(buckets: buckets, sparse: pairs)
                    defer { table.deallocate() }
                    #expect(table.count == dense.filter { $0 != 0 }.count)
                    #expect((0..<buckets).allSatisfy { table[$0] == dense[$0] })
                    var listed: [(Int, Float)] = []
                    table.forEachNonZero { listed.append(($0, $1)) }
                    #expect(listed.map(\.0) == dense.indices.filter { dense[$0] != 0 })
                    #expect(listed.allSatisfy { dense[$0.0] == $0.1 })
                }
            }
        }
        // Three weights in a table of 16 pairs, all placed from its last pair, the largest bucket
        // first: 47 there, 31 and 15 wrap to its first two; 63 (none, larger than all three) is
        // found absent at the first pair it reads, 0 (smaller) only after 31 and 15.
        let wrapped = WeightTable(buckets: 256, sparse: [(15, 1), (31, 2), (47, 3)])
        defer { wrapped.deallocate() }
        #expect([15, 31, 47, 63, 0, 1, 14].map { wrapped[$0] } == [1, 2, 3, 0, 0, 0, 0])
    }

    @Test func trainingIsDeterministic() throws {
        let a = try tinyModel().serialised(), b = try tinyModel().serialised()
        #expect(a == b)
        // Reading the text on more or fewer workers changes nothing.
        var one = TrainOptions()
        one.threads = 1
        var many = TrainOptions()
        many.threads = 4
        let records = tinyLabelledSet()
        #expect(try Trainer.train(records, options: one).0.serialised() == Trainer.train(records, options: many).0.serialised())
        // Another seed, another shuffle.
        var other = TrainOptions()
        other.seed = 2
        #expect(try Trainer.train(records, options: other).0.serialised() != Trainer.train(records, options: one).0.serialised())
    }

    /// `--folds`: every record calibrates from a model that did not train on it; the model is the
    /// mean of the parts' models; the parts train in parallel and the result does not depend on it.
    @Test func outOfFoldCalibration() throws {
        let records = tinyLabelledSet()
        var options = TrainOptions()
        options.bucketBits = 16
        options.minDocumentFrequency = 1
        options.folds = 4
        options.threads = 1
        let (model, report) = try Trainer.train(records, options: options)
        #expect(report.folds == 4 && report.trained == records.count && report.heldOut == 0)
        #expect(report.logLoss != nil && report.auc != nil)
        var many = options
        many.threads = 4
        #expect(try Trainer.train(records, options: many).0.serialised() == model.serialised())
        // Each record is measured by a model that never read it. Two everyday messages labelled
        // scam: the model trained on them learns them, but out of fold at least one reads as the
        // everyday message it is, a miss the clean set does not have.
        let odd = [Record(id: "odd1", text: "周六下午去公园散步，顺便买点水果", label: "scam"),
                   Record(id: "odd2", text: "阳台的花开了，拍张照片给奶奶看", label: "scam")]
        let (learned, withOdd) = try Trainer.train(records + odd, options: options)
        let scorer = try ModelScorer(learned)
        #expect(odd.allSatisfy { scorer.probability($0) >= 0.5 })
        #expect(withOdd.accuracy! <= Double(records.count + 1) / Double(records.count + 2), "\(withOdd.accuracy!)")
        #expect(report.accuracy == 1, "\(report.accuracy!)")
        #expect(Trainer.describe(options, files: [("a.jsonl", [1])]).contains("folds 4 on a.jsonl"))
        // Below 40 records there are too few to hold any out: calibrated on the training records.
        let few = try Trainer.train(Array(records.prefix(30)), options: options).1
        #expect(few.folds == 0 && few.trained == 30 && few.logLoss == nil)
    }

    /// `make model` is reproducible: the corpus trained twice gives the same bytes, and the model
    /// the project ships loads.
    @Test func corpusModelIsReproducible() throws {
        let records = try loadCorpusRecords()
        let a = try Trainer.train(records, options: TrainOptions(), info: "x").0.serialised()
        let b = try Trainer.train(records, options: TrainOptions(), info: "x").0.serialised()
        #expect(a == b)
        let shipped = try bundledModel()
        #expect(shipped.scamCount + shipped.benignCount > 300)
    }

    /// rules/model.fzm records a fingerprint of the corpus it was trained on; when corpus/ changes
    /// without `make model`, the shipped model is stale and this fails.
    @Test func shippedModelIsTrainedOnTheCurrentCorpus() throws {
        let shipped = try bundledModel()
        let files = try ["messages.jsonl", "calls.jsonl"].map { name -> [UInt8] in
            let path = PackageFiles.corpus(name)
            return [UInt8](try #require(FileManager.default.contents(atPath: path), "cannot read \(path)"))
        }
        let recorded = try #require(Trainer.recordedFingerprint(shipped), "rules/model.fzm records no training-data fingerprint: run `make model`")
        #expect(recorded == Trainer.fingerprint(files),
                "rules/model.fzm is stale: corpus/messages.jsonl or corpus/calls.jsonl changed since it was trained; run `make model`")
    }

    @Test func trainingDataFingerprintFollowsTheBytes() throws {
        let a: [UInt8] = Array("{\"id\":\"1\",\"label\":\"benign\",\"text\":\"明天见\"}\n".utf8)
        var b = a
        b[b.count - 3] ^= 1
        #expect(Trainer.fingerprint([a]) == Trainer.fingerprint([a]))
        #expect(Trainer.fingerprint([a]) != Trainer.fingerprint([b]))
        // The same bytes cut into other files are other data.
        #expect(Trainer.fingerprint([a, a]) != Trainer.fingerprint([a + a, []]))
        #expect(Trainer.fingerprint([a]).count == 16)
        // What `train` writes into the model, read back from the model.
        let info = Trainer.describe(TrainOptions(), files: [("x.jsonl", a)])
        #expect(info.hasPrefix("fanzha train lr 1-3-grams 2^20 buckets seed 1 "))
        let model = try Trainer.train(tinyLabelledSet(), options: TrainOptions(), info: info).0
        let loaded = try TextModel.load(path: try temporaryFile("fp.fzm", model.serialised()))
        #expect(Trainer.recordedFingerprint(loaded) == Trainer.fingerprint([a]))
        #expect(Trainer.recordedFingerprint(try tinyModel()) == nil)
    }

    @Test func roundTripsThroughItsFile() throws {
        let model = try tinyModel()
        let path = try temporaryFile("m.fzm", model.serialised())
        let loaded = try TextModel.load(path: path)
        #expect(loaded.serialised() == model.serialised())
        #expect(loaded.path == path)
        let text = [Array("请把资金转到安全账户".utf8)]
        #expect(loaded.probability(normalised: text) == model.probability(normalised: text))
    }

    @Test func loadRejectsBadFilesNamingThem() throws {
        let good = try tinyModel().serialised()
        func rejects(_ bytes: [UInt8], _ name: String, _ words: String) throws {
            let path = try temporaryFile(name, bytes)
            do {
                _ = try TextModel.load(path: path)
                Issue.record("\(name) loaded")
            } catch let e as ModelError {
                #expect(e.description.hasPrefix(path), "\(e)")
                #expect(e.description.contains(words), "\(e)")
            }
        }
        var corrupt = good
        corrupt[corrupt.count - 20] ^= 0x40
        try rejects(corrupt, "corrupt.fzm", "checksum")
        try rejects(Array(good.prefix(good.count - 13)), "truncated.fzm", "truncated")
        try rejects(Array(good.prefix(30)), "short.fzm", "truncated")
        var version = good
        version[8] = 9
        try rejects(version, "version.fzm", "version 9")
        try rejects(Array("levels low 3, medium 6, high 10\n".utf8), "rules.fzm", "not a Fanzha model")
        try rejects(good + [0], "trailing.fzm", "trailing")
        do {
            _ = try TextModel.load(path: "/nonexistent/x.fzm")
            Issue.record("a missing file loaded")
        } catch let e as ModelError {
            #expect(e.description == "/nonexistent/x.fzm: no such file")
        }
    }

    @Test func separatesAWrittenLabelledSet() throws {
        let model = try tinyModel()
        let scorer = try ModelScorer(model)
        // Texts not in the training set, of the same kinds; one in traditional characters and
        // full-width forms, which the normaliser folds before the model sees it.
        let scam = ["请马上把钱转到安全账户，配合调查洗钱案", "恭喜您中奖了，先交手续费才能领取", "請馬上把錢轉到安全帳戶，配合調查洗錢案"]
        let benign = ["今晚七点一起吃饭吧", "明天开会记得带伞", "妈，周末我回家吃饭"]
        for s in scam { #expect(scorer.probability(Record(id: "x", text: s)) > 0.5, "\(s)") }
        for b in benign { #expect(scorer.probability(Record(id: "x", text: b)) < 0.5, "\(b)") }
        #expect(scorer.probability(Record(id: "x", text: scam[0])) - scorer.probability(Record(id: "x", text: scam[2])) < 0.05)
    }

    @Test func logisticRegressionAndNaiveBayesBothTrain() throws {
        var options = TrainOptions()
        options.algorithm = .complementNaiveBayes
        options.minDocumentFrequency = 1
        options.bucketBits = 16
        let nb = try Trainer.train(tinyLabelledSet(), options: options).0
        #expect(nb.algorithm == .complementNaiveBayes)
        let path = try temporaryFile("nb.fzm", nb.serialised())
        #expect(try TextModel.load(path: path).algorithm == .complementNaiveBayes)
        let scorer = try ModelScorer(nb)
        #expect(scorer.probability(Record(id: "x", text: "把资金转到安全账户")) > scorer.probability(Record(id: "x", text: "今晚一起吃饭")))
    }

    /// `--weight`: all 1 is the unweighted model, byte for byte; a heavier record pulls the
    /// model its way; a record is never split between training and calibration.
    @Test func weightsCountRecordsMoreOften() throws {
        var options = TrainOptions()
        options.bucketBits = 16
        options.minDocumentFrequency = 1
        options.holdout = 0
        let records = tinyLabelledSet()
        let plain = try Trainer.train(records, options: options).0
        #expect(try Trainer.train(records, weights: Array(repeating: 1, count: records.count), options: options).0.serialised() == plain.serialised())
        // An everyday message labelled scam (a team's odd label): weighted, the model believes it more.
        let odd = Record(id: "odd", text: "明天下午去公园散步，顺便买点水果", label: "scam")
        let one = try Trainer.train(records + [odd], options: options).0
        let ten = try Trainer.train(records + [odd], weights: Array(repeating: 1, count: records.count) + [10], options: options).0
        let p1 = try ModelScorer(one).probability(odd), p10 = try ModelScorer(ten).probability(odd)
        #expect(p10 > p1 + 0.05, "\(p1) → \(p10)")
        // With a calibration slice, a weighted record is held out once or trained on, never both:
        // the slice is the same records whatever the weights.
        var sliced = options
        sliced.holdout = 0.3
        let w1 = try Trainer.train(records, options: sliced).1, w5 = try Trainer.train(records, weights: Array(repeating: 5, count: records.count), options: sliced).1
        #expect(w1.heldOut == w5.heldOut && w1.trained == w5.trained && w1.heldOut > 0)
        // The model's info names the weight.
        let info = Trainer.describe(options, files: [("a.jsonl", [1]), ("b.jsonl", [2])], weights: [1, 30])
        #expect(info.contains("on a.jsonl, b.jsonl ×30;"), "\(info)")
    }

    @Test func labelsMapToScamOrBenign() {
        let benign = TrainOptions.defaultBenignLabels
        #expect(Trainer.target(of: "benign", benign: benign) == 0)
        #expect(Trainer.target(of: "正常", benign: benign) == 0)
        #expect(Trainer.target(of: "false_alarm", benign: benign) == 0)
        #expect(Trainer.target(of: "dissuaded", benign: benign) == 1)
        #expect(Trainer.target(of: "already_paid", benign: benign) == 1)
        #expect(Trainer.target(of: "police", benign: benign) == 1)
        #expect(Trainer.target(of: "scam", benign: benign) == 1)
        #expect(Trainer.target(of: nil, benign: benign) == nil)
        #expect(Trainer.target(of: " ", benign: benign) == nil)
    }

    // MARK: - The `model` condition

    @Test func modelConditionParsesAndFormats() throws {
        #expect(shape("model >= 0.9") == "(model>=0.9)")
        #expect(shape("model < 0.05 and \"转账\"") == "(and (model<0.05) \"转账\")")
        #expect(shape("not model >= 0.9") == "(not (model>=0.9))")
        #expect(shape("caller: model > 0.5") == "(caller (model>0.5))")
        #expect(shape("model >= 1") == "(model>=1)")
        #expect(shape("model >= 1.5").contains("between 0 and 1") || shape("model >= 1.5").contains("from 0 to 1"))
        #expect(shape("model >= x").hasPrefix("<error"))
        // `model` alone is still a name (a term list or a rule may be called so).
        #expect(shape("model") == "model")
        let text = ruleText(match: "(model >= 0.90 or \"安全账户\") and not model < 0.1", extra: "  allow no_atom\n")
        let (formatted, ds, _) = RuleFormatter.format(path: "t.fz", text: text)
        #expect(ds.filter { $0.severity == .error }.isEmpty)
        let out = try #require(formatted)
        #expect(out.contains("match    (model >= 0.90 or \"安全账户\") and not model < 0.1"), "\(out)")
        let (again, _, _) = RuleFormatter.format(path: "t.fz", text: out)
        #expect(again == out)
    }

    @Test func modelConditionLints() throws {
        // Alone, it has no word for the prefilter: `no-atom`, unless allowed.
        let bare = compileRules(ruleText(match: "model >= 0.9"))
        #expect(bare.errors.isEmpty)
        #expect(bare.warnings.contains { $0.id.rawValue == "no-atom" })
        let allowed = compileRules(ruleText(match: "model >= 0.9", extra: "  allow no_atom\n  hit \"转账\"\n  miss \"你好\"\n"))
        #expect(allowed.diagnostics.isEmpty, "\(allowed.diagnostics.map(\.message))")
        // With a word, the prefilter has one.
        let guarded = compileRules(ruleText(match: "model >= 0.9 and \"转账\"", extra: "  hit \"转账\"\n  miss \"你好\"\n"))
        #expect(guarded.diagnostics.isEmpty, "\(guarded.diagnostics.map(\.message))")
        #expect(try #require(allowed.ruleSet).usesModel)
        #expect(try !#require(compileRules(ruleText(match: "\"转账\"", extra: "  miss \"你好\"\n")).ruleSet).usesModel)
        let bad = compileRules(ruleText(match: "model >= 2"))
        #expect(bad.errors.contains { $0.id.rawValue == "syntax" && $0.message.contains("from 0 to 1") })
    }

    @Test func modelConditionFiresInARule() throws {
        let rules = try compiledRuleSet("""
        rule learned {
          title "模型"
          score 6
          allow no_atom
          match model >= 0.8
        }
        rule learned_benign {
          title "模型认为正常"
          score -2
          allow no_atom
          match model < 0.2
        }
        rule guarded {
          title "模型加词"
          score 1
          match model >= 0.8 and "安全账户"
        }
        rule caller_side {
          title "主叫一方"
          score 1
          allow no_atom
          match caller: model >= 0.8
        }
        """)
        let model = try tinyModel()
        let scanner = try RuleScanner(matcher: CompiledMatcher(rules, model: model))
        let scam = scanner.screen(Record(id: "1", text: "请马上把钱转到安全账户，配合调查洗钱案"))
        let ids = Set(scam.hits.map { $0.rule })
        #expect(ids == ["learned", "guarded", "caller_side"], "\(ids)")
        #expect(scam.score == 8 && scam.level == .medium)
        let chat = scanner.screen(Record(id: "2", text: "今晚七点一起吃饭吧"))
        #expect(chat.hits.map { $0.rule } == ["learned_benign"])
        // Without a model every `model` condition is false, `not` of it true.
        let none = try RuleScanner(rules: rules).screen(Record(id: "1", text: "请马上把钱转到安全账户，配合调查洗钱案"))
        #expect(none.hits.isEmpty)
        // In a call, `caller:` reads only the caller's turns.
        let call = Record(id: "c", turns: [Turn(speaker: "caller", side: .caller, text: "今晚七点一起吃饭吧"),
                                           Turn(speaker: "callee", side: .callee, text: "请马上把钱转到安全账户，配合调查洗钱案")])
        let v = scanner.screen(call)
        let callIDs = Set(v.hits.map { $0.rule })
        #expect(!callIDs.contains("caller_side"), "\(callIDs)")
        let swapped = Record(id: "c", turns: [Turn(speaker: "caller", side: .caller, text: "请马上把钱转到安全账户，配合调查洗钱案"),
                                              Turn(speaker: "callee", side: .callee, text: "今晚七点一起吃饭吧")])
        #expect(scanner.screen(swapped).hits.contains { $0.rule == "caller_side" })
    }

    /// A call's timeline may skip a turn with no dictionary word only when nothing else can
    /// change the verdict: the model reads every turn, so with a model no turn is skipped.
    @Test func everyTurnCanChangeTheVerdictWithAModel() throws {
        let rules = try compiledRuleSet("""
        rule learned {
          title "模型"
          score 6
          allow no_atom
          match model >= 0.5
        }
        rule word {
          title "词"
          score 1
          match "验证码"
        }
        """)
        let call = Record(id: "c", turns: [Turn(speaker: "caller", side: .caller, text: "你好"),
                                           Turn(speaker: "callee", side: .callee, text: "你好"),
                                           Turn(speaker: "caller", side: .caller, text: "请马上把钱转到安全账户，配合调查洗钱案")])
        let without = try RuleScanner(rules: rules)
        #expect(!without.turnMayChangeTheVerdict(without.prepare(call), turn: 2))
        let with = try RuleScanner(matcher: CompiledMatcher(rules, model: try tinyModel()))
        #expect(with.turnMayChangeTheVerdict(with.prepare(call), turn: 2))
        let v = with.screen(call)
        #expect(v.level == .medium)
        #expect(v.firstWarningTurn == 2)
    }

    @Test func evidenceSpansAreOffsetsIntoTheOriginalText() throws {
        let rules = try compiledRuleSet("""
        rule learned {
          title "模型"
          score 6
          allow no_atom
          match model >= 0.5
        }
        """)
        let scanner = try RuleScanner(matcher: CompiledMatcher(rules, model: try tinyModel()))
        // Traditional characters, full-width digits, spaces between characters and an emoji:
        // the model reads the normalised text, the evidence points into this one.
        let text = "🙂 您好！請 馬 上把錢轉到安全帳戶，配合調查洗錢案，編號１２３"
        let scalars = Array(text.unicodeScalars)
        func check(_ s: EvidenceSpan) {
            #expect(s.start >= 0 && s.start < s.end && s.end <= scalars.count, "\(s)")
            guard s.start >= 0, s.start < s.end, s.end <= scalars.count else { return }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[s.start..<s.end])
            #expect(String(view) == s.text)
        }
        let v = scanner.screen(Record(id: "t", text: text))
        let hit = try #require(v.hits.first)
        #expect(!hit.spans.isEmpty)
        hit.spans.forEach(check)
        let report = try #require(scanner.modelReport(Record(id: "t", text: text)))
        #expect(report.probability > 0.5)
        #expect(!report.up.isEmpty)
        for c in report.up + report.down {
            #expect(!c.spans.isEmpty)
            c.spans.forEach(check)
        }
        // The text the model saw is the normalised one: simplified characters.
        #expect(report.up.contains { $0.ngram.contains("钱") || $0.ngram.contains("账") || $0.ngram.contains("转") || $0.ngram.contains("请") },
                "\(report.up.map(\.ngram))")
        // No model, no report.
        #expect(try RuleScanner(rules: rules).modelReport(Record(id: "t", text: text)) == nil)
    }

    /// `explain` gives, beside the probability on the whole text, the one a rule that reads no
    /// frame compares: on the text outside the frames. A rule whose bound lies just below that
    /// figure fires and one just above does not, whatever the whole text's probability is.
    @Test func reportGivesTheProbabilityOutsideTheFrames() throws {
        let model = try tinyModel()
        let text = "反诈提醒：今晚七点一起吃饭吧，妈，我周末回家，帮我留点汤。请马上把钱转到安全账户，配合调查洗钱案"
        func rules(_ bound: Double?) throws -> RuleSet {
            try compiledRuleSet("""
            frame warn {
              title "提醒"
              kind  warning
              match "反诈提醒"
            }
            rule word {
              title "词"
              score 1
              match "安全账户"
            }
            \(bound.map { "rule learned {\n  title \"模型\"\n  score 6\n  allow no_atom\n  match model >= \(String(format: "%.6f", $0))\n}" } ?? "")
            """)
        }
        let scanner = try RuleScanner(matcher: CompiledMatcher(try rules(nil), model: model))
        let verdict = scanner.screen(Record(id: "t", text: text))
        let frame = try #require(verdict.frames.first)
        #expect(frame.start == 0 && frame.kind == .warning, "\(verdict.frames)")
        let report = try #require(scanner.modelReport(Record(id: "t", text: text), frames: verdict.frames))
        let outside = try #require(report.outsideFrames)
        // The framed everyday sentence pulled the whole text's probability down.
        #expect(outside > report.probability + 0.01, "\(outside) vs \(report.probability)")
        for (bound, fires) in [(outside - 0.0005, true), (outside + 0.0005, false)] {
            let s = try RuleScanner(matcher: CompiledMatcher(try rules(bound), model: model))
            #expect(s.screen(Record(id: "t", text: text)).hits.contains { $0.rule == "learned" } == fires, "bound \(bound)")
        }
        // Without frames there is no second figure, and the rendering says nothing of frames.
        let plain = try #require(scanner.modelReport(Record(id: "t", text: text)))
        #expect(plain.outsideFrames == nil && plain.probability == report.probability)
        #expect(ModelExplanation.render(report, model: model).contains("outside the frames: "))
        #expect(!ModelExplanation.render(plain, model: model).contains("outside the frames"))
    }

    /// A model hit's evidence is the first place (n-grams of two characters or more) of each of
    /// the three buckets that pushed the probability hardest that way, in text order, merged where
    /// they overlap: what a pass over the text's n-grams finds, though the screener keeps the
    /// places as it counts. A model of 256 buckets, so that n-grams of different lengths share
    /// buckets (a bucket first counted from a single character keeps the place of its first
    /// longer n-gram).
    @Test func evidenceIsTheFirstPlaceOfTheStrongestNGrams() throws {
        let model = try tinySharedBucketModel()
        let rules = try compiledRuleSet("""
        rule up {
          title "模型往上推"
          score 1
          allow no_atom
          match model >= 0
        }
        rule down {
          title "模型往下拉"
          score 1
          allow no_atom
          match model <= 1
        }
        """)
        let scanner = try RuleScanner(matcher: CompiledMatcher(rules, model: model))
        var collisions = 0
        for text in ["请马上把钱转到安全账户，配合调查洗钱案", "妈，我周末回家吃饭，帮我留点汤，谢谢", "恭喜中奖！先缴纳手续费，领取奖金后立即返还",
                     "會議改到下午三點，請準時參加", "快递到了驿站 记得去取 验证码123456"] {
            let record = Record(id: "t", text: text)
            let verdict = scanner.screen(record)
            let normalised = scanner.prepare(record).turns[0].text
            var first: [Int: Range<Int>] = [:], lengths: [Int: Set<Int>] = [:]
            normalised.bytes.withUnsafeBufferPointer { buf in
                TextModel.forEachNGram(buf, minN: model.minN, maxN: model.maxN, mask: model.mask) { b, s, e, len in
                    lengths[b, default: []].insert(len)
                    if len >= 2 && first[b] == nil { first[b] = s..<e }
                }
            }
            collisions += lengths.values.filter { $0.count > 1 }.count
            for (rule, sign) in [("up", Float(1)), ("down", Float(-1))] {
                let strongest = first.keys.filter { model.weight(ofBucket: $0) * sign > 0 }
                    .sorted { model.weight(ofBucket: $0) * sign > model.weight(ofBucket: $1) * sign }.prefix(3)
                var places = strongest.map { first[$0]! }.sorted { ($0.lowerBound, $0.upperBound) < ($1.lowerBound, $1.upperBound) }
                var merged: [Range<Int>] = []
                for r in places {
                    if let last = merged.last, r.lowerBound <= last.upperBound {
                        merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
                    } else {
                        merged.append(r)
                    }
                }
                places = merged
                let expected = places.map { normalised.originalRange(ofBytes: $0) }
                let hit = try #require(verdict.hits.first { $0.rule == rule }, "\(text) \(rule)")
                #expect(!expected.isEmpty, "\(text) \(rule)")
                #expect(hit.spans.map { $0.start..<$0.end } == expected, "\(text) \(rule): \(hit.spans)")
            }
        }
        #expect(collisions > 0, "no bucket shared by n-grams of different lengths: the test does not reach that case")
    }

    /// Every n-gram of `minN`…`maxN` scalars, in order of its last scalar, shorter first, with its
    /// bucket (FNV-1a over its scalars from the newest back, then `finalMix`) and its bytes: for
    /// every size the format allows (the window in locals up to 4 scalars, in memory above), on
    /// texts shorter than, as long as and longer than the longest n-gram, with 1- to 4-byte scalars.
    @Test func nGramsAreEveryRunOfScalarsWithItsBucket() {
        let mask: UInt64 = (1 << 20) - 1
        let texts = ["", "a", "请", "a请", "请马上", "请马上转账", "ab 加v信𠀀😀好的", "一二三四五六七八九十", "é的ü"]
        for text in texts {
            let bytes = Array(text.utf8)
            var starts: [Int] = [], values: [UInt32] = []
            for (k, s) in zip(text.unicodeScalars.indices, text.unicodeScalars) {
                starts.append(text.utf8.distance(from: text.startIndex, to: k))
                values.append(s.value)
            }
            starts.append(bytes.count)
            for minN in 1...4 {
                for maxN in minN...8 {
                    var expected: [[Int]] = []
                    for last in values.indices {
                        var h: UInt64 = 0xcbf2_9ce4_8422_2325
                        for len in 1...min(maxN, last + 1) {
                            h = (h ^ UInt64(values[last - len + 1])) &* 0x0000_0100_0000_01B3
                            if len >= minN { expected.append([Int(TextModel.finalMix(h, len) & mask), starts[last - len + 1], starts[last + 1], len]) }
                        }
                    }
                    var found: [[Int]] = []
                    bytes.withUnsafeBufferPointer { buf in
                        TextModel.forEachNGram(buf, minN: minN, maxN: maxN, mask: mask) { b, s, e, len in found.append([b, s, e, len]) }
                    }
                    #expect(found == expected, "\(text) \(minN)…\(maxN)")
                }
            }
        }
    }

    /// The 1-grams' kept buckets (`ModelScratch.oneGramBuckets`) are the buckets mixed: the same
    /// n-grams, buckets and places with them as without, when the table is empty and once filled,
    /// for ideographs, Latin letters, digits and scalars above U+FFFF (never kept).
    @Test func keptOneGramBucketsAreTheMixedOnes() throws {
        let model = try bundledModel()
        let scratch = ModelScratch()
        let texts = ["请马上把钱转到安全账户，配合调查洗钱案", "abc123 加v信 x", "𠀀𠀁好😀好𠀀", "", "的的的的", "请马上把钱转到安全账户"]
        for pass in 0..<2 {
            for text in texts {
                var plain: [[Int]] = [], kept: [[Int]] = []
                Array(text.utf8).withUnsafeBufferPointer { buf in
                    TextModel.forEachNGram(buf, minN: model.minN, maxN: model.maxN, mask: model.mask) { b, s, e, len in plain.append([b, s, e, len]) }
                    TextModel.forEachNGram(buf, minN: model.minN, maxN: model.maxN, mask: model.mask,
                                           oneGramBuckets: scratch.oneGramBuckets) { b, s, e, len in kept.append([b, s, e, len]) }
                }
                #expect(kept == plain, "pass \(pass): \(text)")
            }
        }
        #expect(scratch.oneGramBuckets[Int(("好" as Unicode.Scalar).value)] != 0, "the table was not filled")
    }

    /// An n-gram found again from where it ends (`TextModel.startOfNGram`, how a model hit's
    /// evidence is placed from its counting slot) is the one `forEachNGram` enumerates: for each
    /// end and bucket, the shortest n-gram there in that bucket, and with it left out the next
    /// longer one, or none. With 16 buckets, n-grams of different lengths ending at one scalar
    /// often share a bucket; every size the format allows, 1- to 4-byte scalars, texts shorter
    /// than the longest n-gram.
    @Test func anNGramIsFoundAgainFromItsEnd() {
        let mask: UInt64 = 15
        var shared = 0
        for (minN, maxN) in [(1, 1), (1, 3), (2, 3), (2, 4), (3, 5), (1, 8)] {
            for text in ["请马上把钱转到安全账户，配合调查洗钱案", "abc123 加v信 x", "𠀀𠀁好😀好𠀀é", "的的的的", "a", ""] {
                Array(text.utf8).withUnsafeBufferPointer { buf in
                    // Per end and bucket, the starts of the n-grams there, shortest first.
                    var starts: [[Int]: [Int]] = [:]
                    TextModel.forEachNGram(buf, minN: minN, maxN: maxN, mask: mask) { b, s, e, _ in starts[[e, b], default: []].append(s) }
                    shared += starts.values.filter { $0.count > 1 }.count
                    for (key, found) in starts {
                        let (end, bucket) = (key[0], key[1])
                        let first = TextModel.startOfNGram(ending: end, in: buf, bucket: bucket, minN: minN, maxN: maxN, mask: mask) { _ in false }
                        #expect(first == found[0], "\(text) \(minN)…\(maxN) end \(end) bucket \(bucket)")
                        let next = TextModel.startOfNGram(ending: end, in: buf, bucket: bucket, minN: minN, maxN: maxN, mask: mask) { $0 == found[0] }
                        #expect(next == found.dropFirst().first, "\(text) \(minN)…\(maxN) end \(end) bucket \(bucket), the shortest left out")
                    }
                }
            }
        }
        #expect(shared > 0, "no n-grams of different lengths share a bucket at one end: the test does not reach that case")
    }

    /// The margin with frames hidden from the rule asking (a positive rule's every kind, a
    /// negative rule's warnings), as the bundled sizes' copy of the counting loop finds it, is
    /// the margin of the n-grams outside those frames counted plainly — every n-gram enumerated
    /// without the 1-grams' table, the framed ones left out by `inFrame` — and summed over the
    /// buckets in the order first seen: the same bits, on every corpus report, warned scam and
    /// message (many with frames).
    @Test func aMarginWithFramesHiddenIsThePlainCountOutsideThem() throws {
        let model = try bundledModel()
        #expect(model.minN == 1 && model.maxN == 3, "the bundled sizes take the loop under test")
        let screener = try Screener(rules: LiveCallsTests.rules, model: model)
        let logs = screener.modelScratch.oneMoreThanLog
        func plainMargin(_ e: Screener.Evaluation, _ blind: UInt8) -> Double {
            var order: [Int] = [], counts: [Int: Int] = [:]
            for t in 0..<e.turnLimit {
                e.prepared.turns[t].text.bytes.withUnsafeBufferPointer { buf in
                    TextModel.forEachNGram(buf, minN: model.minN, maxN: model.maxN, mask: model.mask) { b, s, end, _ in
                        let o = Screener.Occurrence(turn: Int32(t), start: Int32(s), end: Int32(end), evStart: 0, evCount: 0)
                        if blind != 0 && !e.ws.frames.isEmpty && Screener.Evaluation.inFrame(o, e.ws.frames, blind) { return }
                        if counts[b] == nil { order.append(b) }
                        counts[b, default: 0] += 1
                    }
                }
            }
            var dot = 0.0, norm = 0.0
            for b in order {
                let v = ModelScratch.countValue(counts[b]!, logs)
                norm += v * v
                let w = model.weights[b]
                if w != 0 { dot += Double(w) * v }
            }
            return model.bias + (norm > 0 ? dot / norm.squareRoot() : 0)
        }
        var compared = 0, framed = 0
        for name in ["reports.jsonl", "warned_scams.jsonl", "messages.jsonl"] {
            let path = PackageFiles.corpus(name)
            let (records, errors) = RecordSource(bytes: try #require(FileManager.default.contents(atPath: path)), name: path,
                                                 format: .jsonl, options: ReaderOptions()).readAll()
            #expect(errors.isEmpty, "\(errors)")
            for record in records {
                let p = screener.prepare(record)
                var e = Screener.Evaluation(screener: screener, prepared: p, turnLimit: p.turnCount)
                e.collectCandidates()
                e.findFrames()
                if !e.ws.frames.isEmpty { framed += 1 }
                for blind in [FrameKinds.all.rawValue, FrameKinds.warning.rawValue, 0] {
                    e.blindness = blind
                    let margin = e.modelMargin(model, scope: [])
                    #expect(margin.bitPattern == plainMargin(e, e.modelBlindness).bitPattern, "\(name) \(record.id), blind \(blind)")
                    compared += 1
                }
                e.release()
            }
        }
        #expect(compared > 300)
        #expect(framed > 30, "\(framed) records with frames")
    }

    /// In a call the counting table holds the n-grams of every turn the scope reads (an empty
    /// one too) in order, and a hit's evidence is found again in the turns that hold it: the
    /// first place of each of the strongest buckets, over the scope's turns, in text order.
    @Test func aCallsEvidenceIsTheFirstPlaceOverItsTurns() throws {
        let model = try tinySharedBucketModel()
        let rules = try compiledRuleSet("""
        rule up {
          title "模型往上推"
          score 1
          allow no_atom
          match model >= 0
        }
        rule callee_down {
          title "被叫一方往下拉"
          score 1
          allow no_atom
          match callee: model <= 1
        }
        """)
        let scanner = try RuleScanner(matcher: CompiledMatcher(rules, model: model))
        let call = Record(id: "c", turns: [Turn(speaker: "caller", side: .caller, text: "恭喜中奖！先缴纳手续费"),
                                           Turn(speaker: "callee", side: .callee, text: ""),
                                           Turn(speaker: "callee", side: .callee, text: "妈，我周末回家吃饭，帮我留点汤"),
                                           Turn(speaker: "caller", side: .caller, text: "领取奖金后立即返还，请把资金转到安全账户"),
                                           Turn(speaker: "callee", side: .callee, text: "会议改到下午三点，请准时参加，谢谢")])
        let verdict = scanner.screen(call)
        let prepared = scanner.prepare(call)
        for (rule, sign, sides) in [("up", Float(1), [Side.caller, Side.callee]), ("callee_down", Float(-1), [Side.callee])] {
            var first: [Int: (turn: Int, bytes: Range<Int>)] = [:]
            for t in prepared.turns.indices where sides.contains(call.turns[t].side) {
                prepared.turns[t].text.bytes.withUnsafeBufferPointer { buf in
                    TextModel.forEachNGram(buf, minN: model.minN, maxN: model.maxN, mask: model.mask) { b, s, e, len in
                        if len >= 2 && first[b] == nil { first[b] = (t, s..<e) }
                    }
                }
            }
            let strongest = first.keys.filter { model.weight(ofBucket: $0) * sign > 0 }
                .sorted { model.weight(ofBucket: $0) * sign > model.weight(ofBucket: $1) * sign }.prefix(3)
            let places = strongest.map { first[$0]! }
                .sorted { ($0.turn, $0.bytes.lowerBound, $0.bytes.upperBound) < ($1.turn, $1.bytes.lowerBound, $1.bytes.upperBound) }
            var merged: [(turn: Int, bytes: Range<Int>)] = []
            for p in places {
                if let last = merged.last, last.turn == p.turn, p.bytes.lowerBound <= last.bytes.upperBound {
                    merged[merged.count - 1].bytes = last.bytes.lowerBound..<max(last.bytes.upperBound, p.bytes.upperBound)
                } else {
                    merged.append(p)
                }
            }
            let expected = merged.map { p -> String in
                let r = prepared.turns[p.turn].text.originalRange(ofBytes: p.bytes)
                return "\(p.turn):\(r.lowerBound)..<\(r.upperBound)"
            }
            let hit = try #require(verdict.hits.first { $0.rule == rule }, "\(rule)")
            #expect(Set(places.map(\.turn)).count > 1, "\(rule): the evidence should come from more than one turn")
            #expect(hit.spans.map { "\($0.turn ?? -1):\($0.start)..<\($0.end)" } == expected, "\(rule): \(hit.spans)")
        }
    }

    @Test func bundledModelRulesPassTheirExamples() throws {
        let rules = try loadBundledRuleSet()
        #expect(rules.usesModel)
        let model = try bundledModel()
        let report = ExampleRunner.run(rules, screener: try RuleScanner(matcher: CompiledMatcher(rules, model: model)))
        #expect(report.failures.map { "\($0.rule): \($0.detail)" } == [])
    }

    // MARK: - Through the command line

    @Test func trainAndModelFlagsEndToEnd() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fanzha-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let corpus = PackageFiles.corpus("messages.jsonl")
        let a = dir.appendingPathComponent("a.fzm").path, b = dir.appendingPathComponent("b.fzm").path
        let first = try ProcessRunner.fanzha(["train", corpus, "-o", a])
        #expect(first.status == 0, "\(first.err)")
        #expect(first.err.contains("held out"))
        #expect(try ProcessRunner.fanzha(["train", corpus, "-o", b, "--threads", "1"]).status == 0)
        #expect(FileManager.default.contents(atPath: a) == FileManager.default.contents(atPath: b))
        let weighted = try ProcessRunner.fanzha(["train", corpus, "--weight", corpus + "=3", "-o", b])
        #expect(weighted.status == 0, "\(weighted.err)")
        #expect(FileManager.default.contents(atPath: a) != FileManager.default.contents(atPath: b))
        let wrong = try ProcessRunner.fanzha(["train", corpus, "--weight", "other.jsonl=3", "-o", b])
        #expect(wrong.status == 2 && wrong.err.contains("other.jsonl is not one of the data files"), "\(wrong.err)")
        let applied = try ProcessRunner.fanzha(["train", "--apply", a, corpus])
        #expect(applied.status == 0)
        #expect(applied.lines.count > 300 && applied.lines.allSatisfy { $0.split(separator: "\t").count == 3 })

        // Rules that read a model, with no model beside them: `lint` warns, `scan` notes it.
        let rulesDir = dir.appendingPathComponent("rules")
        try FileManager.default.createDirectory(at: rulesDir, withIntermediateDirectories: true)
        try Data(ruleText(match: "model >= 0.9", extra: "  score 6\n  allow no_atom\n  miss \"你好\"\n  hit \"安全账户\"\n").utf8)
            .write(to: rulesDir.appendingPathComponent("m.fz"))
        let lint = try ProcessRunner.fanzha(["lint", "--strict", rulesDir.path])
        #expect(lint.status == 1)
        #expect(lint.out.contains("warning[no-model]"))
        #expect(try ProcessRunner.fanzha(["lint", "--strict", "--model", a, rulesDir.path]).status == 0)
        let note = try ProcessRunner.fanzha(["scan", "--rules", rulesDir.path], input: "请把钱转到安全账户")
        #expect(note.err.contains("no model is loaded"))
        // The rules folder's model.fzm is the default; --no-model turns it off.
        try FileManager.default.copyItem(atPath: a, toPath: rulesDir.appendingPathComponent("model.fzm").path)
        #expect(try ProcessRunner.fanzha(["lint", "--strict", rulesDir.path]).status == 0)
        let withModel = try ProcessRunner.fanzha(["scan", "--rules", rulesDir.path, "--format", "jsonl"], input: "我是公安局的，你涉嫌洗钱，请把资金转到安全账户配合调查")
        #expect(withModel.status == 0, "\(withModel.out) \(withModel.err)")
        #expect(withModel.out.contains("\"rule\":\"t\""))
        let without = try ProcessRunner.fanzha(["scan", "--rules", rulesDir.path, "--no-model"], input: "我是公安局的，你涉嫌洗钱，请把资金转到安全账户配合调查")
        #expect(without.status == 1)
        let explain = try ProcessRunner.fanzha(["explain", "--rules", rulesDir.path, "我是公安局的，你涉嫌洗钱，请把资金转到安全账户配合调查"])
        #expect(explain.out.contains("model: probability"))

        // A corrupt model is an error naming the file, and nothing is scanned.
        var bytes = try #require(FileManager.default.contents(atPath: a))
        bytes[bytes.count / 2] ^= 0xFF
        let bad = dir.appendingPathComponent("bad.fzm").path
        try bytes.write(to: URL(fileURLWithPath: bad))
        let failed = try ProcessRunner.fanzha(["scan", "--rules", rulesDir.path, "--model", bad], input: "你好")
        #expect(failed.status == 2)
        #expect(failed.err.contains(bad) && failed.err.contains("corrupt"), "\(failed.err)")
        #expect(failed.out.isEmpty)
    }
}

/// A model of 256 buckets trained on `tinyLabelledSet()`, so that n-grams of different lengths
/// share buckets: what the evidence tests need.
private func tinySharedBucketModel() throws -> TextModel {
    var options = TrainOptions()
    options.bucketBits = 8
    options.minDocumentFrequency = 1
    options.epochs = 20
    options.holdout = 0
    return try Trainer.train(tinyLabelledSet(), options: options, info: "test").0
}
