import ArgumentParser
import Fanzha
import FanzhaCommandLine
import Foundation

/// `fanzha train`: a model file from labelled records (docs/MODEL.md).
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the learned evidence the rules' `model` condition reads, from labelled records.",
        discussion: """
        Reads what `eval` reads: CSV with a header row, JSON Lines messages or calls with `turns`. A label in \
        --benign (also the referral outcome false_alarm) is benign; any other label (a category, scam, fraud, \
        dissuaded, already_paid) is scam; records without a label are skipped. The same files, order and \
        options give the same model file, byte for byte. With --apply MODEL, prints each record's id, label \
        and the model's probability instead of training.
        """)

    @OptionGroup var inputOptions: InputOptions
    @OptionGroup var labelOptions: LabelOptions
    @Argument(help: "Labelled data files (.csv or .jsonl).") var data: [String]
    @Option(name: [.short, .customLong("output")], help: "The model file to write (e.g. rules/model.fzm).") var output: String?
    @Option(help: "Check an existing model instead: print id, label and probability per record.") var apply: String?
    @Option(help: "Algorithm: lr (logistic regression) or cnb (complement naive Bayes).") var algorithm: String = "lr"
    @Option(help: "Character n-gram sizes, e.g. 1-3 or 1-4.") var ngrams: String = "1-3"
    @Option(help: "Hash buckets as a power of two (8–26).") var bucketBits: Int = 20
    @Option(help: "Seed for the shuffle and the calibration slice.") var seed: UInt64 = 1
    @Option(help: "Passes over the data (lr).") var epochs: Int = 8
    @Option(help: "L2 regularisation (lr).") var l2: Double = 1e-6
    @Option(help: "Drop n-grams seen in fewer training records than this.") var minDf: Int = 2
    @Option(help: "Share of records held out for calibration and measurement.") var holdout: Double = 0.1
    @Option(help: "Calibrate out of fold instead: K models, each trained without one K-th of the records, give every record's margin for the calibration (2–20; 0 = the --holdout slice).") var folds: Int = 0
    @Option(help: "Labels that mean benign, comma-separated.") var benign: String = TrainOptions.defaultBenignLabels.sorted().joined(separator: ",")
    @Option(help: "Worker threads for reading the text (the result does not depend on it).") var threads: Int?
    @Option(help: ArgumentHelp("Count each record of one of the data files N times (repeatable), e.g. `--weight mine.jsonl=20`: a small source of the texts you screen is then not drowned by large ones.",
                               valueName: "file=N")) var weight: [String] = []

    func validate() throws {
        if output == nil && apply == nil { throw ValidationError("give -o MODEL_FILE to train, or --apply MODEL_FILE") }
        if !(8...26).contains(bucketBits) { throw ValidationError("--bucket-bits must be between 8 and 26") }
        if epochs < 1 || epochs > 1000 { throw ValidationError("--epochs must be between 1 and 1000") }
        if !(0..<1).contains(holdout) { throw ValidationError("--holdout must be at least 0 and below 1") }
        if folds != 0 && !(2...20).contains(folds) { throw ValidationError("--folds must be 0 (a held-out slice) or between 2 and 20") }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be between 1 and 256") }
    }

    func run() throws {
        try guarded {
            var options = TrainOptions()
            guard let algo = TextModel.Algorithm(name: algorithm) else { throw Failure("unknown --algorithm `\(algorithm)` (lr, cnb)") }
            options.algorithm = algo
            let sizes = ngrams.split(separator: "-").compactMap { Int($0) }
            guard sizes.count == 1 || sizes.count == 2, let lo = sizes.first, let hi = sizes.last, lo >= 1, hi >= lo, hi <= 8 else {
                throw Failure("--ngrams wants `N` or `N-M` with 1 ≤ N ≤ M ≤ 8, e.g. 1-3")
            }
            options.minN = lo
            options.maxN = hi
            options.bucketBits = bucketBits
            options.seed = seed
            options.epochs = epochs
            options.l2 = l2
            options.minDocumentFrequency = minDf
            options.holdout = holdout
            options.folds = folds
            options.benignLabels = Set(commaSeparatedList(benign))
            if let threads { options.threads = threads }
            var weightOf: [String: Int] = [:]
            for w in weight {
                guard let eq = w.lastIndex(of: "="), let n = Int(w[w.index(after: eq)...]), (1...1000).contains(n) else {
                    throw Failure("--weight wants FILE=N with N from 1 to 1000, e.g. mine.jsonl=20 (got `\(w)`)")
                }
                let file = String(w[..<eq])
                guard data.contains(file) else { throw Failure("--weight \(w): \(file) is not one of the data files") }
                weightOf[file] = n
            }
            var records: [Record] = []
            var recordWeights: [Int] = []
            var fileWeights: [Int] = []
            var files: [(name: String, bytes: [UInt8])] = []
            var failed = 0
            let input = inputOptions.settings
            for path in data {
                let format = try input.format(for: path)
                if format == .events { throw Failure("train reads records, not live call events (--input events is for scan)") }
                guard let bytes = FileManager.default.contents(atPath: path) else { throw Failure("\(path): cannot read") }
                files.append(((path as NSString).lastPathComponent, [UInt8](bytes)))
                // The bytes are read whole for the model's data fingerprint; the records come from the input layer.
                let source = RecordSource(bytes: bytes, name: path, format: format,
                                          options: input.readerOptions(labelField: labelOptions.labelField),
                                          maxRecordBytes: input.maxRecordBytes)
                let (read, errors) = source.readAll()
                records += read
                recordWeights += Array(repeating: weightOf[path] ?? 1, count: read.count)
                fileWeights.append(weightOf[path] ?? 1)
                for e in errors { OutputSink.stderr.line("fanzha: \(e.description)") }
                failed += errors.count
                if input.strict && !errors.isEmpty { throw Failure("stopped at the first malformed record (--strict)") }
            }
            if let apply {
                let model: TextModel
                do { model = try TextModel.load(path: apply) } catch let e as ModelError { throw Failure(e.description) }
                let scorer = try ModelScorer(model)
                for r in records {
                    let p = scorer.probability(r)
                    OutputSink.stdout.line("\(r.id)\t\(r.label ?? "")\t\(String(format: "%.6f", p))")
                }
                return 0
            }
            guard let output else { return 2 }
            let info = Trainer.describe(options, files: files, weights: fileWeights)
            let (model, report): (TextModel, TrainReport)
            do { (model, report) = try Trainer.train(records, weights: recordWeights, options: options, info: info) } catch let e as TrainError { throw Failure(e.description) }
            do { try model.write(to: output) } catch let e as ModelError { throw Failure(e.description) }
            let err = OutputSink.stderr
            err.line("fanzha: \(output): \(algo.name), \(report.scam) scam and \(report.benign) benign records (\(report.unlabelled) without a label skipped), "
                     + (report.folds >= 2 ? "\(report.trained) trained, calibrated out of \(report.folds) folds; " : "\(report.trained) trained, \(report.heldOut) held out; ")
                     + "\(report.features) n-gram buckets kept, \(model.nonZero) weights; "
                     + String(format: "%.1f s", report.seconds))
            if let loss = report.logLoss, let acc = report.accuracy {
                err.line("fanzha: \(report.folds >= 2 ? "out of fold" : "held out"): log loss \(String(format: "%.4f", loss)), accuracy \(String(format: "%.4f", acc))"
                         + (report.auc.map { ", AUC " + String(format: "%.4f", $0) } ?? ""))
            }
            return 0
        }
    }
}
