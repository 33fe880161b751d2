#!/usr/bin/env bash
# Builds and runs one consumer project of powerbatch, the way a user would.
#
#   run.sh MODE SOURCE_ROOT WORK_DIR [COMPILER WORDS...]
#
#   MODE  meson-pkgconfig   install powerbatch into WORK_DIR/prefix, then build tests/consumers/meson_consumer
#                           against it through pkg-config (PKG_CONFIG_PATH, no subproject fallback allowed);
#         cmake             same install, then tests/consumers/cmake_consumer with find_package(powerbatch CONFIG)
#                           through CMAKE_PREFIX_PATH;
#         meson-subproject  meson_consumer with SOURCE_ROOT as its subprojects/powerbatch (no install).
#   COMPILER WORDS  the C++ compiler command (Meson's cpp.cmd_array(), a launcher first if any); default: c++.
# Exits 0 on success, 77 (skipped) when cmake is missing for the cmake mode, 1 otherwise.
set -euo pipefail

mode=$1 source_root=$(cd "$2" && pwd) work=$3
shift 3
compiler=("$@")
[[ ${#compiler[@]} -gt 0 ]] || compiler=(c++)

step() { printf '\n== %s\n' "$*"; }

rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
# Run from WORK_DIR: Meson's cmake module runs `cmake --system-information` in the current directory, so two of
# these scripts running at once from the same directory would trip over each other's scratch files.
cd "$work"
prefix=$work/prefix
export CXX="${compiler[*]}"

install_powerbatch() {
  step "install powerbatch into $prefix"
  meson setup "$work/powerbatch-build" "$source_root" --prefix "$prefix" \
    -Dtests=false -Dbenchmarks=false -Dexamples=false >"$work/install-setup.log" ||
    { cat "$work/install-setup.log"; return 1; }
  meson install -C "$work/powerbatch-build" --no-rebuild --quiet
  (cd "$prefix" && find . -name '*.pc' -o -name '*.cmake' -o -name 'batcher.hpp' | sort)
}

case $mode in
  meson-pkgconfig)
    install_powerbatch
    step "meson consumer against the installed headers (pkg-config)"
    PKG_CONFIG_PATH=$prefix/share/pkgconfig pkg-config --cflags --libs powerbatch
    PKG_CONFIG_PATH=$prefix/share/pkgconfig \
      meson setup "$work/consumer-build" "$source_root/tests/consumers/meson_consumer" \
      -Dexpect=pkgconfig --wrap-mode=nofallback
    meson compile -C "$work/consumer-build"
    "$work/consumer-build/app"
    ;;
  meson-subproject)
    step "meson consumer with powerbatch as a subproject"
    cp -r "$source_root/tests/consumers/meson_consumer" "$work/consumer-src"
    mkdir -p "$work/consumer-src/subprojects"
    ln -s "$source_root" "$work/consumer-src/subprojects/powerbatch"
    meson setup "$work/consumer-build" "$work/consumer-src" -Dexpect=internal --force-fallback-for=powerbatch
    meson compile -C "$work/consumer-build"
    "$work/consumer-build/app"
    ;;
  cmake)
    if ! command -v cmake >/dev/null; then
      echo "cmake is not installed: skipping the CMake consumer"
      exit 77
    fi
    install_powerbatch
    step "cmake consumer against the installed headers (find_package)"
    launcher=()
    if [[ ${#compiler[@]} -gt 1 ]]; then
      launcher=("-DCMAKE_CXX_COMPILER_LAUNCHER=$(IFS=';'; echo "${compiler[*]:0:${#compiler[@]}-1}")")
    fi
    generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    unset CXX
    cmake -S "$source_root/tests/consumers/cmake_consumer" -B "$work/consumer-build" "${generator[@]}" \
      -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="${compiler[-1]}" "${launcher[@]}" \
      -DCMAKE_BUILD_TYPE=Release
    cmake --build "$work/consumer-build"
    "$work/consumer-build/app"
    ;;
  *)
    echo "unknown mode '$mode' (meson-pkgconfig, meson-subproject or cmake)" >&2
    exit 1
    ;;
esac
