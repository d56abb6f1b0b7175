# shellcheck shell=bash
# Helpers the benchmark scripts share; sourced, not run.

# The median of the numbers on standard input (one or more per line).
median() { tr -s ' \t' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# A / B with two decimals: `ratio A B`.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# One line naming this machine: cores, CPU model, kernel.
machine() { echo "$(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(uname -sr)"; }
