# The README's two commands are `make test` and `make demo`.

SWIFT ?= swift

.PHONY: setup build demo test bench clean

setup:
	./scripts/setup.sh

build:
	$(SWIFT) build -c release

demo: setup
	$(SWIFT) build -c release
	.build/release/fanzha scan corpus/demo.txt

test: setup
	$(SWIFT) test

bench:
	@echo "see docs/BENCHMARKS.md"

clean:
	rm -rf .build
