#!/usr/bin/env bash
# The whole job on one large generated input against one plain full
# reaction of the same file (`reduce -o -`), cases taking turns; then each
# mode's peak memory against the input's size.
#
#   bash benches/large.sh [UNITS] [RUNS]    # default 1000000000 (1 GB), 3 runs
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

units=${1:-1000000000}
runs=${2:-3}
cargo build --locked --release --quiet --bins --examples
command -v /usr/bin/time > /dev/null ||
    { apt-get update -qq > /dev/null && apt-get install -y -qq time > /dev/null; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
big=$work/big.txt
./target/release/examples/generate --units "$units" --seed 1 > "$big"
bin=$PWD/target/release

cases=(
    "one plain full reaction: reduce -o - (baseline)|$bin/reduce -q -o - $big"
    "orchestrate (process mode, defaults)|$bin/orchestrate -q $big"
    "orchestrate --mode sweep|$bin/orchestrate -q --mode sweep $big"
    "orchestrate --mode thread|$bin/orchestrate -q --mode thread $big"
)
declare -A times
for ((r = 0; r < runs; r++)); do
    for k in "${!cases[@]}"; do
        command=${cases[$k]#*|}
        start=$(date +%s%N)
        $command > /dev/null
        end=$(date +%s%N)
        times[$k]+="$(((end - start) / 1000000)) "
    done
done
echo "machine: $(machine); $units units, $runs runs"
echo "| $units-unit input | median ms | ratio | runs (ms) |"
echo "|---|---:|---:|---|"
base=$(echo "${times[0]}" | median)
for k in "${!cases[@]}"; do
    m=$(echo "${times[$k]}" | median)
    printf '| %s | %s | %s | %s|\n' "${cases[$k]%%|*}" "$m" "$(ratio "$m" "$base")" "${times[$k]}"
done
size=$(stat -c %s "$big")
for mode in process thread serial sweep; do
    rss=$( { /usr/bin/time -f %M "$bin/orchestrate" -q --mode "$mode" "$big" > /dev/null; } 2>&1)
    awk -v s="$size" -v r="$rss" -v m="$mode" 'BEGIN { printf "orchestrate --mode %s peak RSS: %.1f MB for a %.1f MB input (%.3fx)\n", m, r / 1000, s / 1e6, r * 1000 / s }'
done
# A child handed the whole input (as with --no-prereact): its peak memory
# against the polymer it was handed.
rss=$( { /usr/bin/time -f %M "$bin/reduce" --letter a -o - -q "$big"; } 2>&1)
awk -v s="$size" -v r="$rss" 'BEGIN { printf "reduce --letter a peak RSS: %.1f MB for a %.1f MB polymer (%.3fx)\n", r / 1000, s / 1e6, r * 1000 / s }'
# A child in the default process mode, handed the reacted polymer (a sealed
# in-memory file, which it maps): the largest peak among the 26 children,
# through a wrapper program that runs each one under /usr/bin/time.
printf '#!/bin/sh\nexec /usr/bin/time -f %%M -a -o "%s" "%s" "$@"\n' \
    "$work/child-rss" "$bin/reduce" > "$work/timed-reduce"
chmod +x "$work/timed-reduce"
reacted=$("$bin/orchestrate" --json --reduce-bin "$work/timed-reduce" "$big" |
    grep -oE '"full_length": *[0-9]+' | grep -oE '[0-9]+$')
rss=$(sort -n "$work/child-rss" | tail -1)
awk -v s="$reacted" -v r="$rss" 'BEGIN { printf "a child of orchestrate, largest peak RSS: %.1f MB for a %.1f MB reacted polymer (%.3fx)\n", r / 1000, s / 1e6, r * 1000 / s }'
