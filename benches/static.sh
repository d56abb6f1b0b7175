#!/usr/bin/env bash
# The static build (x86_64-unknown-linux-musl, for cluster nodes with any C
# library) against the usual glibc build, on the 50k input and on a 1 GB
# one: musl's allocator is the suspect, so the cases are the whole job in
# process and thread mode and one reduce. The two builds take turns, in
# alternating order; the table gives medians.
#
# usage: bash benches/static.sh [RUNS] [UNITS]
#   e.g. bash benches/static.sh 5 1000000000
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

runs=${1:-5}
units=${2:-1000000000}
musl=x86_64-unknown-linux-musl
rustup target list --installed | grep -qx "$musl" || rustup target add "$musl" > /dev/null
cargo build --release --locked --quiet
cargo build --release --locked --quiet --target "$musl"
glibc_bin=target/release
musl_bin=target/$musl/release

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
large=$work/large.txt
cargo run --release --locked --quiet --example generate -- --units "$units" --seed 1 > "$large"

cases=(
    "orchestrate -q"
    "orchestrate -q --mode thread"
    "reduce -q -o - --letter t"
)

echo "machine: $(machine); $runs runs per case, the builds in turns, medians"
for input in inputs/polymer-50k.txt "$large"; do
    batch=1
    [[ $input == "$large" ]] || batch=20
    declare -A times=()
    for ((run = 0; run < runs; run++)); do
        for case in "${cases[@]}"; do
            if ((run % 2 == 0)); then order=(glibc musl); else order=(musl glibc); fi
            for which in "${order[@]}"; do
                if [[ $which == glibc ]]; then bin=$glibc_bin; else bin=$musl_bin; fi
                times[$which $case]+="$(sample "$bin" "$case" "$input" "$batch") "
            done
        done
    done
    name=$(basename "$input")
    [[ $input == "$large" ]] && name="$units units"
    echo
    echo "| $name | glibc (ms) | musl, static (ms) | musl / glibc |"
    echo "|---|---:|---:|---:|"
    for case in "${cases[@]}"; do
        a=$(echo "${times[glibc $case]}" | median)
        b=$(echo "${times[musl $case]}" | median)
        echo "| $case | $a | $b | $(ratio "$b" "$a") |"
    done
done
