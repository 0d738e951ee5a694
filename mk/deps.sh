#!/bin/sh
# Checks that the Debian packages iovsim builds and tests with are installed.
# As root it installs the missing ones with apt-get; otherwise it prints the
# exact apt-get line and fails, so the build never half-works.
set -e
# clang and libclang-rt-14-dev: libFuzzer for `make fuzz`.
PKGS="gcc make pkg-config libzydis-dev libcapstone-dev libglib2.0-dev \
libsqlite3-dev libcunit1-dev gnuplot-nox python3 clang libclang-rt-14-dev"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "iovsim: installing missing packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q $missing
else
    echo "iovsim: missing Debian packages:$missing" >&2
    echo "iovsim: install them with:" >&2
    echo "    sudo apt-get install -y$missing" >&2
    exit 1
fi
