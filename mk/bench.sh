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

# The median of the numbers in file $1, one per line.
median() {
    sort -n "$1" | awk '
        { v[NR] = $1 }
        END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

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
    printf "cpu-bound guest (%s): %.1f MIPS\n" "$prog" "$(median "$tmp/mips")"
    awk -v prog="$prog" '
        $1 + 0 > max { max = $1 + 0 }
        END { printf "resident beyond guest RAM (%s): %.1f MiB\n", prog, max }
    ' "$tmp/rss"
done

# ---- The trap path: device accesses per host second ------------------------
#
# pioloop and mmioloop do 2,000,000 port writes / MMIO stores each.  Under
# hvm every one is a VM exit (I/O instruction, EPT violation) handled by
# the VMM; natively the CPU reaches the device directly.  The figure is
# accesses / host time inside the run loop, median of RUNS runs:
#     trapped port I/O (summary): 16.3 M/s
# At trace level "exits" every exit and access is also recorded in SQLite.

# rate PROGRAM MODE LEVEL LABEL
rate() {
    prog=$1 mode=$2 level=$3 label=$4
    elf=$root/build/workloads/bench/$prog.elf
    : > "$tmp/rate"
    i=1
    while [ "$i" -le "$RUNS" ]; do
        out=$tmp/out.rate.$i
        db=""
        if [ "$level" != summary ]; then
            rm -f "$tmp/bench.db" "$tmp/bench.db-wal" "$tmp/bench.db-shm"
            db="--db $tmp/bench.db --trace $level"
        fi
        # shellcheck disable=SC2086
        if ! timeout "$RUN_TIMEOUT" "$iovsim" run "$root/experiments/default.ini" \
            --set guest.program="$elf" --set machine.mode="$mode" \
            --set experiment.name=bench-$prog $db > "$out" 2>&1; then
            echo "bench: iovsim failed on $prog ($mode, $level):" >&2
            cat "$out" >&2
            exit 1
        fi
        awk '/^host time:/ { t = $3 } END { if (t > 0) printf "%.3f\n", 2e6 / t / 1e6 }' \
            "$out" >> "$tmp/rate"
        i=$((i + 1))
    done
    printf "%s: %.1f M/s\n" "$label" "$(median "$tmp/rate")"
}

rate pioloop hvm summary "trapped port I/O (summary)"
rate mmioloop hvm summary "trapped MMIO (summary)"
rate pioloop hvm exits "trapped port I/O (exits)"
rate mmioloop hvm exits "trapped MMIO (exits)"
rate pioloop native summary "native port I/O (summary)"
rate mmioloop native summary "native MMIO (summary)"

# ---- Virtual interrupts --------------------------------------------------------
#
# ipiloop takes 200,000 self-IPIs through the local APIC under hvm
# (apicv = off: the ICR write and the EOI are APIC-access exits, the
# interrupt an injection): interrupts per host second inside the run loop,
# median of RUNS runs.  apicv = on and posted interrupts are not modelled
# yet, so they have no line.
#     virtual interrupts (self-IPI, apicv off): 0.3 M/s
: > "$tmp/rate"
i=1
while [ "$i" -le "$RUNS" ]; do
    out=$tmp/out.ipi.$i
    if ! timeout "$RUN_TIMEOUT" "$iovsim" run "$root/experiments/default.ini" \
        --set guest.program="$root/build/workloads/bench/ipiloop.elf" \
        --set machine.mode=hvm --set machine.memory=16M \
        --set experiment.name=bench-ipiloop > "$out" 2>&1 ||
        ! grep -q "200000 of 200000" "$out"; then
        echo "bench: iovsim failed on ipiloop:" >&2
        cat "$out" >&2
        exit 1
    fi
    awk '/^host time:/ { t = $3 } END { if (t > 0) printf "%.3f\n", 2e5 / t / 1e6 }' \
        "$out" >> "$tmp/rate"
    i=$((i + 1))
done
printf "virtual interrupts (self-IPI, apicv off): %.2f M/s\n" \
    "$(median "$tmp/rate")"

# ---- Many VMs on one host --------------------------------------------------
#
# The tight loop in 1 and in 64 one-vCPU hvm VMs (8 MiB each, lockstep
# quantum 1 us), 1 G instructions in all: the aggregate guest MIPS of each
# (median of RUNS runs), and the simulator's resident memory per VM beyond
# guest RAM, (beyond(64) - beyond(1)) / 63, from the first runs:
#     hvm guests (tightloop, 1 VM): 500.1 MIPS
#     hvm guests (tightloop, 64 VMs): 450.2 MIPS
#     resident per VM beyond its RAM (64 VMs): 0.6 MiB
vms_config() {
    {
        printf '[experiment]\nname = bench-vms%s\n[host]\nquantum = 1us\n' "$1"
        printf '[limits]\ninstructions = 1000000000\n'
        n=0
        while [ "$n" -lt "$1" ]; do
            printf '[vm.v%s]\nmemory = 8M\nprogram = %s\n' "$n" \
                "$root/build/workloads/bench/tightloop.elf"
            n=$((n + 1))
        done
    } > "$tmp/vms$1.ini"
}

for nvms in 1 64; do
    vms_config "$nvms"
    : > "$tmp/mips"
    i=1
    while [ "$i" -le "$RUNS" ]; do
        out=$tmp/out.vms$nvms.$i
        if ! timeout "$RUN_TIMEOUT" "$iovsim" run "$tmp/vms$nvms.ini" \
            --console /dev/null > "$out" 2>&1; then
            echo "bench: iovsim failed on $nvms VMs:" >&2
            cat "$out" >&2
            exit 1
        fi
        sed -n 's/.*guest MIPS: *\([0-9][0-9.]*\).*/\1/p' "$out" >> "$tmp/mips"
        i=$((i + 1))
    done
    plural=$([ "$nvms" -gt 1 ] && echo s)
    printf "hvm guests (tightloop, %d VM%s): %.1f MIPS\n" "$nvms" "$plural" \
        "$(median "$tmp/mips")"
done
b1=$(sed -n 's/.*beyond guest RAM *\([0-9][0-9.]*\) MiB.*/\1/p' "$tmp/out.vms1.1")
b64=$(sed -n 's/.*beyond guest RAM *\([0-9][0-9.]*\) MiB.*/\1/p' "$tmp/out.vms64.1")
awk -v a="$b1" -v b="$b64" 'BEGIN {
    printf "resident per VM beyond its RAM (64 VMs): %.2f MiB\n", (b - a) / 63 }'

# Events written to SQLite per second at level exits (traces/bench.c).
rm -f "$tmp/events.db"
"$iovsim" bench-trace "$tmp/events.db" || exit 1
