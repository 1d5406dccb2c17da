#!/bin/sh
# Allocation fault injection ("torture"): runs one unit-test program again
# and again, failing its 1st, 2nd, 3rd ... allocation (FERRY_FAULT_ALLOC=N,
# lib/util/alloc.c), until a run ends before its Nth allocation. Every run
# must end cleanly: tests may fail (they expected the memory), but nothing
# may crash, abort, read or write out of bounds, or hit undefined behaviour
# (AddressSanitizer and UBSan in the sanitizer build). Leaks are not
# checked here: a failed cmocka assertion leaves the test without running
# its own cleanup. The ordinary runs check leaks on every path they take.
#   torture.sh PROGRAM [ARG...]
# TORTURE_STRIDE=K tries every K-th allocation only (for slow programs,
# such as the store suite against PostgreSQL), starting at a random one
# of the first K, so that successive runs (CI's, a developer's) cover
# different allocations; TORTURE_OFFSET=N repeats a run (the first line
# says which offset it took).
set -u
prog=$1
shift
stride=${TORTURE_STRIDE:-1}
n=${TORTURE_OFFSET:-$(($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % stride))}
echo "torture: $(basename "$prog"): every ${stride}th allocation from the ${n}th (TORTURE_OFFSET=$n)"
runs=0
bad=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
while :; do
    rc=0
    FERRY_FAULT_ALLOC=$n CMOCKA_MESSAGE_OUTPUT=stdout \
        ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:exitcode=200 \
        UBSAN_OPTIONS=halt_on_error=1:exitcode=202 \
        "$prog" "$@" >"$out" 2>&1 || rc=$?
    runs=$((runs + 1))
    # cmocka exits with the number of failed tests; signals are >= 128,
    # sanitizer reports 200-202.
    if [ "$rc" -ge 128 ] || grep -q "ERROR: AddressSanitizer\|runtime error" "$out"; then
        echo "torture: $prog failing allocation $n: exit $rc" >&2
        grep -m 20 -E "ERROR|SUMMARY|#[0-9] |runtime error|Segmentation" "$out" >&2
        bad=$((bad + 1))
        [ $bad -ge 3 ] && break
    fi
    grep -q "ferry-fault: reached" "$out" || break
    n=$((n + stride))
done
echo "torture: $(basename "$prog"): $runs runs, $bad failures"
[ $bad -eq 0 ]
