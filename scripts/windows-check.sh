#!/usr/bin/env bash
# The Windows build, cross-built with mingw and run under Wine: the quick
# start, every test that applies to Windows (cargo test with Wine as the
# runner), and what a test running inside Wine cannot do itself: Ctrl+C
# (Wine turns a SIGINT of the program's process into the console's Ctrl+C
# event) in every phase, and a closed standard output.
#
#   bash scripts/windows-check.sh            # all of it
#   bash scripts/windows-check.sh --no-tests # without cargo test
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d /tmp/wine-prefix.XXXXXX)
work=$(mktemp -d /tmp/windows-check.XXXXXX)
cleanup() {
    WINEPREFIX=$prefix /usr/lib/wine/wineserver -k 2> /dev/null || true
    rm -rf "$prefix" "$work"
}
trap cleanup EXIT
eval "$(bash scripts/wine-setup.sh "$prefix")"
wine=$WINE
target=x86_64-pc-windows-gnu

cargo build --locked --release --target "$target" --bins --examples
bin=target/$target/release
answer=$($wine "$bin/orchestrate.exe" --quiet inputs/polymer-50k.txt | tr -d '\r')
echo "orchestrate.exe inputs/polymer-50k.txt under Wine: minimum $answer"
test "$answer" = 3190

# The programs of this package still running under Wine: a leak, as on
# Linux (Wine's own services run on until the prefix's server is ended).
ours() { pgrep -fa '(orchestrate|reduce|faulty-reduce)\.exe' || true; }

if [[ ${1:-} != --no-tests ]]; then
    CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$wine cargo test --locked --target "$target"
    sleep 1
    if [[ -n $(ours) ]]; then
        echo "windows check: the tests left behind:" >&2
        ours >&2
        exit 1
    fi
fi

# A Linux path as Wine's programs name it (drive Z: is the root).
windows_path() { echo "Z:$(realpath "$1" | tr / '\\')"; }

fails=0
fail() { echo "windows check: $*" >&2; fails=$((fails + 1)); }
# The Linux processes of the stand-in's Windows processes, still running.
left() { pgrep -f 'faulty-reduce\.exe' || true; }

# Waits up to SECONDS for the command after RUN to succeed; past that, says
# WHAT failed, kills RUN and returns 1.
await() {
    local seconds=$1 what=$2 run=$3
    shift 3
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        kill -0 "$run" 2> /dev/null || { fail "$what (the run ended)"; return 1; }
        ((SECONDS < deadline)) || { fail "$what"; kill -9 "$run"; return 1; }
        sleep 0.1
    done
}

# Whether the pid log $1 has all 26 children and their 78 grandchildren.
all_started() { [[ $({ wc -l < "$1"; } 2> /dev/null || echo 0) -ge 104 ]]; }

# Ctrl+C while children run: status 130, no child or grandchild left, no
# temporary folder left.
ctrl_c_while_children_run() {
    local dir=$work/children
    mkdir -p "$dir/tmp"
    FAULT_ALL=escape PID_LOG="$dir/pids" TMP="$dir/tmp" TEMP="$dir/tmp" \
        REAL_REDUCE="$(windows_path "$bin/reduce.exe")" \
        "$wine" "$bin/orchestrate.exe" --reduce-bin "$bin/examples/faulty-reduce.exe" \
        inputs/example.txt > /dev/null 2> "$dir/stderr" &
    local run=$!
    await 60 "the children did not start" $run all_started "$dir/pids" || return 0
    kill -INT $run
    local status=0
    wait $run || status=$?
    [[ $status == 130 ]] || fail "Ctrl+C while children run: status $status, not 130"
    local deadline=$((SECONDS + 10))
    while [[ -n $(left) ]] && ((SECONDS < deadline)); do sleep 0.1; done
    [[ -z $(left) ]] || fail "Ctrl+C while children run left $(left | wc -l) processes"
    [[ -z $(ls -A "$dir/tmp") ]] || fail "Ctrl+C while children run left $(ls -A "$dir/tmp")"
    grep -q 'interrupted' "$dir/stderr" || fail "Ctrl+C while children run: $(cat "$dir/stderr")"
}

# Ctrl+C while the input is read (a pipe that never ends): status 130.
ctrl_c_while_reading() {
    local dir=$work/reading
    mkdir -p "$dir"
    mkfifo "$dir/fifo"
    # Once 4 MB, far more than a pipe holds, are written, the run has read
    # most of them: it is reading, with its handlers in place.
    { head -c 4194304 /dev/zero | tr '\0' a; touch "$dir/written"; exec sleep 1000; } > "$dir/fifo" &
    local writer=$!
    "$wine" "$bin/orchestrate.exe" - < "$dir/fifo" > /dev/null 2> "$dir/stderr" &
    local run=$!
    await 60 "the run did not read its input" $run test -e "$dir/written" ||
        { kill $writer; return 0; }
    kill -INT $run
    local status=0
    wait $run || status=$?
    kill $writer 2> /dev/null || true
    [[ $status == 130 ]] || fail "Ctrl+C while reading: status $status, not 130"
}

# A closed standard output: status 141, as on Unix, and one line at most.
closed_stdout() {
    local status
    status=$("$wine" "$bin/orchestrate.exe" inputs/polymer-50k.txt 2> "$work/closed" |
        true; echo "${PIPESTATUS[0]}")
    [[ $status == 141 ]] || fail "a closed stdout: status $status, not 141"
    [[ $(wc -l < "$work/closed") -le 1 ]] || fail "a closed stdout said: $(cat "$work/closed")"
}

# The win_amd64 wheel, built by maturin: both programs inside, the right
# tags, and the quick start from where pip would put them.
wheel() {
    local venv=$work/venv
    python3 -m venv "$venv" && "$venv/bin/pip" install --quiet "maturin>=1.7,<2"
    "$venv/bin/maturin" build --quiet --release --target "$target" --out "$work/dist" 2> /dev/null
    local built
    built=$(ls "$work/dist"/*.whl)
    [[ $(basename "$built") == polymer_fanout-*-py3-none-win_amd64.whl ]] ||
        fail "the wheel is $(basename "$built")"
    python3 - "$built" "$work/scripts" << 'PY' || fail "the wheel lacks a program or its tag"
import sys, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
names = wheel.namelist()
scripts = [n for n in names if ".data/scripts/" in n]
assert sorted(n.rsplit("/", 1)[1] for n in scripts) == ["orchestrate.exe", "reduce.exe"], names
tags = wheel.read(next(n for n in names if n.endswith(".dist-info/WHEEL"))).decode()
assert "Tag: py3-none-win_amd64" in tags, tags
for name in scripts:
    wheel.extract(name, sys.argv[2])
PY
    local installed answer
    installed=$(dirname "$(find "$work/scripts" -name orchestrate.exe)")
    answer=$("$wine" "$installed/orchestrate.exe" --quiet inputs/polymer-50k.txt | tr -d '\r')
    [[ $answer == 3190 ]] || fail "the wheel's orchestrate.exe answered $answer"
}

ctrl_c_while_children_run
ctrl_c_while_reading
closed_stdout
wheel
sleep 1
[[ -z $(ours) ]] || fail "left behind: $(ours)"
if ((fails > 0)); then
    exit 1
fi
echo "windows check: Ctrl+C while children run and while reading, a closed stdout, and the win_amd64 wheel, as documented"
