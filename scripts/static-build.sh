#!/usr/bin/env bash
# The static build for any Linux node (x86_64-unknown-linux-musl), run in an
# empty root that holds only the two binaries, the input, /proc, /dev/null
# and an empty /tmp: no C library, no /lib, no /etc. Prints the answer and
# fails unless it is 3190, or the run left anything in /tmp. Needs root (a
# mount namespace and chroot).
#
#   bash scripts/static-build.sh            # build, then run in the empty root
#   bash scripts/static-build.sh --no-build # run what target/ holds
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-musl
if [[ ${1:-} != --no-build ]]; then
    rustup target list --installed | grep -qx "$target" || rustup target add "$target" > /dev/null
    cargo build --locked --release --target "$target"
fi
bin=target/$target/release
for program in orchestrate reduce; do
    # A static binary names no program interpreter (no ld.so to load it).
    if readelf --program-headers "$bin/$program" | grep -q INTERP; then
        echo "static build: $bin/$program is not static" >&2
        exit 1
    fi
done

root=$(mktemp -d /tmp/static-root.XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/proc" "$root/dev" "$root/tmp"
cp "$bin/orchestrate" "$bin/reduce" "$root/bin/"
cp inputs/polymer-50k.txt "$root/"
touch "$root/dev/null"
chmod 1777 "$root/tmp"
# In a mount namespace of its own, so the mounts go with it.
answer=$(unshare --mount --pid --fork sh -c '
    mount -t proc proc "$1/proc" && mount --bind /dev/null "$1/dev/null" &&
    chroot "$1" /bin/orchestrate --quiet /polymer-50k.txt' sh "$root")
echo "static orchestrate in an empty root: minimum $answer"
test "$answer" = 3190
if [[ -n $(ls -A "$root/tmp") ]]; then
    echo "static build: the run left $(ls -A "$root/tmp") in /tmp" >&2
    exit 1
fi
