# Thin wrapper over CMake (the source of truth). `make check` is the one test
# command: README, CI (.ci/run) and developers all run it.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= 2
SOURCES     = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

.PHONY: all deps build asan check demo release bench bench-mem deb format format-check lint clean soak fuzz

all: build

deps:
	sh scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Debug -DFERRY_DEVELOPER=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFERRY_DEVELOPER=ON \
	  -DFERRY_SANITIZE=address,undefined >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# Format check, then the whole suite on the dev, ASan+UBSan and TSan
# builds; ends with "N passed, N failed".
check: deps
	sh scripts/check.sh

# Starts ferryd on the embedded SQLite store and shows rows flowing.
demo: build
	sh scripts/demo.sh $(BUILD)

release: deps
	cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build-release -j $(JOBS)

# ferry_<version>_<arch>.deb in dist/ (docs/install.md): a release build in
# build-deb, both programs, the systemd units, the docs, sample settings.
deb: deps
	JOBS=$(JOBS) sh scripts/package-deb.sh build-deb dist

bench: release
	sh bench/run.sh build-release

# ferryd's memory under 10 minutes of load (DURATION=60 for a short try).
bench-mem: release
	sh bench/mem_flat.sh build-release

# Every libFuzzer target in turn for FUZZ_SECONDS each, one process at a
# time (docs/internals/fuzzing.md): new inputs and findings land in
# build-fuzz/fuzz-work/NAME/, then a summary per target.
FUZZ_SECONDS ?= 60
fuzz: deps
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DFERRY_DEVELOPER=ON -DFERRY_FUZZ=ON -DFERRY_UNIT_TESTS=OFF >/dev/null
	cmake --build build-fuzz -j $(JOBS) --target fuzz_all
	sh tests/fuzz/run.sh all build-fuzz $(FUZZ_SECONDS)

# 50 agents syncing two ways for 10 minutes against ferryd on PostgreSQL
# (AGENTS=10 DURATION=60 for a short try): errors, memory, exact data.
soak: release
	sh bench/soak.sh build-release

format:
	clang-format -i $(SOURCES)

format-check:
	clang-format --dry-run --Werror $(SOURCES)

lint: build
	clang-tidy -p $(BUILD) --quiet $(filter %.c,$(SOURCES))

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-tsan build-release build-deb build-fuzz dist
