#!/bin/sh
# run.sh — long fuzzing runs of every target (not CI; CI replays the corpus).
#
#   tests/fuzz/run.sh [RUNS] [TARGET...]     (default: 10000000 runs, all targets)
#
# Builds build-fuzz (clang, libFuzzer, ASan+UBSan) when missing, runs each
# target RUNS times from its corpus, then merges what added coverage into
# tests/fuzz/corpus/<name>/ (commit it). A crash, leak or sanitizer report
# stops that target and leaves the input in tests/fuzz/crashes/: fix the bug,
# move the input into the corpus (so the replay test keeps it fixed), rerun.
# Prints one line per target: runs, time, coverage, outcome.
set -u
cd "$(dirname "$0")/../.."
runs=${1:-10000000}
[ $# -gt 0 ] && shift
targets=${*:-"rtp rtcp demux sdp proto token http router"}

if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
        -Db_lundef=false --buildtype=debugoptimized >/dev/null || exit 1
fi
ninja -C build-fuzz $(for t in $targets; do printf 'tests/fuzz/fuzz-%s ' "$t"; done) >/dev/null || exit 1

mkdir -p tests/fuzz/crashes
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
status=0
for t in $targets; do
    work=$(mktemp -d)
    log=$(mktemp)
    start=$(date +%s)
    # Text inputs (SDP) are larger than packets.
    case $t in sdp) max_len=8192 ;; proto|token|http) max_len=4096 ;; router) max_len=512 ;;
        *) max_len=1500 ;; esac
    # The router's inputs are sequences of operations on a room: short ones
    # already hold dozens of packets; the entropic schedule's bookkeeping
    # takes a third of its time (tens of thousands of features), so plain.
    case $t in router) extra=-entropic=0 ;; *) extra= ;; esac
    build-fuzz/tests/fuzz/fuzz-$t -runs="$runs" -max_len=$max_len -timeout=10 $extra \
        -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix=tests/fuzz/crashes/$t- "$work" tests/fuzz/corpus/$t >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    done_line=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -1)
    if [ $rc -eq 0 ]; then
        build-fuzz/tests/fuzz/fuzz-$t -merge=1 tests/fuzz/corpus/$t "$work" >/dev/null 2>&1
        echo "fuzz-$t: ok in ${secs}s: $done_line"
    else
        status=1
        echo "fuzz-$t: FAILED after ${secs}s (see tests/fuzz/crashes/): $done_line"
        grep -E 'ERROR|SUMMARY' "$log" | head -5
    fi
    rm -rf "$work" "$log"
done
exit $status
