#!/bin/sh
# Cross-compiles tests/power_platform/windows_policies.cpp with MinGW-w64 (Debian: g++-mingw-w64-x86-64-posix)
# using the project's warning flags, then runs it under Wine (Debian: wine, wine64).
# Exit 77 (Meson's "skipped") with a message when the compiler is missing, or when Wine is (after compiling).
# Usage: windows_cross.sh SOURCE_ROOT BUILD_DIR
set -u
src=$1
out=$2
cxx=${PB_MINGW_CXX:-x86_64-w64-mingw32-g++-posix}
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "SKIP: $cxx not found (install g++-mingw-w64-x86-64-posix)"
  exit 77
fi
mkdir -p "$out"
exe="$out/windows_policies.exe"
# -static: the program needs no MinGW runtime DLLs on Wine's path.
"$cxx" -std=c++20 -Wall -Wextra -Wpedantic -Werror -I"$src/include" -static -o "$exe" \
  "$src/tests/power_platform/windows_policies.cpp" || { echo "FAIL: cross-compilation failed"; exit 1; }
echo "compiled $exe with $cxx"

wine=""
for candidate in wine wine64; do
  if command -v "$candidate" >/dev/null 2>&1; then wine=$candidate; break; fi
done
if [ -z "$wine" ]; then
  echo "SKIP: compiled, but not run: wine not found (install wine and wine64)"
  exit 77
fi
# One prefix (~700 MB once created) shared by every build directory, in the user's cache unless PB_WINEPREFIX
# names another; no Mono/Gecko install prompts; quiet.
cache=${XDG_CACHE_HOME:-${HOME:-$out}/.cache}
export WINEPREFIX="${PB_WINEPREFIX:-$cache/powerbatch-wineprefix}"
mkdir -p "$(dirname "$WINEPREFIX")"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
"$wine" "$exe"
status=$?
echo "windows_policies.exe exited with $status"
exit $status
