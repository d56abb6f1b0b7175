#!/usr/bin/env bash
# Runs the tests that start, stop and kill processes many times over, to
# catch what a single run rarely shows: flaky failures, and processes or
# temporary files left behind.
#
#   sudo scripts/stress.sh --slurm 20      # 20 x: fresh 3-node cluster, tests/slurm.rs and node_loss.rs, stop
#   scripts/stress.sh --faults 50          # 50 x: tests/signals.rs, orchestrate.rs, trust.rs, resume.rs, hostile.rs
#   scripts/stress.sh --chaos 100          # 100 x: a --results-dir run SIGKILLed at a random moment, then --resume
#   scripts/stress.sh --chaos 100 --seed 4242   # the same rounds again
#   sudo scripts/stress.sh --slurm 5 --faults 20
#
# A chaos round starts `orchestrate --results-dir` on a generated input
# and, at a moment drawn from the run's seed, SIGKILLs orchestrate (two
# rounds in three) or one of its reduce children (the others); then
# `orchestrate --resume` on the same folder must print the exact answer,
# and nothing may be left: no process, nothing in TMPDIR, nothing in the
# results folder but the 26 results and the record. The seed is printed
# first, so a failing sequence can be replayed with --seed.
#
# Each round prints one line (`slurm round 3/20: pass (41 s)`, or `fail`
# with the failing tests), then the first few leftovers it found. The last
# lines are `stress: N passed, K failed` and `leaks: none` (or their count
# and one line per leaking round); the exit status is non-zero if a round
# failed or anything leaked. The output of failing or leaking rounds (for
# --slurm with the daemons' logs) and every leftover go to a log under
# target/stress/, whose path is printed.
#
# Leftovers, looked for after each round once its tests have had a few
# seconds to finish stopping:
# - processes of the round still alive: those carrying the round's marker
#   in their environment (cargo gets it, and every child inherits it,
#   through srun too), and orphans (parent init) whose command line matches
#   faulty-reduce|sleep 100N|/reduce |orchestrate that were not there before.
#   Both are killed and counted as leaks. The marker, rather than every new
#   process that matches, so that someone else's tests running at the same
#   time are neither blamed nor killed;
# - with --slurm: jobs still in squeue, a node not back to idle, and
#   processes that `slurm-local.sh stop` had to kill in the job cgroups;
# - temporary files: the round runs with TMPDIR set to a folder of its own
#   under /tmp, and anything left in it counts; so do /tmp/orchestrate-*
#   and /tmp/.tmp* entries (something that ignored TMPDIR) and .partial-*
#   files anywhere under /tmp that appeared during a round and are still
#   there at the end of the run (tests running elsewhere on the machine
#   make and remove such entries too, so the end decides, not the round).
#
# Needs the test binaries (it runs `cargo test --locked --no-run` first);
# --slurm needs root, for scripts/slurm-local.sh.
set -euo pipefail

cd "$(dirname "$0")/.."

usage() {
    echo "usage: $0 [--slurm N] [--faults M] [--chaos K [--seed S]]" >&2
    exit 2
}

slurm_rounds=0
fault_rounds=0
chaos_rounds=0
seed=$((RANDOM * 32768 + RANDOM))
while [[ $# -gt 0 ]]; do
    case $1 in
        --slurm) [[ $# -ge 2 ]] || usage; slurm_rounds=$2; shift 2 ;;
        --faults) [[ $# -ge 2 ]] || usage; fault_rounds=$2; shift 2 ;;
        --chaos) [[ $# -ge 2 ]] || usage; chaos_rounds=$2; shift 2 ;;
        --seed) [[ $# -ge 2 ]] || usage; seed=$2; shift 2 ;;
        -h | --help) usage ;;
        *) usage ;;
    esac
done
[[ $slurm_rounds =~ ^[0-9]+$ && $fault_rounds =~ ^[0-9]+$ && $chaos_rounds =~ ^[0-9]+$ && $seed =~ ^[0-9]+$ ]] || usage
((slurm_rounds + fault_rounds + chaos_rounds > 0)) || usage
if ((slurm_rounds > 0)) && [[ $(id -u) -ne 0 ]]; then
    echo "stress: --slurm needs root (scripts/slurm-local.sh starts the daemons)" >&2
    exit 2
fi

# A hung round would hang the whole run: give each one a deadline.
round_timeout=${STRESS_ROUND_TIMEOUT:-900}
slurm_conf=/tmp/polymer-fanout-slurm/slurm.conf
pattern='faulty-reduce|sleep 100[0-9]|/reduce |orchestrate'
marker=polymer-stress-$$
tmp_root=/tmp/$marker
log_dir=${CARGO_TARGET_DIR:-target}/stress
log=$log_dir/stress-$(date +%Y%m%d-%H%M%S)-$$.log
round_out=$tmp_root/round.out
mkdir -p "$log_dir" "$tmp_root"

say() { echo "stress: $*" >&2; }

cleanup() {
    if ((slurm_rounds > 0)); then
        bash scripts/slurm-local.sh stop > /dev/null 2>&1 || true
    fi
    rm -rf "$tmp_root"
}
trap cleanup EXIT

# The fields of /proc/PID/stat after the command name, into the array
# `fields`: [0] state, [1] parent, [19] start time.
read_stat() {
    local stat
    { stat=$(< "/proc/$1/stat"); } 2> /dev/null || return 1
    read -ra fields <<< "${stat##*) }"
}

# Matching processes alive now as "pid starttime" (a pid alone may be
# reused), for the "not there before" test.
matching_keys() {
    local proc pid args fields
    for proc in /proc/[0-9]*; do
        pid=${proc#/proc/}
        read_stat "$pid" || continue
        args=$(tr '\0' ' ' 2> /dev/null < "$proc/cmdline") || continue
        if [[ $args =~ $pattern ]]; then
            echo "$pid ${fields[19]}"
        fi
    done
}

# Leftover processes of the round, one "pid args" line each: not zombies
# (this machine's init reaps late, and a zombie holds nothing), and either
# carrying the marker or an orphan that matches and was not in $baseline.
leftover_processes() {
    local proc pid args fields
    for proc in /proc/[0-9]*; do
        pid=${proc#/proc/}
        if [[ $pid == "$$" || $pid == "$BASHPID" ]] || ! read_stat "$pid" || [[ ${fields[0]} == Z ]]; then
            continue
        fi
        args=$(tr '\0' ' ' 2> /dev/null < "$proc/cmdline") || continue
        if grep -qz "^STRESS_MARK=$marker\$" "$proc/environ" 2> /dev/null; then
            echo "$pid $args"
        elif [[ ${fields[1]} == 1 && $args =~ $pattern ]] && ! grep -qxF "$pid ${fields[19]}" <<< "$baseline"; then
            echo "$pid $args"
        fi
    done
}

# Entries of /tmp (depth 1) that tests or orchestrate name, and every
# .partial-* file under /tmp.
tmp_listing() {
    find /tmp -mindepth 1 -maxdepth 1 \( -name 'orchestrate-*' -o -name '.tmp*' \) 2> /dev/null || true
    find /tmp -xdev -name '.partial-*' 2> /dev/null || true
}

# Failing tests in cargo's output as binary::name, or why there are none.
failing_tests() {
    local names
    names=$(awk '
        $1 == "Running" { for (i = 2; i <= NF; i++) if ($i ~ /\.rs$/) { bin = $i; sub(/^.*\//, "", bin); sub(/\.rs$/, "", bin) } }
        /^test .* \.\.\. FAILED$/ { printf "%s%s::%s", sep, bin, $2; sep = ", " }
    ' "$round_out")
    if [[ -n $names ]]; then
        echo "$names"
    elif [[ $1 -eq 124 || $1 -eq 137 ]]; then
        echo "timed out after $round_timeout s"
    else
        echo "cargo exited with status $1, no failing test named"
    fi
}

passed=0
failed=0
leak_total=0
leak_summary=()
tmp_candidates=()
round_leaks=()
declare -A round_kinds=()

# Records a leftover of the current round: $1 its kind (process,
# temporary, slurm), $2 what it is.
leak() {
    round_leaks+=("$1 $2")
    round_kinds[$1]=$((${round_kinds[$1]:-0} + 1))
}

# Waits up to a few seconds for the round's processes to go, then kills and
# reports the rest; reports temporary leftovers against $tmp_before.
check_leftovers() {
    local round_tmp=$1 procs line new
    procs=""
    for _ in $(seq 30); do
        procs=$(leftover_processes)
        [[ -z $procs ]] && break
        sleep 0.1
    done
    while read -r line; do
        if [[ -n $line ]]; then
            leak process "$line"
            kill -KILL "${line%% *}" 2> /dev/null || true
        fi
    done <<< "$procs"
    while read -r line; do
        leak temporary "$line"
    done < <(find "$round_tmp" -mindepth 1 -maxdepth 1 2> /dev/null)
    # Judged at the end of the run: tests running elsewhere on the machine
    # at the same time make and remove such entries too.
    new=$(comm -13 <(sort <<< "$tmp_before") <(tmp_listing | sort))
    while read -r line; do
        if [[ -n $line && $line != "$round_tmp"* ]]; then
            tmp_candidates+=("$current_round|$line")
        fi
    done <<< "$new"
    rm -rf "$round_tmp"
}

# New /tmp entries of the rounds that are still there at the end, a few
# seconds after the last round: those are leftovers.
check_tmp_candidates() {
    local entry round path
    ((${#tmp_candidates[@]} > 0)) || return 0
    sleep 5
    for entry in "${tmp_candidates[@]}"; do
        round=${entry%%|*}
        path=${entry#*|}
        if [[ -e $path ]]; then
            echo "$round: leak: temporary $path (made during the round, still there at the end)"
            leak_summary+=("$round: temporary: $path")
            leak_total=$((leak_total + 1))
            echo "===== $round: leak: temporary $path, still there at the end" >> "$log"
        fi
    done
}

# Slurm's own leftovers: jobs that stay queued, a node that does not come
# back to idle (a step whose output something still holds, a node a test
# failed and did not bring back).
check_cluster() {
    local jobs state
    for _ in $(seq 100); do
        jobs=$(SLURM_CONF=$slurm_conf timeout 5 squeue -h -o '%i %j %T' 2> /dev/null) || jobs="(squeue failed)"
        state=$(SLURM_CONF=$slurm_conf timeout 5 sinfo -h -o %T 2> /dev/null) || state="(sinfo failed)"
        [[ -z $jobs && $state == idle ]] && return 0
        sleep 0.1
    done
    if [[ -n $jobs ]]; then
        leak slurm "$(wc -l <<< "$jobs") job(s) still queued 10 s after the tests: $(tr '\n' ';' <<< "$jobs")"
    fi
    if [[ $state != idle ]]; then
        leak slurm "node $state 10 s after the tests"
    fi
}

# For the log of a failing slurm round: what the daemons said.
append_daemon_logs() {
    local file
    for file in /tmp/polymer-fanout-slurm/*.log; do
        if [[ -f $file ]]; then
            echo "----- last 200 lines of $file"
            tail -n 200 "$file"
        fi
    done >> "$round_out"
}

# One round: $1 kind, $2 number, $3 of how many, then the cargo arguments.
run_round() {
    local kind=$1 n=$2 total=$3 round_tmp status=0 start_s verdict line stop_out
    local vars=() counts shown=0
    shift 3
    round_leaks=()
    round_kinds=()
    current_round="$kind round $n"
    round_tmp=$tmp_root/$kind-$n
    mkdir -p "$round_tmp"
    tmp_before=$(tmp_listing)
    start_s=$SECONDS
    : > "$round_out"
    vars=(STRESS_MARK="$marker" TMPDIR="$round_tmp")
    if [[ $kind == slurm ]]; then
        vars+=(SLURM_CONF="$slurm_conf" REQUIRE_SLURM=1)
        # A fresh cluster each round: stop whatever runs, even one left by
        # something else.
        bash scripts/slurm-local.sh stop >> "$round_out" 2>&1 || true
        bash scripts/slurm-local.sh start --nodes 3 >> "$round_out" 2>&1 || status=$?
    fi
    if [[ $status -ne 0 ]]; then
        verdict="fail ($((SECONDS - start_s)) s): the cluster did not start"
    else
        env "${vars[@]}" timeout --kill-after=10 "$round_timeout" \
            cargo test --locked "$@" >> "$round_out" 2>&1 || status=$?
        if [[ $status -eq 0 ]]; then
            verdict="pass ($((SECONDS - start_s)) s)"
        else
            verdict="fail ($((SECONDS - start_s)) s): $(failing_tests "$status")"
        fi
        if [[ $kind == slurm ]]; then
            check_cluster
        fi
    fi
    check_leftovers "$round_tmp"
    if [[ $kind == slurm ]]; then
        if [[ $verdict != pass* || ${#round_leaks[@]} -gt 0 ]]; then
            append_daemon_logs
        fi
        stop_out=$(bash scripts/slurm-local.sh stop 2>&1) || true
        echo "$stop_out" >> "$round_out"
        while read -r line; do
            leak slurm "slurm-local.sh stop had to kill ${line#*killing }"
        done < <(grep 'killing leftover processes' <<< "$stop_out" || true)
        # What stop must always remove: the nodes' namespaces and bridge.
        while read -r line; do
            [[ -n $line ]] && leak slurm "left after stop: $line"
        done < <({ ip netns list | grep '^pfslurm-'; ip -br link show pfslurm0; } 2> /dev/null || true)
    fi

    echo "$kind round $n/$total: $verdict"
    # A failing test can leave a whole run behind (orchestrate, 26 sruns,
    # their steps): a few lines here, every one in the log.
    for line in "${round_leaks[@]}"; do
        if ((shown < 5)); then
            echo "  leak: ${line:0:160}"
        fi
        shown=$((shown + 1))
    done
    if ((shown > 5)); then
        echo "  ... $((shown - 5)) more leftovers, all in the log"
    fi
    if ((${#round_leaks[@]} > 0)); then
        counts=""
        for line in process temporary slurm; do
            if [[ -n ${round_kinds[$line]:-} ]]; then
                counts+="${counts:+, }$line: ${round_kinds[$line]}"
            fi
        done
        leak_summary+=("$kind round $n: $counts")
        leak_total=$((leak_total + ${#round_leaks[@]}))
    fi
    if [[ $verdict == pass* ]]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
    if [[ $verdict != pass* || ${#round_leaks[@]} -gt 0 ]]; then
        {
            echo "===== $kind round $n/$total: $verdict"
            for line in "${round_leaks[@]}"; do echo "leak: $line"; done
            cat "$round_out"
        } >> "$log"
        echo "  output in $log"
    fi
}

say "building the test binaries"
if ! cargo test --locked --no-run > "$round_out" 2>&1; then
    cat "$round_out" > "$log"
    say "cargo test --no-run failed; output in $log"
    exit 1
fi

baseline=$(matching_keys)

for n in $(seq "$slurm_rounds"); do
    run_round slurm "$n" "$slurm_rounds" --test slurm --test node_loss
done
for n in $(seq "$fault_rounds"); do
    run_round faults "$n" "$fault_rounds" --no-fail-fast --test signals --test orchestrate --test trust --test resume --test hostile
done

# One chaos round: $1 its number, $2 of how many. The moment of the kill
# and what is killed come from RANDOM, seeded once for the whole run.
chaos_round() {
    local n=$1 total=$2 round_tmp results pid at victim status=0 answer verdict extra line
    round_leaks=()
    round_kinds=()
    current_round="chaos round $n"
    round_tmp=$tmp_root/chaos-$n
    results=$round_tmp-results
    mkdir -p "$round_tmp"
    tmp_before=$(tmp_listing)
    : > "$round_out"
    # Up to 1.5 the run's usual length, in ms: before, during and after
    # the children's work.
    at=$((RANDOM % (chaos_run_ms * 3 / 2 + 1)))
    if ((RANDOM % 3 == 0)); then victim=child; else victim=orchestrate; fi
    env STRESS_MARK="$marker" TMPDIR="$round_tmp" "$orchestrate_bin" -q \
        --results-dir "$results" "$chaos_input" >> "$round_out" 2>&1 &
    pid=$!
    sleep "$(printf '0.%03d' "$at")" 2> /dev/null || sleep "$((at / 1000))"
    if [[ $victim == child ]]; then
        # A reduce child of this run, if one runs now.
        line=$(pgrep -P "$pid" -x reduce | shuf -n 1 --random-source=<(yes "$RANDOM") || true)
        if [[ -n $line ]]; then kill -KILL "$line" 2> /dev/null || true; fi
    else
        kill -KILL "$pid" 2> /dev/null || true
    fi
    # Quietly: bash would report the killed job.
    { wait "$pid"; } 2> /dev/null || true
    # Nothing of the killed run's is left a second later, before any other
    # run could remove it.
    for _ in $(seq 20); do
        extra=$( { ls -A "$round_tmp"; ls -A "$results" 2> /dev/null | grep '^\.orchestrate-'; } || true)
        [[ -z $extra ]] && break
        sleep 0.05
    done
    while read -r line; do
        [[ -n $line ]] && leak temporary "left a second after the kill: $line"
    done <<< "$extra"
    answer=$(env STRESS_MARK="$marker" TMPDIR="$round_tmp" timeout 120 "$orchestrate_bin" -q \
        --resume --results-dir "$results" "$chaos_input" 2>> "$round_out") || status=$?
    if [[ $status -ne 0 ]]; then
        verdict="fail: the resumed run exited with $status"
    elif [[ $answer != "$chaos_answer" ]]; then
        verdict="fail: the resumed run printed $answer, not $chaos_answer"
    else
        verdict=pass
    fi
    # The results folder holds the results and the record, nothing else.
    extra=$(cd "$results" && ls -A | grep -Evx '[a-z]\.txt|orchestrate\.json' || true)
    while read -r line; do
        [[ -n $line ]] && leak temporary "$results/$line"
    done <<< "$extra"
    [[ $(cd "$results" && ls | grep -cEx '[a-z]\.txt') == 26 ]] || verdict="fail: not 26 results"
    rm -rf "$results"
    check_leftovers "$round_tmp"
    echo "chaos round $n/$total: $verdict ($victim killed at $at ms)"
    for line in "${round_leaks[@]}"; do echo "  leak: ${line:0:160}"; done
    if ((${#round_leaks[@]} > 0)); then
        leak_summary+=("chaos round $n: ${#round_leaks[@]} leftovers")
        leak_total=$((leak_total + ${#round_leaks[@]}))
    fi
    if [[ $verdict == pass ]]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        {
            echo "===== chaos round $n/$total (seed $seed): $verdict ($victim killed at $at ms)"
            cat "$round_out"
        } >> "$log"
    fi
}

if ((chaos_rounds > 0)); then
    say "chaos seed $seed (replay with --chaos $chaos_rounds --seed $seed)"
    RANDOM=$seed
    cargo build --locked --release --bins --example generate > "$round_out" 2>&1 ||
        { cat "$round_out"; exit 1; }
    orchestrate_bin=$PWD/target/release/orchestrate
    chaos_input=$tmp_root/chaos-input.txt
    # 8 MB: long enough for a kill to land mid-run.
    ./target/release/examples/generate --units 8000000 --seed "$seed" > "$chaos_input"
    start_ms=$(date +%s%3N)
    chaos_answer=$("$orchestrate_bin" -q "$chaos_input")
    chaos_run_ms=$(($(date +%s%3N) - start_ms))
    ((chaos_run_ms > 999)) && chaos_run_ms=999
    say "chaos input: 8 MB, answer $chaos_answer, a run takes about $chaos_run_ms ms"
    for n in $(seq "$chaos_rounds"); do
        chaos_round "$n" "$chaos_rounds"
    done
fi

check_tmp_candidates
echo "stress: $passed passed, $failed failed"
if ((leak_total == 0)); then
    echo "leaks: none"
else
    echo "leaks: $leak_total, each one in the log"
    printf '  %s\n' "${leak_summary[@]}"
fi
if [[ -s $log ]]; then
    echo "log: $log"
fi
[[ $failed -eq 0 && $leak_total -eq 0 ]]
