#!/usr/bin/env bash
# Type-checks and lints the whole package, tests and benchmarks included,
# for macOS (Apple silicon and Intel). Linking needs Apple's SDK, which a
# Linux machine lacks, so this is what can run here; clang (with llvm-ar)
# compiles the one C file of a benchmark dependency, which needs no SDK
# header when freestanding.
set -euo pipefail
cd "$(dirname "$0")/.."
for target in aarch64-apple-darwin x86_64-apple-darwin; do
    rustup target list --installed | grep -qx "$target" || rustup target add "$target" > /dev/null
    var=${target//-/_}
    env "CC_$var=clang" "AR_$var=llvm-ar" "CFLAGS_$var=-ffreestanding" \
        cargo clippy --locked --target "$target" --all-targets -- -D warnings
    echo "macOS check: clippy passes for $target"
done
