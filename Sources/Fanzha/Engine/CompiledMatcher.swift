import Foundation

/// The parts of a compiled rule set that every worker shares: the rules and the prefilter automaton.
/// Immutable once built (`programPointer`'s memory is written once, in `init`, and only read after),
/// hence `@unchecked Sendable`.
package final class CompiledMatcher: @unchecked Sendable {
    package let rules: RuleSet
    package let automaton: AhoCorasick
    /// The learned model the rules' `model` conditions read; nil makes them false.
    package let model: TextModel?
    /// The program at a fixed address, so evaluations read it in place (see `Evaluation`).
    let programPointer: UnsafeMutablePointer<Program>
    var program: Program { programPointer.pointee }

    package init(_ rules: RuleSet, model: TextModel? = nil) {
        self.rules = rules
        self.model = model
        if let prebuilt = rules.prebuilt {
            // From a compiled rule cache: nothing to build (the rule set owns the program).
            automaton = prebuilt.automaton
            programPointer = .allocate(capacity: 1)
            programPointer.initialize(to: prebuilt.program)
            ownsProgram = false
            return
        }
        ownsProgram = true
        // The automaton and the program are independent: built side by side, they take the
        // longer of the two instead of the sum (start-up is part of every one-message run).
        programPointer = UnsafeMutablePointer<Program>.allocate(capacity: 1)
        let program = programPointer
        var automaton: AhoCorasick?
        DispatchQueue.concurrentPerform(iterations: 2) { part in
            if part == 0 { automaton = AhoCorasick(words: rules.words) } else { program.initialize(to: Program(rules)) }
        }
        self.automaton = automaton!
    }

    /// False when the program belongs to the rule set's `PrebuiltMatcher`.
    private let ownsProgram: Bool

    deinit {
        if ownsProgram { programPointer.pointee.deallocate() }
        programPointer.deinitialize(count: 1)
        programPointer.deallocate()
    }
}
