#!/bin/sh
# workloads/qemu/check.sh: runs every program of workloads/workloads.cfg at
# every optimisation level under QEMU (run.sh) and compares its output with
# the host build's or with workloads/expected/NAME.txt, as the system tests
# do with iovsim.  Development aid for checking programs and expected
# outputs on a reference x86; needs `make guests` first.
#
# usage: sh workloads/qemu/check.sh [NAME...]
# Prints one line per run and "N passed, N failed"; exits 1 on a failure.
#
# QEMU 7.2's TCG departs from the SDM in two places the tests reach; its
# output is mapped to the SDM's before comparing:
#   - #GP for `int n` beyond the IDT limit in long mode: QEMU pushes error
#     code n * 16 + 2, the SDM (and hardware) n * 8 + 2 (selector index of
#     the gate: SDM 3A §6.13);
#   - #PF for a reserved bit in a present entry: QEMU leaves out the P bit
#     of the error code, the SDM sets it ("RSVD ... can be set only if bit
#     0 is also set": SDM 3A §4.7).
# Programs that need iovsim's own devices are skipped (QEMU's pc machine
# has no register file at 0x400000000, its port 0x80 drops writes and
# reads all-ones, and it has no interval timer at ports 0x440-0x44F):
# mmioforms, timer.
SKIP="mmioforms timer"
set -u
cd "$(dirname "$0")/../.." || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
while read -r name mode ram; do
    case "$name" in ''|'#'*) continue ;; esac
    if [ $# -gt 0 ]; then
        case " $* " in *" $name "*) ;; *) continue ;; esac
    fi
    case " $SKIP " in
    *" $name "*)
        echo "skip $name: needs iovsim's devices"
        continue
        ;;
    esac
    if [ "$mode" = host ]; then
        build/workloads/host/"$name" > "$tmp/want" || {
            echo "FAIL $name: host build exited $?"
            failed=$((failed + 1))
            continue
        }
    else
        cp workloads/expected/"$name".txt "$tmp/want"
    fi
    for level in O0 O1 O2 O3; do
        sh workloads/qemu/run.sh build/workloads/guest/"$name"-"$level".elf \
            "$ram" > "$tmp/raw"
        rc=$?
        sed -e 's/error 0x402 cs/error 0x202 cs/' \
            -e 's/^\(reserved bit 51 in a PTE .*+0x8000\/\)8$/\19/' \
            "$tmp/raw" > "$tmp/got"
        if [ "$rc" -eq 0 ] && cmp -s "$tmp/want" "$tmp/got"; then
            echo "ok   $name-$level"
            passed=$((passed + 1))
        else
            echo "FAIL $name-$level: exit status $rc"
            diff "$tmp/want" "$tmp/got" | head -20
            failed=$((failed + 1))
        fi
    done
done < workloads/workloads.cfg
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
