#!/usr/bin/env bash
# End-to-end timings of the fan-out, in one run on this machine:
#   orchestrate (default, --no-prereact, --jobs 2, --mode thread and serial),
#   `xargs -P 26` over the same 26 reduce children, GNU parallel when
#   installed, children through srun when a Slurm cluster answers
#   (SLURM_CONF; see scripts/slurm-local.sh), and on a large input the naive
#   fan-out (26 children each reacting the whole original input with a plain
#   stack). Prints tables of medians and ratios to a baseline, and reduce's
#   peak memory against its input size.
#
# The cases of a table take turns, run after run, so a burst of load from
# elsewhere on a shared machine falls on all of them alike.
#
# Builds the binaries and the generator itself, and installs the peers it
# compares with when they are missing (GNU parallel from Debian's packages,
# rust-parallel with `cargo install --root target/peers`), so no case is
# skipped; the floor is 26 statically linked no-op programs through xargs:
#   bash benches/compare.sh [UNITS] [RUNS]
# UNITS (default 100000000) sizes the large input; RUNS (default 11) is the
# number of timed runs per case on the 50k input (large-input cases run 3).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

units=${1:-100000000}
runs=${2:-11}
bin=target/release
cargo build --locked --release --quiet --bins --examples
command -v parallel > /dev/null ||
    { apt-get update -qq > /dev/null && apt-get install -y -qq parallel > /dev/null; }
peers=$PWD/target/peers
[[ -x $peers/bin/rust-parallel ]] ||
    cargo install --quiet --locked --root "$peers" rust-parallel
mkdir -p "$peers/bin"
printf 'int main(void) { return 0; }\n' > "$peers/noop.c"
[[ -x $peers/bin/noop ]] || gcc -O2 -static -o "$peers/bin/noop" "$peers/noop.c"
command -v /usr/bin/time > /dev/null ||
    { apt-get update -qq > /dev/null && apt-get install -y -qq time > /dev/null; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/xargs" "$work/parallel" "$work/srun"
letters=(a b c d e f g h i j k l m n o p q r s t u v w x y z)

xargs_fanout() { # INPUT [EXTRA...]: 26 reduce children at once through xargs
    local input=$1
    shift
    printf '%s\n' "${letters[@]}" |
        xargs -P 26 -I{} "$bin/reduce" --letter {} --output "$work/xargs/{}.txt" --quiet "$@" "$input"
}
naive_fanout() { xargs_fanout "$1" --kernel plain-stack; }
parallel_fanout() {
    printf '%s\n' "${letters[@]}" |
        parallel -j 26 "$bin/reduce" --letter {} --output "$work/parallel/{}.txt" --quiet "$1"
}
rust_parallel_fanout() {
    printf '%s\n' "${letters[@]}" |
        "$peers/bin/rust-parallel" -j 26 -r '.*' "$bin/reduce" --letter {0} --output "$work/parallel/{0}.txt" --quiet "$1"
}
shell_fanout() {
    local l
    for l in "${letters[@]}"; do
        "$bin/reduce" --letter "$l" --output "$work/xargs/$l.txt" --quiet "$1" &
    done
    wait
}
floor() { # 26 statically linked no-op processes, 26 at once: what starting costs
    printf '%s\n' "${letters[@]}" | xargs -P 26 -I{} "$peers/bin/noop" {}
}
orchestrate() { "$bin/orchestrate" -q "$@" > /dev/null; }

# table TITLE RUNS INPUT 'LABEL => CMD'...: times each CMD (with INPUT appended)
# RUNS times, taking turns; the first is the baseline.
table() {
    local title=$1 n=$2 input=$3
    shift 3
    local labels=() commands=() k
    for spec in "$@"; do
        labels+=("${spec%% => *}")
        commands+=("${spec#* => }")
    done
    for ((r = 0; r < n; r++)); do
        for k in "${!commands[@]}"; do
            local start end
            start=$(date +%s%N)
            eval "${commands[$k]} \"\$input\"" > /dev/null
            end=$(date +%s%N)
            echo $(((end - start) / 1000)) >> "$work/times.$k"
        done
    done
    echo
    echo "| $title | median ms | ratio |"
    echo "|---|---:|---:|"
    local base=
    for k in "${!commands[@]}"; do
        local ms
        ms=$(printf '%.1f' "$(echo "$(median < "$work/times.$k") / 1000" | bc -l)")
        [[ -z $base ]] && base=$ms
        echo "| ${labels[$k]} | $ms | $(ratio "$ms" "$base") |"
        rm -f "$work/times.$k"
    done
}

echo "machine: $(machine)"

small=(
    "floor: 26 static no-op processes via xargs -P 26 (baseline) => floor"
    "orchestrate => orchestrate"
    "orchestrate --no-prereact => orchestrate --no-prereact"
    "orchestrate --jobs 2 => orchestrate --jobs 2"
    "orchestrate --mode thread => orchestrate --mode thread"
    "orchestrate --mode serial => orchestrate --mode serial"
    "orchestrate --mode sweep => orchestrate --mode sweep"
    "xargs -P 26, the same 26 reduce children => xargs_fanout"
    "a shell loop with & and wait, the same children => shell_fanout"
    "rust-parallel -j 26, the same children => rust_parallel_fanout"
    "GNU parallel -j 26, the same children => parallel_fanout"
)
table "50k-unit input, $runs runs" "$runs" inputs/polymer-50k.txt "${small[@]}"

# Through Slurm in a table of its own: its daemons' clean-up after each
# batch of jobs would otherwise weigh on whichever local case runs next.
if timeout 5 sinfo -h > /dev/null 2>&1; then
    table "50k-unit input through a one-node Slurm, 5 runs" 5 inputs/polymer-50k.txt \
        "orchestrate, local children (baseline) => orchestrate" \
        "orchestrate --launcher 'srun --ntasks=1 --quiet' => orchestrate --launcher 'srun --ntasks=1 --quiet' --results-dir \"\$work/srun\""
else
    echo "(no Slurm cluster answers: the srun table is skipped; see scripts/slurm-local.sh)"
fi

big=$work/big.txt
"$bin/examples/generate" --units "$units" --seed 1 > "$big"
table "$units-unit input, 3 runs" 3 "$big" \
    "naive: 26 children each react the original with a plain stack (baseline) => naive_fanout" \
    "xargs -P 26, 26 reduce children (fast kernel, original input) => xargs_fanout" \
    "orchestrate => orchestrate" \
    "orchestrate --no-prereact => orchestrate --no-prereact" \
    "orchestrate --jobs 2 => orchestrate --jobs 2" \
    "orchestrate --mode thread => orchestrate --mode thread" \
    "orchestrate --mode serial => orchestrate --mode serial" \
    "orchestrate --mode sweep => orchestrate --mode sweep" \
    "one plain full reaction: reduce -o - => \"\$bin/reduce\" -q -o -"

echo
if [[ -x /usr/bin/time ]]; then
    size=$(stat -c %s "$big")
    rss=$( { /usr/bin/time -f %M "$bin/reduce" --letter a -o - -q "$big"; } 2>&1)
    awk -v s="$size" -v r="$rss" 'BEGIN { printf "reduce peak RSS: %.1f MB for a %.1f MB input (%.3fx)\n", r / 1000, s / 1e6, r * 1000 / s }'
    for mode in process thread serial sweep; do
        rss=$( { /usr/bin/time -f %M "$bin/orchestrate" -q --mode "$mode" "$big" > /dev/null; } 2>&1)
        awk -v s="$size" -v r="$rss" -v m="$mode" 'BEGIN { printf "orchestrate --mode %s peak RSS: %.1f MB for a %.1f MB input (%.3fx)\n", m, r / 1000, s / 1e6, r * 1000 / s }'
    done
fi
