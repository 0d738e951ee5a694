#!/bin/sh
# mk/bench.sh: the CPU-bound guest benchmarks (`make bench`).
#
# usage: sh mk/bench.sh path/to/iovsim
#
# For each program in build/workloads/bench/ (built by `make guests`) this
# writes a temporary experiment config, runs `iovsim run CONFIG` RUNS
# times, takes the "guest MIPS: X" line from each run's output (iovsim
# measures it without start-up) and prints the median:
#     cpu-bound guest (tightloop): 312.4 MIPS
# and the largest memory the simulator itself kept resident, beyond the
# guest RAM pages the guest touched (iovsim's "host memory:" line, from
# its peak RSS and mincore() over guest RAM):
#     resident beyond guest RAM (tightloop): 12.3 MiB
# A failing run prints iovsim's output and makes the script exit 1.
set -u

RUNS=5
PROGRAMS="tightloop coremark"
GUEST_RAM_MIB=64
RUN_TIMEOUT=600

if [ $# -ne 1 ]; then
    echo "usage: sh mk/bench.sh path/to/iovsim" >&2
    exit 2
fi
case "$1" in
/*) iovsim=$1 ;;
*) iovsim=$(pwd)/$1 ;;
esac
cd "$(dirname "$0")/.." || exit 2
root=$(pwd)
if [ ! -x "$iovsim" ]; then
    echo "bench: $iovsim is not an executable" >&2
    exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for prog in $PROGRAMS; do
    elf=$root/build/workloads/bench/$prog.elf
    if [ ! -f "$elf" ]; then
        echo "bench: $elf is missing; run 'make guests' first" >&2
        exit 2
    fi
    cfg=$tmp/bench-$prog.ini
    cat > "$cfg" <<EOF
[experiment]
name = bench-$prog
[machine]
mode = native
memory = ${GUEST_RAM_MIB}M
profile = skylake
[guest]
program = $elf
EOF
    : > "$tmp/mips"
    : > "$tmp/rss"
    i=1
    while [ "$i" -le "$RUNS" ]; do
        out=$tmp/out.$prog.$i
        timeout "$RUN_TIMEOUT" "$iovsim" run "$cfg" > "$out" 2>&1
        rc=$?
        if [ "$rc" -ne 0 ]; then
            echo "bench: iovsim failed on $prog (run $i, exit status $rc):" >&2
            cat "$out" >&2
            exit 1
        fi
        mips=$(sed -n 's/.*guest MIPS: *\([0-9][0-9.]*\).*/\1/p' "$out" |
            tail -n 1)
        if [ -z "$mips" ]; then
            echo "bench: no 'guest MIPS:' line in iovsim's output for" \
                "$prog (run $i):" >&2
            cat "$out" >&2
            exit 1
        fi
        echo "$mips" >> "$tmp/mips"
        sed -n 's/.*beyond guest RAM *\([0-9][0-9.]*\) MiB.*/\1/p' "$out" |
            tail -n 1 >> "$tmp/rss"
        i=$((i + 1))
    done
    sort -n "$tmp/mips" | awk -v prog="$prog" '
        { v[NR] = $1 }
        END {
            m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "cpu-bound guest (%s): %.1f MIPS\n", prog, m
        }'
    awk -v prog="$prog" '
        $1 + 0 > max { max = $1 + 0 }
        END { printf "resident beyond guest RAM (%s): %.1f MiB\n", prog, max }
    ' "$tmp/rss"
done
