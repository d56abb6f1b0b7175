#!/usr/bin/env bash
# How long orchestrate takes to stop after a stop signal, in every phase of
# a run: blocked reading a pipe, reading and validating a large file,
# reacting it, writing the children's copy, supervising children. Prints the
# median of a few tries per case, in milliseconds, from the signal to the
# exit (status 128 + n, temporary files removed).
#
#   bash benches/stop-latency.sh [UNITS]   # default 1000000000 (a 1 GB input)
set -euo pipefail
cd "$(dirname "$0")/.."

units=${1:-1000000000}
cargo build --locked --release --quiet
cargo build --locked --release --quiet --example generate
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
big=$work/big.txt
echo "generating $units units..." >&2
./target/release/examples/generate --units "$units" --seed 7 > "$big"
orchestrate=$PWD/target/release/orchestrate
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# One try: start orchestrate (via `$@`), send SIGNAL after DELAY seconds,
# print the milliseconds from the signal to the exit.
try() {
    local signal=$1 delay=$2
    shift 2
    mkdir -p "$work/tmp"
    TMPDIR=$work/tmp "$@" > /dev/null 2>&1 &
    local pid=$!
    sleep "$delay"
    local sent
    sent=$(now_ms)
    kill -s "$signal" "$pid" 2> /dev/null || true
    local status=0
    wait "$pid" || status=$?
    local took=$(($(now_ms) - sent))
    if [[ -n $(ls -A "$work/tmp") ]]; then
        echo "temporary files left behind after $signal" >&2
        exit 1
    fi
    echo "$took $status"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

report() {
    local name=$1 signal=$2 delay=$3
    shift 3
    local results
    results=$(for _ in 1 2 3 4 5; do try "$signal" "$delay" "$@"; done)
    printf '%-52s %-8s %6s ms  (exit %s)\n' "$name" "$signal" \
        "$(echo "$results" | awk '{print $1}' | median)" \
        "$(echo "$results" | awk '{print $2}' | sort -u | tr '\n' ' ')"
}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs" >&2
printf '%-52s %-8s %9s\n' "phase (signal sent after)" "signal" "to exit"
mkfifo "$work/fifo"
for signal in INT TERM HUP QUIT; do
    report "opening a FIFO that has no writer (0.2 s)" "$signal" 0.2 \
        "$orchestrate" "$work/fifo"
done
for delay in 0.1 0.4 0.8 1.5; do
    report "$units-unit file, ${delay} s into the run" TERM "$delay" \
        "$orchestrate" --no-prereact "$big"
done
report "26 hanging children (0.5 s)" TERM 0.5 env FAULT_ALL=hang PID_LOG=/dev/null \
    REAL_REDUCE=target/release/reduce "$orchestrate" \
    --reduce-bin tests/fixtures/faulty-reduce.sh inputs/example.txt
