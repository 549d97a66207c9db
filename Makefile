# The README's two commands are `make test` and `make demo`.

SWIFT ?= swift

.PHONY: setup build demo test test-spark test-service fuzz tsan bench bench-serve quality clean

setup:
	./scripts/setup.sh

build:
	$(SWIFT) build -c release

demo: setup
	$(SWIFT) build -c release
	.build/release/fanzha scan corpus/demo.txt; status=$$?; [ $$status -le 1 ]

# The corpus's own checks (corpus/count_labels.py: valid JSON, unique ids, known labels, 2–16 turns a
# call), the test suite, the engine's equivalences on the whole corpus (scripts/equivalence.sh: the
# prefilter and the thread count change no verdict), the Spark job's tests, the service's console and OpenAPI run, then the detection
# floors on ../shared/datasets (scripts/quality.py --check).
test: setup
	python3 corpus/count_labels.py > /dev/null
	$(SWIFT) test
	$(SWIFT) build -c release
	./scripts/equivalence.sh
	$(MAKE) test-spark
	$(MAKE) test-service
	./scripts/quality.py --check

# libFuzzer with AddressSanitizer on every parser of outside input (rules, JSON Lines records, live
# call events, the deadlines and tokens files), FUZZ_SECONDS each (docs/RELIABILITY.md). CI runs it
# as its own step after `make test`; findings are in .build/fuzz/findings/.
FUZZ_SECONDS ?= 60
fuzz: setup
	./scripts/fuzz.sh $(FUZZ_SECONDS)

# ThreadSanitizer on the parallel scan, the live calls and the service's sharded live calls
# (scripts/tsan.sh; a debug build of everything with --sanitize=thread in .build/tsan). Not in CI:
# that build alone takes longer than the rest of CI together (docs/RELIABILITY.md).
tsan: setup
	./scripts/tsan.sh

# `fanzha serve` end to end: the web console in headless Chromium, and schemathesis against
# docs/openapi.yaml (no 500s); it runs the release binary.
test-service:
	$(SWIFT) build -c release
	./scripts/service_test.py

# The Spark job (integrations/spark) against `fanzha scan` on a local Spark; it ships the release binary.
test-spark:
	$(SWIFT) build -c release
	python3 -m pytest -q -p no:cacheprovider integrations/spark/tests

# Where the rules stand on every data set, then the model's columns: rules only vs rules + a model
# trained on the even halves of the dev files, on the odd halves (scripts/quality_model.py, ~1 min).
quality: setup
	$(SWIFT) build -c release
	./scripts/quality.py
	./scripts/quality_model.sh

bench: setup
	./scripts/bench.sh
	./scripts/bench_referrals.sh

# `fanzha serve` under load with wrk (docs/BENCHMARKS.md, "The service").
bench-serve: setup
	./scripts/bench_serve.sh

# The bundled model (docs/MODEL.md): trained on the project's own corpus only, deterministic.
model:
	$(SWIFT) build -c release
	.build/release/fanzha train --seed 1 corpus/messages.jsonl corpus/calls.jsonl -o rules/model.fzm

# Rules only vs rules + model on held-out halves of ../shared/datasets (the dev model is temporary).
quality-model:
	$(SWIFT) build -c release
	./scripts/quality_model.sh

clean:
	rm -rf .build
