#!/usr/bin/env bash
# What containing the children costs: the 50k job with orchestrate's
# children in a PID namespace (the default), with the subreaper only
# (POLYMER_FANOUT_CONTAINMENT=subreaper), and `xargs -P 26` over the same
# 26 reduce children, on the same input. Cases take turns, run after run;
# prints the median wall time of each and its ratio to xargs.
#
#   bash benches/containment.sh [RUNS]    # default 21
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

runs=${1:-21}
cargo build --locked --release --quiet --bins
bin=$PWD/target/release
input=$PWD/inputs/polymer-50k.txt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

namespace() { "$bin/orchestrate" -q "$input" > /dev/null; }
subreaper() { POLYMER_FANOUT_CONTAINMENT=subreaper "$bin/orchestrate" -q "$input" > /dev/null; }
xargs_fanout() {
    printf '%s\n' {a..z} |
        xargs -P 26 -I{} "$bin/reduce" --letter {} --output "$work/{}.txt" --quiet "$input"
}

# The JSON says which containment each orchestrate case got.
echo "default:   $("$bin/orchestrate" --json "$input" | grep -o '"containment":"[a-z-]*"')"
echo "subreaper: $(POLYMER_FANOUT_CONTAINMENT=subreaper "$bin/orchestrate" --json "$input" | grep -o '"containment":"[a-z-]*"')"

cases=(namespace subreaper xargs_fanout)
declare -A times
for ((r = 0; r < runs; r++)); do
    turn=("${cases[@]:r%3}" "${cases[@]:0:r%3}")
    for name in "${turn[@]}"; do
        start=$(date +%s%N)
        "$name"
        end=$(date +%s%N)
        times[$name]+="$(((end - start) / 1000)) "
    done
done
base=$(echo "${times[xargs_fanout]}" | median)
echo "machine: $(machine); $runs runs per case, 50k input"
printf '| %-46s | %9s | %8s |\n' "case" "median ms" "vs xargs"
printf '|%s|%s|%s|\n' "---" "---:" "---:"
for name in "${cases[@]}"; do
    m=$(echo "${times[$name]}" | median)
    label=$(case $name in
        namespace) echo "orchestrate, children in a PID namespace" ;;
        subreaper) echo "orchestrate, subreaper only" ;;
        xargs_fanout) echo "xargs -P 26, the same 26 reduce children" ;;
    esac)
    printf '| %-46s | %9.1f | %8s |\n' "$label" "$(echo "$m / 1000" | bc -l)" "$(ratio "$m" "$base")"
done
