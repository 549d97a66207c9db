import ArgumentParser
import Fanzha
import Foundation

/// `--model FILE` / `--no-model`: the learned model the rules' `model` conditions read
/// (docs/MODEL.md). By default, `model.fzm` in the rules folder.
package struct ModelOptions: ParsableArguments {
    package init() {}

    @Option(name: .customLong("model"), help: "Model file for the rules' `model` conditions (default: model.fzm in the rules folder).")
    var modelPath: String?
    @Flag(help: "Load no model: the rules' `model` conditions are false.") var noModel = false

    package func validate() throws {
        if let message = settings.validationError { throw ValidationError(message) }
    }

    package var settings: ModelSettings { ModelSettings(modelPath: modelPath, noModel: noModel) }
}

/// The model options' values, and what they choose (`ModelOptions` parses them; so does
/// `ScanCommandLine` for `scan`).
package struct ModelSettings: Equatable, Sendable {
    package var modelPath: String? = nil
    package var noModel = false

    package init(modelPath: String? = nil, noModel: Bool = false) {
        self.modelPath = modelPath
        self.noModel = noModel
    }

    /// Why these values cannot be used together, if they cannot.
    package var validationError: String? {
        modelPath != nil && noModel ? "--model and --no-model exclude each other" : nil
    }

    /// The model file to use: --model, else the rules folder's, else none.
    package func path(rulePaths: [String]) -> String? {
        if noModel { return nil }
        return modelPath ?? TextModel.defaultPath(forRules: rulePaths)
    }

    /// Loads the model when the rules read it (or one is named with --model). A model file that is
    /// missing, of another version or corrupt is an error naming the file; rules that read a model
    /// when none is found get a note on stderr (their `model` conditions are false).
    package func load(for rules: RuleSet, rulePaths: [String], quiet: Bool = false) throws -> TextModel? {
        if noModel { return nil }
        guard rules.usesModel || modelPath != nil else { return nil }
        // A `.fzc` file (`fanzha compile`) carries the model its rules were compiled with.
        if modelPath == nil, let bytes = rules.embeddedModel {
            do { return try TextModel.decode(bytes, path: rulePaths.first ?? "") } catch let e as ModelError { throw Failure(e.description) }
        }
        guard let path = path(rulePaths: rulePaths) else {
            if !quiet {
                OutputSink.stderr.line("fanzha: note: the rules use `model` but no model is loaded (no \(TextModel.defaultFileName) beside the rules; "
                                       + "pass --model FILE): those conditions are false")
            }
            return nil
        }
        do { return try TextModel.load(path: path) } catch let e as ModelError { throw Failure(e.description) }
    }
}
