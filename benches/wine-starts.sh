#!/usr/bin/env bash
# How often Wine fails to start a process, with address-space randomisation
# on (plain wine64) and off (the wrapper scripts/wine-setup.sh makes, which
# the tests use): COUNT starts of `reduce.exe --version`, 26 at a time, in
# three runs at once (both cores busy), each way.
#
#   bash benches/wine-starts.sh [COUNT]    # default 3120 per run
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

count=${1:-3120}
prefix=$(mktemp -d /tmp/wine-prefix.XXXXXX)
work=$(mktemp -d)
trap 'WINEPREFIX=$prefix /usr/lib/wine/wineserver -k 2> /dev/null || true; rm -rf "$prefix" "$work"' EXIT
eval "$(bash scripts/wine-setup.sh "$prefix")"
target=x86_64-pc-windows-gnu
cargo build --release --locked --quiet --target "$target" --bin reduce
cp "target/$target/release/reduce.exe" "$work/"
x86_64-w64-mingw32-gcc -O2 -o "$work/wine-starts.exe" benches/wine-starts.c
/usr/lib/wine/wineserver -p

echo "machine: $(machine); Wine $(/usr/lib/wine/wine64 --version); 3 runs of $count starts each way"
for way in on off; do
    if [[ $way == on ]]; then wine=/usr/lib/wine/wine64; else wine=$WINE; fi
    pids=()
    for run in 1 2 3; do
        (cd "$work" && "$wine" wine-starts.exe "$count" "reduce.exe --version" 26 |
            grep -v '^reduce' > "$work/$way-$run.txt") &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    # Every run must have ended with its count: a run that crashed is not
    # a run without failures.
    [[ $(cat "$work/$way"-*.txt | grep -c ' starts failed$') == 3 ]] ||
        { echo "a run under randomisation $way did not finish" >&2; exit 1; }
    read -r failed started < <(cat "$work/$way"-*.txt |
        awk '/ starts failed$/ { n += $1; m += $3 } END { print n, m }')
    codes=$(grep -ho 'error [0-9]*' "$work/$way"-*.txt | sort | uniq -c | tr -s ' ' | paste -sd, || true)
    echo "randomisation $way: $failed of $started starts failed${codes:+ ($codes)}"
done
