#!/usr/bin/env bash
# Two facts about this machine's memory that the reading code is built on
# (benches/memory.c), each measured three times:
# - read() into a buffer that starts 0, 16, 32 and 64 bytes past a page: on
#   AMD's Zen cores a destination that is not 32-byte aligned (the
#   allocator's 16) makes the kernel's copy several times slower;
# - writing fresh memory the first time against the second: the first
#   write pays for the kernel clearing each page (and, on a virtual
#   machine, for the host providing it).
#
#   bash benches/memory.sh [UNITS]    # default a 1 GB generated input
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

units=${1:-1000000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --locked --release --quiet --examples
cc -O2 -o "$work/memory" benches/memory.c
./target/release/examples/generate --units "$units" --seed 1 > "$work/input.txt"
cat "$work/input.txt" > /dev/null
echo "machine: $(machine)"
for round in 1 2 3; do
    echo "round $round"
    for offset in 0 16 32 64; do
        "$work/memory" read "$work/input.txt" 262144 "$offset"
    done
    "$work/memory" touch 200 1
    "$work/memory" touch 200 0
done
