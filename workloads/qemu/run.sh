#!/bin/sh
# workloads/qemu/run.sh: runs one guest program under QEMU (TCG) with the
# iovsim loader's initial state (see boot.S), for checking guest programs
# and expected outputs on a reference x86.  Development aid; needs
# qemu-system-x86_64 (Debian: qemu-system-x86).
#
# usage: sh workloads/qemu/run.sh PROGRAM.elf [RAM_MIB]
# Prints the guest's console output (port 0xE9) on stdout and exits with
# the guest's exit status modulo 128 (port 0xF4), or 125 if the guest
# hung (20 s), triple-faulted or did not exit through port 0xF4.
set -u
if [ $# -lt 1 ]; then
    echo "usage: sh workloads/qemu/run.sh PROGRAM.elf [RAM_MIB]" >&2
    exit 2
fi
case "$1" in
/*) elf=$1 ;;
*) elf=$(pwd)/$1 ;;
esac
ram=${2:-32}
# The stub sits at 16 MiB with the guest ELF after it.
[ "$ram" -lt 32 ] && ram=32
cd "$(dirname "$0")/../.." || exit 2
boot=build/workloads/qemu/boot.bin
make -s workloads-qemu >/dev/null || exit 2
timeout 20 qemu-system-x86_64 -accel tcg -cpu max -machine pc -m "$ram" \
    -display none -monitor none -serial none -parallel none -nodefaults \
    -no-reboot -debugcon stdio \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -kernel "$boot" -initrd "$elf ram=$ram"
rc=$?
# isa-debug-exit makes QEMU exit with (status << 1) | 1.
if [ $((rc & 1)) -eq 1 ]; then
    exit $((rc >> 1))
fi
exit 125
