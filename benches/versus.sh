#!/usr/bin/env bash
# Every mode of this version against the same mode of another commit, on
# one input (the shipped 50k input by default): is any mode slower than it
# was? The other commit is built in a temporary worktree of its own; the
# two versions take turns, in alternating order, run after run. Each sample
# is the mean of a batch of invocations (a 50k run takes milliseconds, close
# to the cost of starting one); the table gives the median sample.
#
# usage: bash benches/versus.sh COMMIT [RUNS] [INPUT]
#   e.g. bash benches/versus.sh 7083bc4 21
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

base=${1:?usage: bash benches/versus.sh COMMIT [RUNS] [INPUT]}
runs=${2:-21}
input=${3:-inputs/polymer-50k.txt}
batch=${BATCH:-10}

work=$(mktemp -d)
cleanup() {
    git worktree remove --force "$work/base" > /dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
git worktree add --detach --quiet "$work/base" "$base"
echo "building $base ..." >&2
(cd "$work/base" && cargo build --release --locked --quiet --target-dir "$work/target")
cargo build --release --locked --quiet
new=target/release
old=$work/target/release

cases=(
    "orchestrate -q"
    "orchestrate -q --no-prereact"
    "orchestrate -q --mode sweep"
    "orchestrate -q --mode thread"
    "orchestrate -q --mode serial"
    "reduce -q -o -"
    "reduce -q -o - --letter t"
)

declare -A times
for ((run = 0; run < runs; run++)); do
    for case in "${cases[@]}"; do
        if ((run % 2 == 0)); then order=(new old); else order=(old new); fi
        for which in "${order[@]}"; do
            if [[ $which == new ]]; then bin=$new; else bin=$old; fi
            times[$which $case]+="$(sample "$bin" "$case" "$input" "$batch") "
        done
    done
done

echo "machine: $(machine); $runs runs of $batch invocations per case, the versions in turns, medians"
echo
echo "| $(basename "$input") | this version (ms) | $base (ms) | ratio |"
echo "|---|---:|---:|---:|"
for case in "${cases[@]}"; do
    a=$(echo "${times[new $case]}" | median)
    b=$(echo "${times[old $case]}" | median)
    echo "| $case | $a | $b | $(ratio "$a" "$b") |"
done
