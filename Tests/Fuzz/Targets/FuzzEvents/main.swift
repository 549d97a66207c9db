import FuzzDriver

warmUp()
runFuzzer(fuzzEvents)
