#!/bin/sh
# Cross-compiles compute_tests for AArch64 (Debian: g++-aarch64-linux-gnu) with the project's warning flags and runs
# it under QEMU's user-mode emulator (Debian: qemu-user-static): the portable kernels are xsimd's NEON path there,
# which no x86 build exercises. Headers that only exist for the build machine (Boost, Catch2, xsimd; all
# header-only) come from /usr/include after the cross compiler's own, so its C library headers win.
# Exit 77 (Meson's "skipped") with a message when the compiler or the emulator is missing.
# Usage: aarch64_cross.sh SOURCE_ROOT BUILD_DIR
set -u
src=$1
out=$2/aarch64
cxx=${PB_AARCH64_CXX:-aarch64-linux-gnu-g++}
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "SKIP: $cxx not found (install g++-aarch64-linux-gnu)"
  exit 77
fi
mkdir -p "$out"
jobs=$(nproc 2>/dev/null || echo 2)
for source in "$src"/tests/compute/*.cpp; do
  echo "$source"
done | xargs -P "$jobs" -I{} sh -c '
  "$0" -std=c++20 -O2 -Wall -Wextra -Wpedantic -Werror -idirafter /usr/include -I"$1/include" -I"$1/tests/compute" \
    -c "{}" -o "$2/$(basename "{}" .cpp).o"' "$cxx" "$src" "$out" || { echo "FAIL: cross-compilation failed"; exit 1; }
exe="$out/compute_tests"
# -static: runs under the emulator without an AArch64 sysroot on its library path.
"$cxx" -static -pthread "$out"/*.o -o "$exe" || { echo "FAIL: linking failed"; exit 1; }
echo "compiled $exe with $cxx"
if ! aarch64-linux-gnu-objdump -d "$out/test_dense_fp32.o" 2>/dev/null | grep -q -E '[[:space:]]fmla[[:space:]]'; then
  echo "FAIL: no NEON fmla in the fp32 kernel's object: the portable path is not vectorised"
  exit 1
fi
qemu=""
for candidate in qemu-aarch64-static qemu-aarch64; do
  if command -v "$candidate" >/dev/null 2>&1; then qemu=$candidate; break; fi
done
if [ -z "$qemu" ]; then
  echo "SKIP: compiled, but not run: qemu-aarch64 not found (install qemu-user-static)"
  exit 77
fi
"$qemu" "$exe"
status=$?
echo "compute_tests (aarch64, $qemu) exited with $status"
exit $status
