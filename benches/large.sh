#!/usr/bin/env bash
# Every way to run the whole job, against the memory floor: reading the
# input once (`cat INPUT > /dev/null`), measured in the same run, the cases
# taking turns. For each input size: the median wall time and its ratio to
# the floor, user and system time, peak memory against the input's size,
# and minor page faults. Writes the figures to benches/large.csv and draws
# them (benches/chart.py) as benches/large.svg.
#
#   bash benches/large.sh [RUNS] [SIZES...]
#   default: 5 runs of 1 MB, 10 MB, 100 MB and 1 GB generated inputs
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

runs=${1:-5}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000 100000000 1000000000)
cargo build --locked --release --quiet --bins --examples
command -v /usr/bin/time > /dev/null ||
    { apt-get update -qq > /dev/null && apt-get install -y -qq time > /dev/null; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$PWD/target/release
csv=benches/large.csv

echo "machine: $(machine); $runs runs per case, cases in turns, medians"
echo "size,case,wall_ms,ratio_to_cat,user_s,sys_s,peak_kb,minor_faults" > "$csv"
for units in "${sizes[@]}"; do
    big=$work/input.txt
    ./target/release/examples/generate --units "$units" --seed 1 > "$big"
    cases=(
        "cat (reading the input once)|cat $big"
        "reduce -q -o - (full reaction)|$bin/reduce -q -o - $big"
        "orchestrate --mode sweep|$bin/orchestrate -q --mode sweep $big"
        "orchestrate (process mode: 26 children)|$bin/orchestrate -q $big"
        "orchestrate --mode thread|$bin/orchestrate -q --mode thread $big"
    )
    declare -A wall=() user=() sys=() peak=() faults=()
    for ((r = 0; r < runs; r++)); do
        for k in "${!cases[@]}"; do
            command=${cases[$k]#*|}
            start=$(date +%s%N)
            /usr/bin/time -o "$work/time" -f '%U %S %M %R' $command > /dev/null
            end=$(date +%s%N)
            read -r u s m f < "$work/time"
            wall[$k]+="$(((end - start) / 1000)) "
            user[$k]+="$u "
            sys[$k]+="$s "
            peak[$k]+="$m "
            faults[$k]+="$f "
        done
    done
    size=$(stat -c %s "$big")
    floor=$(echo "${wall[0]}" | median)
    echo
    echo "| $units units ($(awk -v s="$size" 'BEGIN { printf "%.0f MB", s / 1e6 }')) | median ms | x cat | user s | sys s | peak MB (x input) | minor faults |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for k in "${!cases[@]}"; do
        w=$(echo "${wall[$k]}" | median)
        m=$(echo "${peak[$k]}" | median)
        u=$(echo "${user[$k]}" | median)
        s=$(echo "${sys[$k]}" | median)
        f=$(echo "${faults[$k]}" | median)
        x=$(ratio "$w" "$floor")
        awk -v c="${cases[$k]%%|*}" -v w="$w" -v x="$x" -v u="$u" -v s="$s" -v m="$m" -v f="$f" -v z="$size" \
            'BEGIN { printf "| %s | %.1f | %s | %s | %s | %.1f (%.2fx) | %d |\n", c, w / 1000, x, u, s, m / 1000, m * 1000 / z, f }'
        echo "$size,${cases[$k]%%|*},$(awk -v w="$w" 'BEGIN { printf "%.3f", w / 1000 }'),$x,$u,$s,$m,$f" >> "$csv"
    done
    unset wall user sys peak faults
done
python3 benches/chart.py "$csv" benches/large.svg
echo
echo "figures: $csv; chart: benches/large.svg"
