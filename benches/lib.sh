# shellcheck shell=bash
# Helpers the benchmark scripts share; sourced, not run.

# The median of the numbers on standard input (one or more per line).
median() { tr -s ' \t' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# A / B with two decimals: `ratio A B`.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# The mean time in ms of `batch` runs of one case: `sample BIN "PROGRAM ARGS" INPUT BATCH`
# runs BIN/PROGRAM ARGS INPUT, its output thrown away.
sample() {
    local bin=$1 case=$2 input=$3 batch=$4 start end i words
    read -r -a words <<< "$case"
    start=$EPOCHREALTIME
    for ((i = 0; i < batch; i++)); do
        "$bin/${words[0]}" "${words[@]:1}" "$input" > /dev/null
    done
    end=$EPOCHREALTIME
    awk -v s="$start" -v e="$end" -v n="$batch" 'BEGIN { printf "%.3f", (e - s) * 1000 / n }'
}

# One line naming this machine: cores, CPU model, kernel.
machine() { echo "$(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(uname -sr)"; }
