#!/bin/sh
# Runs the libFuzzer targets (docs/internals/fuzzing.md).
#   run.sh replay BIN SRC            every file of SRC/NAME once (regressions)
#   run.sh run BIN SRC SECONDS WORK  fuzzes SECONDS from SRC/NAME: new inputs
#                                    in WORK/NAME/corpus, findings (crash-*,
#                                    leak-*, timeout-*, oom-*) in
#                                    WORK/NAME/findings; one summary line
#   run.sh all BUILD SECONDS         `make fuzz`: every target of BUILD in
#                                    turn, then the summary of each
# NAME is BIN's name without "fuzz_". One process at a time (-jobs=1): the
# machine has 2 cores shared with others.
set -u
here=$(cd "$(dirname "$0")" && pwd)
mode=$1
shift
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$here/../../tools/lsan.supp}"
# A request to the in-process ferryd may wait 10 s for its answer.
OPTS="-timeout=30 -rss_limit_mb=2048 -print_final_stats=1"

name_of() { basename "$1" | sed 's/^fuzz_//'; }

dict_of() { # SRC NAME
    [ -f "$1/$2.dict" ] && echo "-dict=$1/$2.dict"
}

replay() { # BIN SRC
    name=$(name_of "$1")
    n=$(find "$2/$name" -type f | wc -l)
    [ "$n" -gt 0 ] || { echo "fuzz_$name: no corpus in $2/$name" >&2; return 1; }
    # shellcheck disable=SC2086
    if find "$2/$name" -type f -print0 | xargs -0 -r "$1" $OPTS >"$TMPDIR_/replay.log" 2>&1; then
        echo "fuzz_$name: $n inputs replayed, no finding"
        return 0
    fi
    tail -n 60 "$TMPDIR_/replay.log"
    echo "fuzz_$name: a corpus input fails" >&2
    return 1
}

run() { # BIN SRC SECONDS WORK
    name=$(name_of "$1")
    out=$4/$name
    mkdir -p "$out/corpus" "$out/findings"
    before=$(find "$out/findings" -type f | wc -l)
    # shellcheck disable=SC2046,SC2086
    "$1" $OPTS -max_total_time="$3" -artifact_prefix="$out/findings/" \
        $(dict_of "$2" "$name") "$out/corpus" "$2/$name" >"$out/log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$out/log" | tail -n 1 | sed 's/cov: //')
    ft=$(grep -o 'ft: [0-9]*' "$out/log" | tail -n 1 | sed 's/ft: //')
    corp=$(grep -o 'corp: [0-9]*' "$out/log" | tail -n 1 | sed 's/corp: //')
    found=$(($(find "$out/findings" -type f | wc -l) - before))
    bad=0
    if [ $rc -ne 0 ] || [ "$found" -ne 0 ]; then
        grep -A 40 'ERROR: \|runtime error\|Segmentation\|DEADLYSIGNAL' "$out/log" | head -n 60
        bad=1
    fi
    # The summary line last: `all` collects it.
    echo "fuzz_$name: ${3}s execs=${execs:-?} cov=${cov:-?} ft=${ft:-?}" \
        "corpus=${corp:-?} findings=$found ($out)"
    return $bad
}

TMPDIR_=$(mktemp -d)
trap 'rm -rf "$TMPDIR_"' EXIT
case $mode in
replay) replay "$1" "$2" ;;
run) run "$1" "$2" "$3" "$4" ;;
all)
    build=$1
    secs=$2
    status=0
    : >"$TMPDIR_/summary"
    for bin in "$build"/tests/fuzz/fuzz_*; do
        [ -x "$bin" ] || continue
        echo "== $(basename "$bin"): ${secs}s" >&2
        line=$(run "$bin" "$here" "$secs" "$build/fuzz-work") || status=1
        echo "$line" | tail -n 1 >>"$TMPDIR_/summary"
        echo "$line"
    done
    echo "== summary (new inputs in $build/fuzz-work/NAME/corpus, findings in" \
        "$build/fuzz-work/NAME/findings)"
    cat "$TMPDIR_/summary"
    exit $status
    ;;
*)
    echo "usage: run.sh replay|run|all ..." >&2
    exit 2
    ;;
esac
