import FuzzDriver

warmUp()
runFuzzer(fuzzJSONL)
