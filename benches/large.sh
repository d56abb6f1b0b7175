#!/usr/bin/env bash
# Every way to run the whole job, against the memory floor: reading the
# input once (`cat INPUT > /dev/null`), measured in the same run, the cases
# taking turns. Each mode runs with the input named by path and on standard
# input. For each input size: the median wall time and its ratio to the
# floor, user and system time, minor page faults, the peak memory of the
# whole run against the input's size, and the share of the kernel's page
# clearing in `perf record -e cpu-clock` profiles (the median of RUNS
# profiles, made after the timed runs). Writes the figures to
# benches/large.csv and draws them (benches/chart.py) as benches/large.svg.
#
#   bash benches/large.sh [RUNS] [SIZES...]
#   default: 5 runs of 1 MB, 10 MB, 100 MB and 1 GB generated inputs
#
#   HUGE=never|madvise|always   transparent huge pages for the run (root;
#                               the setting is put back afterwards); the
#                               figures go to large-$HUGE.csv and .svg
#
# Peak memory of the whole run: the high-water mark of a memory cgroup
# made for each run (v2 memory.peak or v1 memory.max_usage_in_bytes), so
# the children and orchestrate's in-memory file count, at the same time;
# where no cgroup can be made, the largest single process's peak, marked
# "(one process)". Page clearing: the samples in the kernel's clear_page
# functions, out of all the run's samples, children included (`-` without
# perf). The "on stdin" cases redirect the file: a pipe is not measured.
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
thp=/sys/kernel/mm/transparent_hugepage/enabled
thp_before=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp" 2> /dev/null || echo unknown)
group_parent=
cleanup() {
    [ -z "$group_parent" ] || rmdir "$group_parent"/large-bench-$$-* 2> /dev/null || true
    [ -z "${HUGE:-}" ] || echo "$thp_before" 2> /dev/null > "$thp" || true
    rm -rf "$work"
}
trap cleanup EXIT
if [ -n "${HUGE:-}" ]; then
    echo "$HUGE" 2> /dev/null > "$thp" ||
        { echo "large.sh: cannot set $thp to $HUGE here (it stays $thp_before)" >&2; exit 1; }
fi
bin=$PWD/target/release
# A run with huge pages set keeps its figures apart from the default's.
csv=benches/large${HUGE:+-$HUGE}.csv
svg=benches/large${HUGE:+-$HUGE}.svg

# Sets `group` to a new memory cgroup for one run: one that has a peak to
# read and that a process may enter; empty where none can be made (no
# memory controller for it, no permission).
new_cgroup() {
    local own
    group=
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        own=$(sed -n 's/^0:://p' /proc/self/cgroup)
        group_parent=/sys/fs/cgroup${own%/}
    else
        own=$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)
        group_parent=/sys/fs/cgroup/memory${own%/}
    fi
    local made=$group_parent/large-bench-$$-$1
    mkdir "$made" 2> /dev/null || return 0
    if { [ -f "$made/memory.peak" ] || [ -f "$made/memory.max_usage_in_bytes" ]; } &&
        sh -c 'echo $$ 2> /dev/null > "$0/cgroup.procs"' "$made"; then
        group=$made
    else
        rmdir "$made" 2> /dev/null || true
    fi
}

# The peak of a cgroup in KB.
cgroup_peak_kb() {
    local file=$1/memory.peak
    [ -f "$file" ] || file=$1/memory.max_usage_in_bytes
    echo $(($(cat "$file") / 1024))
}

# Runs one case: `run_case CGROUP STDIN COMMAND...` (STDIN a file or "");
# its timing goes to $work/time.
run_case() {
    local group=$1 stdin=$2
    shift 2
    local enter=()
    # The command enters the cgroup itself before it is executed.
    # shellcheck disable=SC2016 # $$ and $@ are the inner shell's
    [ -z "$group" ] || enter=(sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$group")
    if [ -n "$stdin" ]; then
        /usr/bin/time -o "$work/time" -f '%U %S %M %R' "${enter[@]}" "$@" < "$stdin" > /dev/null
    else
        /usr/bin/time -o "$work/time" -f '%U %S %M %R' "${enter[@]}" "$@" < /dev/null > /dev/null
    fi
}

# The share in % of clear_page samples in a cpu-clock profile of COMMAND;
# `-` without perf, or where it may not see the kernel's samples.
clearing_share() {
    local stdin=$1
    shift
    command -v perf > /dev/null || { echo -; return; }
    [ "$(id -u)" = 0 ] || [ "$(cat /proc/sys/kernel/perf_event_paranoid 2> /dev/null || echo 2)" -le 1 ] ||
        { echo -; return; }
    perf record -q -e cpu-clock -o "$work/perf.data" -- "$@" < "${stdin:-/dev/null}" > /dev/null 2>&1 ||
        { echo -; return; }
    perf report -i "$work/perf.data" --no-children --sort sym --stdio 2> /dev/null |
        awk '/%/ && !/^#/ { gsub("%", "", $1); all += $1; if ($0 ~ /clear_page/) c += $1 }
             END { if (all > 0) printf "%.1f", c * 100 / all; else print "-" }'
}

echo "machine: $(machine); transparent huge pages: $(sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp" 2> /dev/null || echo unknown)"
echo "$runs runs per case, cases in turns, medians"
echo "size,case,wall_ms,ratio_to_cat,user_s,sys_s,peak_kb,minor_faults,clear_page_pct" > "$csv"
for units in "${sizes[@]}"; do
    big=$work/input.txt
    ./target/release/examples/generate --units "$units" --seed 1 > "$big"
    # label|stdin|command: a stdin case reads `-` with the input redirected.
    cases=(
        "cat (reading the input once)||cat $big"
        "reduce -q -o - (full reaction)||$bin/reduce -q -o - $big"
        "reduce on stdin|$big|$bin/reduce -q -o - -"
        "orchestrate --mode sweep||$bin/orchestrate -q --mode sweep $big"
        "orchestrate --mode sweep on stdin|$big|$bin/orchestrate -q --mode sweep -"
        "orchestrate (process mode: 26 children)||$bin/orchestrate -q $big"
        "orchestrate (process mode) on stdin|$big|$bin/orchestrate -q -"
        "orchestrate --mode thread||$bin/orchestrate -q --mode thread $big"
        "orchestrate --mode thread on stdin|$big|$bin/orchestrate -q --mode thread -"
    )
    declare -A wall=() user=() sys=() peak=() faults=()
    one_process=
    for ((r = 0; r < runs; r++)); do
        for k in "${!cases[@]}"; do
            spec=${cases[$k]#*|}
            stdin=${spec%%|*}
            read -r -a command <<< "${spec#*|}"
            new_cgroup "$k-$r"
            start=$(date +%s%N)
            run_case "$group" "$stdin" "${command[@]}"
            end=$(date +%s%N)
            read -r u s m f < "$work/time"
            if [ -n "$group" ]; then
                m=$(cgroup_peak_kb "$group")
                rmdir "$group" 2> /dev/null || true
            else
                one_process=" (one process)"
            fi
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
    echo "| $units units ($(awk -v s="$size" 'BEGIN { printf "%.0f MB", s / 1e6 }')) | median ms | x cat | user s | sys s | peak MB (x input)$one_process | minor faults | clear_page % |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for k in "${!cases[@]}"; do
        spec=${cases[$k]#*|}
        read -r -a command <<< "${spec#*|}"
        # One profile's share moves by a factor of five from run to run on
        # a virtual machine (the host's cost of fresh memory): the median
        # of as many profiles as timed runs.
        shares=""
        for ((r = 0; r < runs; r++)); do
            shares+="$(clearing_share "${spec%%|*}" "${command[@]}") "
        done
        case $shares in
            *-*) share=- ;;
            *) share=$(echo "$shares" | median) ;;
        esac
        w=$(echo "${wall[$k]}" | median)
        m=$(echo "${peak[$k]}" | median)
        u=$(echo "${user[$k]}" | median)
        s=$(echo "${sys[$k]}" | median)
        f=$(echo "${faults[$k]}" | median)
        x=$(ratio "$w" "$floor")
        awk -v c="${cases[$k]%%|*}" -v w="$w" -v x="$x" -v u="$u" -v s="$s" -v m="$m" -v f="$f" -v z="$size" -v p="$share" \
            'BEGIN { printf "| %s | %.1f | %s | %s | %s | %.1f (%.2fx) | %d | %s |\n", c, w / 1000, x, u, s, m / 1000, m * 1000 / z, f, p }'
        echo "$size,${cases[$k]%%|*},$(awk -v w="$w" 'BEGIN { printf "%.3f", w / 1000 }'),$x,$u,$s,$m,$f,$share" >> "$csv"
    done
    unset wall user sys peak faults
done
python3 benches/chart.py "$csv" "$svg"
echo
echo "figures: $csv; chart: $svg"
