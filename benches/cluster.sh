#!/usr/bin/env bash
# The 50k job three ways on the local Slurm cluster: 26 local children, 26
# `srun` jobs, and one job array (`--sbatch`). Cases take turns, run after
# run; prints the median wall time of each and its ratio to the 26 srun
# jobs.
#
#   sudo bash scripts/slurm-local.sh start --nodes 3
#   SLURM_CONF=/tmp/polymer-fanout-slurm/slurm.conf bash benches/cluster.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

runs=${1:-5}
cargo build --locked --release --quiet
: "${SLURM_CONF:=/tmp/polymer-fanout-slurm/slurm.conf}"
export SLURM_CONF
sinfo -h -o %T > /dev/null || { echo "cluster.sh: no Slurm cluster answers" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
orchestrate=$PWD/target/release/orchestrate
input=$PWD/inputs/polymer-50k.txt

declare -A cases=(
    [local]="$orchestrate -q $input"
    [srun]="$orchestrate -q --launcher 'srun --ntasks=1 --quiet' --results-dir $work/srun $input"
    [array]="$orchestrate -q --sbatch --results-dir $work/array $input"
)
order=(local srun array)
# Every case starts on an idle node: jobs of the case before it may still
# be completing, and would hold the node for the next one.
settle() {
    for _ in $(seq 100); do
        [[ -z $(squeue -h) && $(sinfo -h -o %T) == idle ]] && return
        sleep 0.1
    done
}
declare -A times
for ((r = 0; r < runs; r++)); do
    # The order turns each run, so that no case always follows the same one
    # (right after a burst of jobs, the controller is slower to start the
    # next: the first array task started 2.9 s after submission following
    # 26 srun jobs, 0.5-0.7 s on a quiet controller).
    turn=("${order[@]:r%3}" "${order[@]:0:r%3}")
    for name in "${turn[@]}"; do
        settle
        start=$(date +%s%N)
        answer=$(eval "${cases[$name]}")
        end=$(date +%s%N)
        [[ $answer == 3190 ]] || { echo "cluster.sh: $name answered '$answer'" >&2; exit 1; }
        times[$name]+="$(((end - start) / 1000)) "
    done
done
base=$(echo "${times[srun]}" | median)
echo "machine: $(machine); $runs runs per case"
nodes=$(sinfo -h -N -o %N | wc -l)
printf '| %-34s | %9s | %7s | %s |\n' "50k input, $nodes-node Slurm" "median ms" "vs srun" "all runs (ms)"
printf '|%s|%s|%s|%s|\n' "---" "---:" "---:" "---"
for name in "${order[@]}"; do
    m=$(echo "${times[$name]}" | median)
    all=$(for t in ${times[$name]}; do printf '%.0f ' "$(echo "$t / 1000" | bc -l)"; done)
    label=$(case $name in local) echo "26 local children" ;; srun) echo "26 srun jobs (--launcher srun)" ;; array) echo "one job array (--sbatch)" ;; esac)
    printf '| %-34s | %9.1f | %7.2f | %s|\n' "$label" "$(echo "$m / 1000" | bc -l)" "$(echo "$m / $base" | bc -l)" "$all"
done
