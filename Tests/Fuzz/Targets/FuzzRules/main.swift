import FuzzDriver

runFuzzer(fuzzRules)
