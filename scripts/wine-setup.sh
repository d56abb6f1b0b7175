#!/usr/bin/env bash
# Prepares a Wine prefix in which the Windows build runs: Wine 8.0, the
# mingw linker and the Rust target (installed when missing), and the test
# set-up's stand-in for bcryptprimitives.dll (tests/wine/), which that Wine
# lacks; and PREFIX/wine, which runs Wine with address-space randomisation
# off. Prints the lines to `eval` for the prefix (`$WINE` is that wrapper,
# and cargo's runner for the target):
#
#   eval "$(bash scripts/wine-setup.sh /tmp/wine-prefix)"
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:?usage: wine-setup.sh PREFIX}
missing=()
[[ -x /usr/lib/wine/wine64 ]] || missing+=(wine64)
command -v x86_64-w64-mingw32-gcc > /dev/null || missing+=(gcc-mingw-w64-x86-64)
if [[ ${#missing[@]} -gt 0 ]]; then
    apt-get update -qq > /dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
fi
target=x86_64-pc-windows-gnu
rustup target list --installed | grep -qx "$target" || rustup target add "$target" >&2

export WINEPREFIX=$prefix WINEDEBUG=-all
mkdir -p "$prefix"
# The first start makes the prefix (about 10 s).
/usr/lib/wine/wine64 cmd /c exit 0 > /dev/null 2>&1 || true
/usr/lib/wine/wineserver -w
shim=$prefix/drive_c/windows/system32/bcryptprimitives.dll
x86_64-w64-mingw32-gcc -O2 -shared -o "$shim" tests/wine/bcryptprimitives.c -ladvapi32
# With randomisation on, one new Wine process in about 8,000 cannot map its
# shared user data at its fixed address ("failed to map the shared user
# data: c0000018") and dies before it starts; its parent's CreateProcess
# then fails with ERROR_INTERNAL_ERROR (1359). None in 9,360 starts with it
# off (benches/README.md).
if setarch "$(uname -m)" -R true 2> /dev/null; then
    cat > "$prefix/wine" << 'WRAPPER'
#!/bin/sh
exec setarch "$(uname -m)" -R /usr/lib/wine/wine64 "$@"
WRAPPER
else
    # A container whose seccomp profile refuses the personality call.
    echo "wine-setup: randomisation cannot be turned off here; Wine may fail a start now and then" >&2
    printf '#!/bin/sh\nexec /usr/lib/wine/wine64 "$@"\n' > "$prefix/wine"
fi
chmod +x "$prefix/wine"
echo "export WINEPREFIX=$prefix WINEDEBUG=-all WINE=$prefix/wine"
echo "export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$prefix/wine"
