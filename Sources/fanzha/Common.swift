import ArgumentParser
import Fanzha
import FanzhaCommandLine
import Foundation

/// The label field, for the commands that read labelled data (eval, cases, train).
struct LabelOptions: ParsableArguments {
    @Option(help: "JSON/CSV field holding the label.") var labelField: String = "label"
}
