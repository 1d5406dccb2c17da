#!/bin/sh
# The whole test suite: formatting, then unit and e2e tests on the dev build,
# again on the ASan+UBSan build (LeakSanitizer on) and on the ThreadSanitizer
# build, then the fuzz targets' corpora and short runs (clang). Ends with a
# line "of which: ..." (the store conformance suite, the fault injection
# label and the ThreadSanitizer build among the tests) and the closing line
# "N passed, N failed" (tests counted over the builds).
set -u
cd "$(dirname "$0")/.."
# This run's logs only: a suite that is skipped must not count an old one.
rm -f build.test.log build-asan.test.log build-tsan.test.log build-fuzz.test.log
JOBS=${JOBS:-2}
passed=0
failed=0

count() { # LOG: adds ctest's totals
    total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$1" | tail -n 1)
    bad=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$1" | tail -n 1)
    if [ -z "$total" ]; then
        failed=$((failed + 1)) # the build or ctest itself failed
        return
    fi
    passed=$((passed + total - bad))
    failed=$((failed + bad))
}

tsan_runs() {
    _d=$(mktemp -d)
    echo 'int main(void) { return 0; }' >"$_d/t.c"
    _ok=1
    { cc -fsanitize=thread -o "$_d/t" "$_d/t.c" && "$_d/t"; } >/dev/null 2>&1 || _ok=0
    rm -rf "$_d"
    [ $_ok -eq 1 ]
}

# CTEST_ARGS: more ctest options for the next suite (e.g. -LE slow)
suite() { # BUILD_DIR EXTRA_CMAKE_ARGS
    dir=$1
    shift
    echo "== $dir: build"
    if ! { cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DFERRY_DEVELOPER=ON -DFERRY_UNIT_TESTS=ON "$@" >/dev/null &&
           cmake --build "$dir" -j "$JOBS" >"$dir.build.log" 2>&1; }; then
        tail -n 40 "$dir.build.log"
        failed=$((failed + 1))
        return
    fi
    echo "== $dir: tests"
    # shellcheck disable=SC2086 # CTEST_ARGS is a list of words
    ctest --test-dir "$dir" -j "$JOBS" --output-on-failure ${CTEST_ARGS:-} 2>&1 |
        tee "$dir.test.log"
    count "$dir.test.log"
}

echo "== format"
if git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror 2>"format.log"; then
    passed=$((passed + 1))
else
    head -n 20 format.log
    failed=$((failed + 1))
fi
rm -f format.log

suite build
suite build-asan -DFERRY_SANITIZE=address,undefined
# ferryd runs a thread per connection: ThreadSanitizer over the same suite
# (a report stops ferryd, which fails its scenario), but for the scenarios
# labelled slow (crash, kill and fault suites that take minutes, with no
# threading of their own; the two builds above run them). Some kernels' address
# space layouts stop TSan programs before main(); such a machine says so and
# skips this suite rather than fail every test for a reason not in ferry.
if tsan_runs; then
    CTEST_ARGS="-LE slow" suite build-tsan -DFERRY_SANITIZE=thread
    CTEST_ARGS=
else
    echo "== build-tsan: skipped: a ThreadSanitizer program does not start on this machine"
fi

# libFuzzer targets (tests/fuzz, label fuzz): every corpus replayed, then
# each target fuzzed for 15 s under ASan+UBSan. clang is required.
suite_fuzz() {
    echo "== build-fuzz: build"
    if ! { cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
               -DFERRY_DEVELOPER=ON -DFERRY_FUZZ=ON -DFERRY_UNIT_TESTS=OFF >build-fuzz.build.log 2>&1 &&
           cmake --build build-fuzz -j "$JOBS" --target fuzz_all >>build-fuzz.build.log 2>&1; }; then
        tail -n 40 build-fuzz.build.log
        failed=$((failed + 1))
        return
    fi
    echo "== build-fuzz: tests"
    ctest --test-dir build-fuzz -L fuzz --output-on-failure 2>&1 | tee build-fuzz.test.log
    count build-fuzz.test.log
}
suite_fuzz

# The parts issue 6 added, out of the totals: PASSED/RUN of the tests whose
# names match PATTERN in the given logs (a build that failed runs none).
tally() { # PATTERN LOG...
    _pat=$1
    shift
    _run=$(cat "$@" 2>/dev/null | grep -cE "Test +#[0-9]+: ($_pat) ")
    _ok=$(cat "$@" 2>/dev/null | grep -E "Test +#[0-9]+: ($_pat) " | grep -c ' Passed ')
    echo "$_ok/$_run"
}
echo "of which: store conformance, SQLite and PostgreSQL:" \
    "$(tally 'store_(sqlite|pg)' build*.test.log);" \
    "fault injection: $(tally 'torture_[a-z_]+' build-asan.test.log);" \
    "ThreadSanitizer build: $(tally '[a-z0-9_-]+' build-tsan.test.log)"
# CI reads the last line: exactly "N passed, N failed".
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
