#!/usr/bin/env bash
# What one child costs to start, and what a statically linked `reduce`
# would save (x86_64 Linux):
#   1. one process at a time, RUNS runs of a loop of 100 in turns, per run:
#      a statically linked C no-op (the floor's program), `reduce --version`,
#      a child's job (one letter of the reacted 50k polymer, a new result
#      file written) and the same job without the file (`-o -`);
#   2. `orchestrate -q` on the 50k input with a copy of the dynamically
#      linked `reduce` and with a statically linked one (`-C target-feature=
#      +crt-static`, built into target/static), both named with --reduce-bin
#      so both are started the same way (fork, death signal set before
#      exec), and with its default, the `reduce` beside it (posix_spawn),
#      in turns.
#
#   bash benches/startup.sh [RUNS]    # default 11
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

runs=${1:-11}
cargo build --locked --release --quiet --bins
peers=$PWD/target/peers
mkdir -p "$peers/bin"
printf 'int main(void) { return 0; }\n' > "$peers/noop.c"
[[ -x $peers/bin/noop ]] || gcc -O2 -static -o "$peers/bin/noop" "$peers/noop.c"
# A statically linked reduce needs the target named: with it, cargo builds
# proc-macros (clap's derive) for the host without the static flag.
RUSTFLAGS="-C target-feature=+crt-static" cargo build --locked --release --quiet \
    --bin reduce --target x86_64-unknown-linux-gnu --target-dir target/static
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/dynamic" "$work/static" "$work/out"
cp target/release/reduce "$work/dynamic/reduce"
cp target/static/x86_64-unknown-linux-gnu/release/reduce "$work/static/reduce"
reduce=$PWD/target/release/reduce
# The reacted polymer, as orchestrate hands it (here as a plain file).
reacted=$work/reacted.txt
python3 - "$reacted" << 'EOF'
import sys
units = open("inputs/polymer-50k.txt", "rb").read().strip()
stack = []
for u in units:
    if stack and stack[-1] ^ u == 0x20:
        stack.pop()
    else:
        stack.append(u)
open(sys.argv[1], "wb").write(bytes(stack) + b"\n")
EOF

runs_done=0
loop() { # CMD...: 100 runs, prints microseconds per run; `{}` in CMD is
    # replaced by a number never used before (a fresh result path, as
    # orchestrate gives every attempt)
    local start end i
    start=$(date +%s%N)
    for ((i = 0; i < 100; i++)); do
        runs_done=$((runs_done + 1))
        "${@//\{\}/$runs_done}" > /dev/null
    done
    end=$(date +%s%N)
    echo $(((end - start) / 100000))
}

labels=(
    "static C no-op (baseline)"
    "reduce --version"
    "reduce, a child's job (result file written)"
    "reduce, the same job with -o -"
)
commands=(
    "$peers/bin/noop"
    "$reduce --version"
    "$reduce --letter a --output $work/out/a.{}.txt --quiet $reacted"
    "$reduce --letter a --output - --quiet $reacted"
)
for ((r = 0; r < runs; r++)); do
    for k in "${!commands[@]}"; do
        # shellcheck disable=SC2086 # the commands are word lists
        loop ${commands[$k]} >> "$work/times.$k"
        rm -f "$work"/out/*
    done
done
# table TITLE UNIT DIVISOR FORMAT (LABEL FILE)...: the median of the
# microseconds in each FILE, divided by DIVISOR and printed with FORMAT, and
# its ratio to the first.
table() {
    local title=$1 unit=$2 divisor=$3 format=$4
    shift 4
    local base m
    base=$(median < "$2")
    echo
    echo "| $title | median $unit | ratio |"
    echo "|---|---:|---:|"
    while (($# > 0)); do
        m=$(median < "$2")
        printf '| %s | %s | %s |\n' "$1" "$(awk -v m="$m" -v d="$divisor" -v f="$format" 'BEGIN { printf f, m / d }')" "$(ratio "$m" "$base")"
        shift 2
    done
}

echo "machine: $(machine)"
rows=()
for k in "${!commands[@]}"; do
    rows+=("${labels[$k]}" "$work/times.$k")
done
table "one process at a time, $runs runs of 100" "µs per run" 1 %d "${rows[@]}"

kinds=(dynamic static default)
declare -A kind_label=(
    [dynamic]="--reduce-bin, a copy of reduce (fork, death signal set before exec) (baseline)"
    [static]="--reduce-bin, a statically linked reduce (the same)"
    [default]="the reduce beside orchestrate (posix_spawn, reduce sets its death signal)"
)
for ((r = 0; r < runs; r++)); do
    for kind in "${kinds[@]}"; do
        bin=()
        [[ $kind == default ]] || bin=(--reduce-bin "$work/$kind/reduce")
        start=$(date +%s%N)
        target/release/orchestrate -q "${bin[@]}" inputs/polymer-50k.txt > /dev/null
        end=$(date +%s%N)
        echo $(((end - start) / 1000)) >> "$work/orchestrate.$kind"
    done
done
rows=()
for kind in "${kinds[@]}"; do
    rows+=("${kind_label[$kind]}" "$work/orchestrate.$kind")
done
table "orchestrate -q, 50k input, $runs runs" ms 1000 %.1f "${rows[@]}"
