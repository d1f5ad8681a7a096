# newsfold - the two commands of the README, and the steps they are made of.
#
#   make demo   install missing packages, build, run on examples/, print where the output is
#   make test   install missing packages, build normal and ASan+UBSan variants, run every
#               test, and a short fuzz smoke run
#
# Builds go to build/ (release), build-asan/ (sanitizers) and build-fuzz/ (libFuzzer).

JOBS ?= $(shell nproc)
SHARED ?= $(abspath ../shared)
FUZZ_SECONDS ?= 15
CMAKE_FLAGS = -G Ninja -DNF_SHARED_DIR=$(SHARED) -DNF_WERROR=ON

.PHONY: all setup build build-asan demo test test-release test-asan fuzz-smoke bench format clean

all: build

setup:
	@scripts/setup.sh --with-fuzz

build: setup
	cmake -S . -B build $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build -j $(JOBS)

build-asan: setup
	cmake -S . -B build-asan $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug -DNF_SANITIZE=ON >/dev/null
	cmake --build build-asan -j $(JOBS)

demo: build
	@rm -rf out/demo
	build/newsfold run -q -o out/demo examples/corpus
	@echo
	@echo "newsfold demo: $$(wc -l < out/demo/documents.jsonl) documents in $$(wc -l < out/demo/events.jsonl) events and $$(wc -l < out/demo/storylines.jsonl) storylines"
	@echo "report: $(CURDIR)/out/demo/report.html"
	@echo "data:   $(CURDIR)/out/demo/{documents,events,storylines}.jsonl"

test-release: build
	cd build && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS)

fuzz-smoke: setup
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz_smoke.sh

test: test-release test-asan fuzz-smoke
	@echo "make test: release, ASan+UBSan and fuzz smoke all passed"

bench: build
	bench/bench.sh clean
	bench/bench.sh dedup
	BENCH_LIMIT_MB=20 bench/bench.sh links
	bench/bench_extract.sh
	bench/bench_events.sh

format:
	clang-format -i include/*.h cli/*.[ch] src/*/*.[ch] tests/*.[ch] fuzz/*.c

clean:
	rm -rf build build-asan build-fuzz build-bench out
