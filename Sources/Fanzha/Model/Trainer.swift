import Foundation
import FanzhaText

/// How `fanzha train` builds a model.
package struct TrainOptions: Sendable {
    package var minN = 1
    package var maxN = 3
    package var bucketBits = 20
    package var algorithm = TextModel.Algorithm.logisticRegression
    package var seed: UInt64 = 1
    package var epochs = 8
    /// L2 regularisation per example (logistic regression).
    package var l2 = 1e-6
    /// Initial learning rate (logistic regression; it decays as 1 / (1 + rate·l2·t)).
    package var learningRate = 1.0
    /// Smoothing (complement naive Bayes).
    package var alpha = 0.1
    /// A bucket seen in fewer training records is dropped (weight 0): it would only memorise.
    package var minDocumentFrequency = 2
    /// The share of records held out to calibrate the probabilities (Platt scaling) and measure.
    package var holdout = 0.1
    /// With 2 or more: calibrate out of fold instead of on a held-out slice — that many models,
    /// each trained without one seeded part of the records, give every record's margin, Platt
    /// scaling is fitted on all of them, and the model written is the mean of those models.
    package var folds = 0
    /// Labels that mean benign; any other label means scam (category ids, `scam`, `fraud`,
    /// referral outcomes `dissuaded` and `already_paid`).
    package var benignLabels: Set<String> = TrainOptions.defaultBenignLabels
    package var threads = ProcessInfo.processInfo.activeProcessorCount
    package static let defaultBenignLabels: Set<String> = ["正常", "normal", "0", "benign", "false_alarm", "ham", "legit", "legitimate"]
    package init() {}
}

/// What training measured on the held-out records.
package struct TrainReport: Sendable {
    package var scam = 0, benign = 0, unlabelled = 0
    package var trained = 0, heldOut = 0
    /// Parts the records were calibrated out of fold in (0: on a held-out slice).
    package var folds = 0
    package var features = 0
    package var logLoss: Double?
    package var accuracy: Double?
    package var auc: Double?
    package var seconds = 0.0
}

package enum TrainError: Error, CustomStringConvertible {
    case tooFew(String)
    package var description: String {
        switch self { case .tooFew(let s): return s }
    }
}

package enum Trainer {
    /// The `info` text `fanzha train` writes into a model: the options, the files' names, and a
    /// fingerprint of their bytes, so a model that is older than its training data can be told
    /// (the project's own model against corpus/: docs/MODEL.md, "What ships").
    /// A file trained with a weight other than 1 is named with it (`real-texts.jsonl ×30`).
    package static func describe(_ options: TrainOptions, files: [(name: String, bytes: [UInt8])], weights: [Int] = []) -> String {
        let names = files.indices.map { i in
            i < weights.count && weights[i] != 1 ? "\(files[i].name) ×\(weights[i])" : files[i].name
        }
        return "fanzha train \(options.algorithm.name) \(options.minN)-\(options.maxN)-grams 2^\(options.bucketBits) buckets seed \(options.seed) "
            + "epochs \(options.epochs) l2 \(options.l2) min-df \(options.minDocumentFrequency) "
            + (options.folds >= 2 ? "folds \(options.folds) on " : "holdout \(options.holdout) on ")
            + names.joined(separator: ", ") + "; " + fingerprintLabel + " " + fingerprint(files.map(\.bytes))
    }

    static let fingerprintLabel = "data fnv1a64"

    /// FNV-1a 64 over each file's length and bytes, in order, as 16 hex digits.
    package static func fingerprint(_ files: [[UInt8]]) -> String {
        var all: [UInt8] = []
        for f in files {
            withUnsafeBytes(of: UInt64(f.count).littleEndian) { all += $0 }
            all += f
        }
        let h = TextModel.checksum(all[...])
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The fingerprint of the training data a model's `info` records, if it records one.
    package static func recordedFingerprint(_ model: TextModel) -> String? {
        guard let r = model.info.range(of: fingerprintLabel + " ", options: .backwards) else { return nil }
        let hex = model.info[r.upperBound...].prefix(16)
        return hex.count == 16 ? String(hex) : nil
    }

    /// 0 benign, 1 scam, nil without a label.
    package static func target(of label: String?, benign: Set<String>) -> Int? {
        guard let l = label?.trimmingCharacters(in: .whitespaces), !l.isEmpty else { return nil }
        return benign.contains(l) || benign.contains(l.lowercased()) ? 0 : 1
    }

    /// Feature vectors of records, computed on every core (each worker its own normaliser);
    /// the result is the same whatever the number of workers.
    static func vectors(_ records: [Record], options: TrainOptions) throws -> [(indices: [Int32], values: [Float])] {
        let mask = UInt64((1 << options.bucketBits) - 1)
        let workers = max(1, min(options.threads, records.count))
        var out = [([Int32], [Float])](repeating: ([], []), count: records.count)
        var failure: Error?
        let lock = NSLock()
        out.withUnsafeMutableBufferPointer { buf in
            let base = buf.baseAddress!
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let normaliser: Normaliser
                do { normaliser = try Normaliser() } catch { lock.lock(); failure = error; lock.unlock(); return }
                var buckets: [Int32] = [], idx: [Int32] = [], vals: [Float] = []
                var r = w
                while r < records.count {
                    let texts = records[r].turns.map { normaliser.normalise($0.text).bytes }
                    TextModel.features(of: texts, minN: options.minN, maxN: options.maxN, mask: mask, into: &buckets, indices: &idx, values: &vals)
                    (base + r).pointee = (idx, vals)
                    r += workers
                }
            }
        }
        if let failure { throw failure }
        return out.map { (indices: $0.0, values: $0.1) }
    }

    /// Trains a model on labelled records. Deterministic: the same records in the same order and
    /// the same options give the same model, byte for byte.
    ///
    /// `weights` (one per record, or empty for all 1): a record of weight N is visited N times in
    /// each epoch of the logistic regression (complement naive Bayes counts it N times), so a small
    /// source of the kind of text one screens is not drowned by large ones. It is still one record
    /// for the rest: for the document frequency (`minDocumentFrequency` counts records, so a weight
    /// never turns a one-off n-gram into a feature) and for the calibration slice, which a record
    /// is in or out of as a whole (copies of one record on both sides would make the held-out
    /// figures and the calibration too sure).
    package static func train(_ records: [Record], weights: [Int] = [], options: TrainOptions, info: String = "") throws -> (TextModel, TrainReport) {
        precondition(weights.isEmpty || weights.count == records.count, "one weight per record")
        let started = Date()
        var report = TrainReport()
        var labelled: [Record] = [], ys: [Int] = [], ws: [Int] = []
        for (i, r) in records.enumerated() {
            guard let y = target(of: r.label, benign: options.benignLabels) else { report.unlabelled += 1; continue }
            labelled.append(r)
            ys.append(y)
            ws.append(weights.isEmpty ? 1 : max(1, weights[i]))
        }
        report.scam = ys.filter { $0 == 1 }.count
        report.benign = ys.count - report.scam
        guard report.scam >= 1, report.benign >= 1 else {
            throw TrainError.tooFew("training needs scam and benign records (found \(report.scam) scam, \(report.benign) benign)")
        }
        let xs = try vectors(labelled, options: options)
        var rng = SplitMix64(seed: options.seed)
        let folds = options.folds >= 2 && xs.count >= 40 ? options.folds : 0
        let fitted: Fit
        // The margins Platt's sigmoid is fitted on, each from a model that did not train on its record.
        var calibration: [(margin: Double, target: Int)]
        var measured = true
        if folds >= 2 {
            // Out of fold: every record is in one of `folds` seeded parts, and the model trained
            // without a part gives that part's margins, so every record calibrates and no one
            // slice decides where the thresholds fall. The model is the mean of the parts' models
            // (linear, so one model of the same form): the margins Platt's sigmoid was fitted on
            // come from the models it is made of, on the same scale, and no one shuffle decides
            // it either. The parts train in parallel, each from its own seed, so the result does
            // not depend on the number of cores.
            let part = xs.indices.map { _ in Int(rng.next() % UInt64(folds)) }
            let seeds = (0..<folds).map { _ in rng.next() }
            var margins = [Double](repeating: 0, count: xs.count)
            var fits = [Fit?](repeating: nil, count: folds)
            let lock = NSLock()
            margins.withUnsafeMutableBufferPointer { out in
                let base = out.baseAddress!
                DispatchQueue.concurrentPerform(iterations: folds) { f in
                    var foldRng = SplitMix64(seed: seeds[f])
                    let fit = Self.fit(xs, ys, ws, on: xs.indices.filter { part[$0] != f }, options: options, rng: &foldRng)
                    for i in xs.indices where part[i] == f { (base + i).pointee = fit.margin(xs[i]) }
                    lock.lock(); fits[f] = fit; lock.unlock()
                }
            }
            calibration = xs.indices.map { (margins[$0], ys[$0]) }
            // Summed in the parts' order, in Double, then rounded once: the same bytes every run.
            var sum = [Double](repeating: 0, count: 1 << options.bucketBits), bias = 0.0
            for fit in fits.map({ $0! }) {
                for b in sum.indices where fit.weights[b] != 0 { sum[b] += Double(fit.weights[b]) }
                bias += fit.bias
            }
            let mean = sum.map { Float($0 / Double(folds)) }
            fitted = Fit(weights: mean, bias: bias / Double(folds), features: mean.reduce(0) { $0 + ($1 != 0 ? 1 : 0) })
            report.trained = xs.count
            report.folds = folds
        } else {
            // The calibration slice: a seeded choice of records, about `holdout` of them, when
            // there are enough of both kinds to hold some out.
            var held = [Bool](repeating: false, count: xs.count)
            if options.holdout > 0 && xs.count >= 40 {
                for i in xs.indices { held[i] = Double(rng.next() % 1_000_000) / 1_000_000 < options.holdout }
            }
            let heldIdx = xs.indices.filter { held[$0] }
            if Set(heldIdx.map { ys[$0] }).count < 2 { for i in heldIdx { held[i] = false } }
            let trainIdx = xs.indices.filter { !held[$0] }
            let calIdx = xs.indices.filter { held[$0] }
            report.trained = trainIdx.count
            report.heldOut = calIdx.count
            fitted = fit(xs, ys, ws, on: trainIdx, options: options, rng: &rng)
            // Calibrated on the held-out slice (on the training records when there is none).
            if calIdx.isEmpty {
                calibration = trainIdx.map { (fitted.margin(xs[$0]), ys[$0]) }
                measured = false
            } else {
                calibration = calIdx.map { (fitted.margin(xs[$0]), ys[$0]) }
            }
        }
        report.features = fitted.features
        let (a, b) = plattFit(margins: calibration.map(\.margin), targets: calibration.map(\.target))
        let model = TextModel(minN: options.minN, maxN: options.maxN, bucketBits: options.bucketBits, algorithm: options.algorithm,
                              seed: options.seed, scamCount: report.scam, benignCount: report.benign, bias: fitted.bias, plattA: a, plattB: b,
                              info: info, weights: fitted.weights)
        guard measured else {
            report.seconds = Date().timeIntervalSince(started)
            return (model, report)
        }
        // Measured on the calibration records: held out, or each out of fold.
        let probs = calibration.map { model.probability(margin: $0.margin) }
        let targets = calibration.map(\.target)
        var loss = 0.0, right = 0
        for (p, y) in zip(probs, targets) {
            let q = min(max(p, 1e-12), 1 - 1e-12)
            loss -= y == 1 ? log(q) : log(1 - q)
            if (p >= 0.5) == (y == 1) { right += 1 }
        }
        report.logLoss = loss / Double(calibration.count)
        report.accuracy = Double(right) / Double(calibration.count)
        report.auc = auc(probs, targets)
        report.seconds = Date().timeIntervalSince(started)
        return (model, report)
    }

    /// A trained linear model before calibration.
    struct Fit {
        var weights: [Float]
        var bias: Double
        /// Buckets kept (seen in at least `minDocumentFrequency` of the training records).
        var features: Int
        func margin(_ x: (indices: [Int32], values: [Float])) -> Double {
            var m = bias
            for k in x.indices.indices { m += Double(weights[Int(x.indices[k])]) * Double(x.values[k]) }
            return m
        }
    }

    /// Fits the linear model on the records `idx` (document frequency, then SGD or naive Bayes).
    static func fit(_ xs: [(indices: [Int32], values: [Float])], _ ys: [Int], _ ws: [Int], on idx: [Int],
                    options: TrainOptions, rng: inout SplitMix64) -> Fit {
        let buckets = 1 << options.bucketBits
        // Document frequency on the training part: rare buckets are dropped.
        var df = [Int32](repeating: 0, count: buckets)
        for i in idx { for b in xs[i].indices { df[Int(b)] &+= 1 } }
        let minDF = Int32(max(1, options.minDocumentFrequency))
        var kept = [Bool](repeating: false, count: buckets)
        for b in 0..<buckets where df[b] >= minDF { kept[b] = true }
        let features = kept.reduce(0) { $0 + ($1 ? 1 : 0) }

        var weights = [Double](repeating: 0, count: buckets)
        var bias = 0.0
        switch options.algorithm {
        case .logisticRegression:
            // SGD on the log loss with L2, the weight vector kept as scale · v so the L2 shrink
            // of every weight is one multiplication per step.
            var v = [Double](repeating: 0, count: buckets)
            var scale = 1.0
            var order: [Int] = []
            order.reserveCapacity(idx.count)
            for i in idx { for _ in 0..<ws[i] { order.append(i) } }
            var t = 0.0
            for _ in 0..<max(1, options.epochs) {
                seededShuffle(&order, &rng)
                for i in order {
                    t += 1
                    let eta = options.learningRate / (1 + options.learningRate * options.l2 * t)
                    let x = xs[i]
                    var m = 0.0
                    for k in x.indices.indices where kept[Int(x.indices[k])] { m += v[Int(x.indices[k])] * Double(x.values[k]) }
                    m = m * scale + bias
                    let p = 1 / (1 + exp(-m))
                    let g = p - Double(ys[i])
                    scale *= (1 - eta * options.l2)
                    if scale < 1e-9 {
                        for b in 0..<buckets where v[b] != 0 { v[b] *= scale }
                        scale = 1
                    }
                    if g == 0 { continue }
                    let step = eta * g / scale
                    for k in x.indices.indices where kept[Int(x.indices[k])] { v[Int(x.indices[k])] -= step * Double(x.values[k]) }
                    bias -= eta * g * 0.1
                }
            }
            for b in 0..<buckets { weights[b] = v[b] * scale }
        case .complementNaiveBayes:
            // Two classes: each class's weights come from the other class's counts, so the
            // margin is log θ(scam) − log θ(benign) summed over the text's features.
            var counts = [[Double]](repeating: [Double](repeating: 0, count: buckets), count: 2)
            var totals = [0.0, 0.0]
            for i in idx {
                let x = xs[i]
                for k in x.indices.indices where kept[Int(x.indices[k])] {
                    counts[ys[i]][Int(x.indices[k])] += Double(ws[i]) * Double(x.values[k])
                    totals[ys[i]] += Double(ws[i]) * Double(x.values[k])
                }
            }
            let a = options.alpha, vocabulary = Double(max(1, features))
            for b in 0..<buckets where kept[b] {
                let scam = log((a + counts[1][b]) / (a * vocabulary + totals[1]))
                let benign = log((a + counts[0][b]) / (a * vocabulary + totals[0]))
                weights[b] = scam - benign
            }
        }
        return Fit(weights: weights.map { Float($0) }, bias: bias, features: features)
    }

    /// Area under the ROC curve: the chance a random scam scores above a random benign record.
    static func auc(_ scores: [Double], _ targets: [Int]) -> Double? {
        let pos = targets.filter { $0 == 1 }.count, neg = targets.count - pos
        guard pos > 0, neg > 0 else { return nil }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum = 0.0
        var k = 0
        while k < order.count {
            var j = k
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[k]] { j += 1 }
            let rank = Double(k + j) / 2 + 1
            for m in k...j where targets[order[m]] == 1 { rankSum += rank }
            k = j + 1
        }
        return (rankSum - Double(pos) * Double(pos + 1) / 2) / (Double(pos) * Double(neg))
    }

    /// Platt's sigmoid fit (Lin, Lin and Weng's Newton method with smoothed targets):
    /// probability = 1 / (1 + exp(-(a·margin + b))).
    static func plattFit(margins f: [Double], targets y: [Int]) -> (Double, Double) {
        let prior1 = Double(y.filter { $0 == 1 }.count), prior0 = Double(y.count) - prior1
        guard prior1 > 0, prior0 > 0 else { return (1, 0) }
        let hi = (prior1 + 1) / (prior1 + 2), lo = 1 / (prior0 + 2)
        let t = y.map { $0 == 1 ? hi : lo }
        // In the paper's form P = 1 / (1 + exp(A f + B)); returned as (−A, −B).
        var A = 0.0, B = log((prior0 + 1) / (prior1 + 1))
        func objective(_ A: Double, _ B: Double) -> Double {
            var fval = 0.0
            for i in f.indices {
                let fApB = f[i] * A + B
                fval += fApB >= 0 ? t[i] * fApB + log(1 + exp(-fApB)) : (t[i] - 1) * fApB + log(1 + exp(fApB))
            }
            return fval
        }
        var fval = objective(A, B)
        for _ in 0..<100 {
            var h11 = 1e-12, h22 = 1e-12, h21 = 0.0, g1 = 0.0, g2 = 0.0
            for i in f.indices {
                let fApB = f[i] * A + B
                let (p, q) = fApB >= 0 ? (exp(-fApB) / (1 + exp(-fApB)), 1 / (1 + exp(-fApB)))
                    : (1 / (1 + exp(fApB)), exp(fApB) / (1 + exp(fApB)))
                let d2 = p * q
                h11 += f[i] * f[i] * d2
                h22 += d2
                h21 += f[i] * d2
                let d1 = t[i] - p
                g1 += f[i] * d1
                g2 += d1
            }
            if abs(g1) < 1e-5 && abs(g2) < 1e-5 { break }
            let det = h11 * h22 - h21 * h21
            let dA = -(h22 * g1 - h21 * g2) / det, dB = -(-h21 * g1 + h11 * g2) / det
            let gd = g1 * dA + g2 * dB
            var step = 1.0
            var moved = false
            while step >= 1e-10 {
                let nA = A + step * dA, nB = B + step * dB
                let nf = objective(nA, nB)
                if nf < fval + 1e-4 * step * gd {
                    A = nA; B = nB; fval = nf; moved = true
                    break
                }
                step /= 2
            }
            if !moved { break }
        }
        return (-A, -B)
    }
}

/// Fisher–Yates with a seeded generator: the same seed, the same order, on every platform.
private func seededShuffle<T>(_ a: inout [T], _ rng: inout SplitMix64) {
    guard a.count > 1 else { return }
    for i in stride(from: a.count - 1, to: 0, by: -1) {
        let j = Int(rng.next() % UInt64(i + 1))
        a.swapAt(i, j)
    }
}
