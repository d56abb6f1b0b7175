#!/usr/bin/env bash
# End-to-end timings of the fan-out, in one run on this machine:
#   orchestrate (default, --no-prereact, --jobs 2, --mode thread and
#   serial), `xargs -P 26` over the
#   same 26 reduce children, GNU parallel when installed, and on a large
#   input the naive fan-out (26 children each reacting the whole original
#   input with a plain stack), and children through srun when a Slurm
#   cluster answers (SLURM_CONF; see scripts/slurm-local.sh). Prints a table of medians and ratios, and
#   reduce's peak memory against its input size.
#
# Needs bash, coreutils and the built binaries; installs nothing:
#   cargo build --release --examples && bash benches/compare.sh [UNITS] [RUNS]
# UNITS (default 100000000) sizes the large input; RUNS (default 11) is the
# number of timed runs per case on the 50k input (large-input cases run 3).
set -euo pipefail
cd "$(dirname "$0")/.."

units=${1:-100000000}
runs=${2:-11}
bin=target/release
for program in "$bin/orchestrate" "$bin/reduce" "$bin/examples/generate"; do
    if [[ ! -x $program ]]; then
        echo "compare.sh: $program is missing; run: cargo build --release --examples" >&2
        exit 1
    fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
letters=(a b c d e f g h i j k l m n o p q r s t u v w x y z)

# median_ms RUNS CMD...: runs CMD RUNS times (output discarded), prints the median wall time in ms.
median_ms() {
    local n=$1
    shift
    local times=()
    for ((i = 0; i < n; i++)); do
        local start end
        start=$(date +%s%N)
        "$@" > /dev/null
        end=$(date +%s%N)
        times+=($(((end - start) / 1000)))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] / 1000 }'
}

xargs_fanout() { # INPUT [EXTRA...]: 26 reduce children at once through xargs
    local input=$1
    shift
    printf '%s\n' "${letters[@]}" |
        xargs -P 26 -I{} "$bin/reduce" --letter {} --output "$work/xargs/{}.txt" --quiet "$@" "$input"
}

parallel_fanout() {
    local input=$1
    printf '%s\n' "${letters[@]}" |
        parallel -j 26 "$bin/reduce" --letter {} --output "$work/parallel/{}.txt" --quiet "$input"
}

naive_fanout() { # the 26 children each react the whole original input with a plain stack
    xargs_fanout "$1" --kernel plain-stack
}

rows=()
ms=
row() { # NAME BASELINE_MS RUNS CMD...: times CMD, adds a table row, leaves the median in $ms
    local name=$1 baseline=$2 n=$3
    shift 3
    ms=$(median_ms "$n" "$@")
    local ratio=1.00
    [[ $baseline != - ]] && ratio=$(awk -v a="$ms" -v b="$baseline" 'BEGIN { printf "%.2f", a / b }')
    rows+=("| $name | $ms | $ratio |")
}

mkdir -p "$work/xargs" "$work/parallel"
small=inputs/polymer-50k.txt
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo "50k input: $small; $runs runs per case"
row "xargs -P 26, 26 reduce children (baseline)" - "$runs" xargs_fanout "$small"
base=$ms
row "orchestrate" "$base" "$runs" "$bin/orchestrate" -q "$small"
row "orchestrate --no-prereact" "$base" "$runs" "$bin/orchestrate" -q --no-prereact "$small"
row "orchestrate --jobs 2" "$base" "$runs" "$bin/orchestrate" -q --jobs 2 "$small"
row "orchestrate --mode thread" "$base" "$runs" "$bin/orchestrate" -q --mode thread "$small"
row "orchestrate --mode serial" "$base" "$runs" "$bin/orchestrate" -q --mode serial "$small"
if timeout 5 sinfo -h > /dev/null 2>&1; then
    row "orchestrate --launcher 'srun --ntasks=1 --quiet' (local one-node Slurm)" "$base" "$runs" \
        "$bin/orchestrate" -q --launcher "srun --ntasks=1 --quiet" --results-dir "$work/srun" "$small"
else
    rows+=("| orchestrate through srun | no Slurm cluster answers (scripts/slurm-local.sh start) | - |")
fi
if command -v parallel > /dev/null; then
    row "GNU parallel -j 26" "$base" "$runs" parallel_fanout "$small"
else
    rows+=("| GNU parallel -j 26 | not installed | - |")
fi
echo
echo "| 50k-unit input | median ms | vs xargs |"
echo "|---|---:|---:|"
printf '%s\n' "${rows[@]}"

big=$work/big.txt
"$bin/examples/generate" --units "$units" --seed 1 > "$big"
rows=()
echo
echo "large input: $units units; 3 runs per case"
row "naive: xargs -P 26, each child reacts the original with a plain stack (baseline)" - 3 naive_fanout "$big"
naive=$ms
row "xargs -P 26, 26 reduce children (fast kernel, original input)" "$naive" 3 xargs_fanout "$big"
row "orchestrate" "$naive" 3 "$bin/orchestrate" -q "$big"
row "orchestrate --no-prereact" "$naive" 3 "$bin/orchestrate" -q --no-prereact "$big"
row "orchestrate --jobs 2" "$naive" 3 "$bin/orchestrate" -q --jobs 2 "$big"
row "orchestrate --mode thread" "$naive" 3 "$bin/orchestrate" -q --mode thread "$big"
row "orchestrate --mode serial" "$naive" 3 "$bin/orchestrate" -q --mode serial "$big"
echo
echo "| $units-unit input | median ms | vs naive |"
echo "|---|---:|---:|"
printf '%s\n' "${rows[@]}"

echo
if [[ -x /usr/bin/time ]]; then
    size=$(stat -c %s "$big")
    rss=$( { /usr/bin/time -f %M "$bin/reduce" --letter a -o - -q "$big"; } 2>&1)
    awk -v s="$size" -v r="$rss" 'BEGIN { printf "reduce peak RSS: %.1f MB for a %.1f MB input (%.3fx)\n", r / 1000, s / 1e6, r * 1000 / s }'
else
    echo "reduce peak RSS: skipped (/usr/bin/time not installed)"
fi
