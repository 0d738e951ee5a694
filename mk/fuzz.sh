#!/bin/sh
# make fuzz: runs each libFuzzer harness for SECONDS, one after the other,
# and prints one line per harness.  Usage: mk/fuzz.sh SECONDS BUILD TARGET...
# Each harness reads its committed seeds (tests/fuzz/corpus/TARGET/) and
# grows BUILD/fuzz/corpus/TARGET/; a crash input goes to fuzz-crashes/TARGET/
# and makes the script exit 1 once all harnesses have run.
set -u
secs=$1
build=$2
shift 2
status=0

# A fresh trace database for fuzz-traces: a native and an hvm run of hello
# at level exits, shrunk to 512-byte pages so that mutations hit structure.
seed_traces() {
    dir=$build/fuzz/corpus/traces
    db=$dir/seed-exits.db
    [ -f "$db" ] && return 0
    mkdir -p "$dir"
    for mode in native hvm; do
        build/iovsim run experiments/default.ini \
            --set guest.program=build/workloads/guest/hello-O2.elf \
            --set machine.mode=$mode --set machine.memory=4M \
            --set machine.guest_base=2M --db "$db" --trace exits \
            --console /dev/null >/dev/null || return 1
    done
    python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("pragma journal_mode=delete")
c.execute("pragma page_size=512")
c.execute("vacuum")
c.close()' "$db"
}

for t in "$@"; do
    corpus=$build/fuzz/corpus/$t
    crashes=fuzz-crashes/$t
    log=$build/fuzz/$t.log
    extra=""
    mkdir -p "$corpus" "$crashes"
    case $t in
    config) extra="experiments sim/profiles" ;;
    traces) seed_traces || echo "fuzz-$t: warning: no fresh seed database" ;;
    esac
    ASAN_OPTIONS=detect_leaks=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$build/fuzz/fuzz-$t" -max_total_time="$secs" -timeout=20 \
        -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="$crashes/" "$corpus" "tests/fuzz/corpus/$t" \
        $extra >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    if [ "$rc" = 0 ]; then
        echo "fuzz-$t: ok: $secs s, ${runs:-?} runs (${rate:-?}/s), $cov," \
            "corpus $(ls "$corpus" | wc -l)"
    else
        echo "fuzz-$t: FAILED (status $rc) after ${runs:-?} runs: see $log;" \
            "input in $crashes/"
        grep -m 3 -E '^(==[0-9]+==ERROR|SUMMARY|fuzz-|.*runtime error)' \
            "$log" | sed 's/^/    /'
        status=1
    fi
done
exit $status
