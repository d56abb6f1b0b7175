#!/usr/bin/env bash
# The 50k fan-out of the Windows build under Wine, beside its floor: the
# same orchestrate.exe starting 26 children of a program that does nothing
# (the stand-in for reduce, told to exit at once without a result, with
# --keep-going so that all 26 start), each through the same job object and
# spawn as a real child. What the fan-out costs above that floor is the
# work; the floor is what starting a process costs there (Windows' process
# start, about 30 ms under Wine, is far above Linux's). Taken in turns;
# medians.
#
# usage: bash benches/windows.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

runs=${1:-11}
prefix=$(mktemp -d /tmp/wine-prefix.XXXXXX)
trap 'WINEPREFIX=$prefix /usr/lib/wine/wineserver -k 2> /dev/null || true; rm -rf "$prefix"' EXIT
eval "$(bash scripts/wine-setup.sh "$prefix")"
target=x86_64-pc-windows-gnu
cargo build --release --locked --quiet --target "$target" --bins --examples
bin=target/$target/release
wine=$WINE
# A server kept up for the whole run, as on a desktop where Windows is up.
/usr/lib/wine/wineserver -p

# The time in ms of one run of orchestrate.exe with `args`.
sample() {
    local start end
    start=$EPOCHREALTIME
    "$wine" "$bin/orchestrate.exe" "$@" > /dev/null 2>&1 || true
    end=$EPOCHREALTIME
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", (e - s) * 1000 }'
}

fanout=() floor=()
for ((run = 0; run < runs; run++)); do
    for which in fanout floor; do
        if [[ $which == fanout ]]; then
            fanout+=("$(sample -q inputs/polymer-50k.txt)")
        else
            floor+=("$(FAULT_ALL=nowrite sample -q --keep-going \
                --reduce-bin "$bin/examples/faulty-reduce.exe" inputs/polymer-50k.txt)")
        fi
    done
done
a=$(echo "${fanout[*]}" | median)
b=$(echo "${floor[*]}" | median)
echo "machine: $(machine); Wine $($wine --version 2> /dev/null || echo 8); $runs runs each, in turns, medians"
echo
echo "| under Wine, 50k input | ms |"
echo "|---|---:|"
echo "| orchestrate.exe, 26 reduce.exe children | $a |"
echo "| floor: 26 children that do nothing, started the same way | $b |"
echo "| the fan-out over its floor | $(ratio "$a" "$b") |"
