#!/usr/bin/env bash
# pb — powerbatch's one set-up helper for a Debian 12 machine.
#
#   ./pb demo [ARGS...]   install what is missing, build and run the policy lab (powerbatch-lab) on its default
#                         scenario: the digits model under a bursty trace, max_performance vs balanced vs
#                         power_saver, a table and ./report.html (ARGS go to powerbatch-lab; try --help)
#   ./pb test             install what is missing, build everything and run every test suite:
#                           build/        normal release build (-Werror): all suites
#                           build-tsan/   ThreadSanitizer (-O2): the stress suite
#                           build-asan/   AddressSanitizer + UndefinedBehaviorSanitizer (-O0): the unit and stress suites
#                           build-clang/  clang++-14, -Werror: the unit, headers and compile_fail suites (skipped
#                                         without clang++-14)
#                         and end with the line `N passed, N failed` (Catch2 test cases + other Meson tests).
#   ./pb help             this text
#
# Environment: PB_NO_INSTALL=1 never calls apt-get; PB_CLANG=0 skips the clang build.
# Packages are installed with apt-get as root, through sudo when not root.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")" || exit 1

# What the build needs (the issue's Debian packages, plus the compiler and pkg-config).
BUILD_PACKAGES=(g++ pkg-config meson ninja-build libboost1.81-dev libconcurrentqueue-dev libxtensor-dev libxsimd-dev
                libeigen3-dev catch2 libbenchmark-dev)
# What only the tests need: cmake for the CMake consumer and package version file; libsystemd-dev, dbus-daemon and
# python3-dbus/-gi for the logind wake lock against a fake logind; the MinGW cross compiler and Wine for the Windows
# power policies; chromium to render the HTML report headless; the AArch64 cross compiler and QEMU for the compute
# tests on the NEON path; clang-14 for the clang build.
TEST_PACKAGES=(cmake libsystemd-dev dbus-daemon python3-dbus python3-gi g++-mingw-w64-x86-64-posix wine wine64 chromium
  g++-aarch64-linux-gnu qemu-user-static)
[[ ${PB_CLANG:-1} != 0 ]] && TEST_PACKAGES+=(clang-14)

usage() {
  sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

say() { printf '\n== pb: %s\n' "$*"; }

ensure_packages() {
  [[ ${PB_NO_INSTALL:-0} == 1 ]] && return 0
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "pb: not a Debian system; make sure these (or their equivalents) are installed: $*" >&2
    return 0
  fi
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null | grep -q '^ii' || missing+=("$package")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0

  say "installing ${missing[*]}"
  local as_root=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      as_root=(sudo)
    else
      echo "pb: not root and no sudo: run as root: apt-get install ${missing[*]}" >&2
      return 1
    fi
  fi
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# configure DIR [MESON OPTIONS...]: set up DIR, or reconfigure it with these options if it exists.
configure() {
  local dir=$1
  shift
  if [[ -f $dir/meson-private/coredata.dat ]]; then
    meson setup --reconfigure "$dir" "$@" || meson setup --wipe "$dir" "$@"
  else
    meson setup "$dir" "$@"
  fi
}

# target_file DIR NAME: the path of build target NAME in DIR, if it has one.
target_file() {
  meson introspect "$1" --targets | python3 -c '
import json, sys
for target in json.load(sys.stdin):
    if target["name"] == sys.argv[1]:
        print(target["filename"][0])
        break' "$2"
}

cmd_demo() {
  ensure_packages "${BUILD_PACKAGES[@]}" || return 1
  if [[ ! -f build/meson-private/coredata.dat ]]; then
    say "configuring build/"
    configure build || return 1
  fi
  local demo
  demo=$(target_file build powerbatch-lab)
  if [[ -z $demo ]]; then
    echo "pb: build/ has no powerbatch-lab target (examples/lab/meson.build, or -Dexamples=false)" >&2
    return 1
  fi
  say "building powerbatch-lab"
  meson compile -C build powerbatch-lab || return 1
  say "running ${demo#"$PWD"/}${*:+ $*}"
  "$demo" "$@"
}

# ---- ./pb test -----------------------------------------------------------------------------------------------------
# One compile per core: Asio + Catch2 translation units take 1.3-2.5 GB each, so Ninja's default of cores + 2
# gains nothing on 2 cores and can run out of memory.
JOBS=$(nproc 2>/dev/null || echo 2)
FAILED_STEPS=()
TIMINGS=()
TESTED_DIRS=()

# timed NAME COMMAND...: runs COMMAND, records its wall time, and records NAME as failed if it fails.
timed() {
  local name=$1 start=$SECONDS status
  shift
  "$@"
  status=$?
  TIMINGS+=("$(printf '%-24s %4ds%s' "$name" $((SECONDS - start)) "$([[ $status -ne 0 ]] && echo '  FAILED')")")
  [[ $status -ne 0 ]] && FAILED_STEPS+=("$name")
  return $status
}

# build_and_test DIR "SUITE..." TIMEOUT_MULTIPLIER [MESON OPTIONS...]: configure DIR, build what the suites need
# ("" means every suite and the whole build), then run those suites.
build_and_test() {
  local dir=$1 suites=$2 multiplier=$3
  shift 3
  rm -f "$dir/meson-logs/testlog.json"  # never count a previous run's results
  say "$dir: configure"
  timed "$dir: configure" configure "$dir" "$@" || return 1

  local suite_args=() targets=() suite
  for suite in $suites; do suite_args+=(--suite "$suite"); done
  if [[ -z $suites ]]; then
    say "$dir: build everything"
    timed "$dir: build" meson compile -C "$dir" -j "$JOBS" --ninja-args=-k0 || return 1
  else
    mapfile -t targets < <(python3 .ci/meson_tests.py targets "$dir" $suites)
    if [[ ${#targets[@]} -eq 0 ]]; then
      say "$dir: the suites ($suites) have no tests yet"
      return 0
    fi
    say "$dir: build ${targets[*]}"
    timed "$dir: build" ninja -C "$dir" -j "$JOBS" -k 0 "${targets[@]}" || return 1
  fi

  say "$dir: test ${suites:-(all suites)}"
  TESTED_DIRS+=("$dir")
  timed "$dir: test" meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 2 \
    --timeout-multiplier "$multiplier" "${suite_args[@]}" && return 0
  # Failed tests are counted from the log; a run that left no log is one failure of its own.
  [[ -f $dir/meson-logs/testlog.json ]] || FAILED_STEPS+=("$dir: test run (no results)")
  return 1
}

cmd_test() {
  local start=$SECONDS
  timed "packages" ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"

  export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
  export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
  # -Werror is enforced by the normal and clang builds. Sanitizers make GCC 12 report false positives
  # (-Wmaybe-uninitialized in <regex> under ASan, -Wtsan on every atomic_thread_fence), and GCC's manual advises
  # against combining -Werror with them, so the sanitizer builds show warnings without failing on them.
  local sanitizer_options=(-Dbenchmarks=false -Dexamples=false -Dbuild_checks=false -Dwerror=false -Db_ndebug=false)

  build_and_test build "" 1 -Dtests=true -Dbuild_checks=true
  build_and_test build-tsan "stress" 4 -Db_sanitize=thread --buildtype=debugoptimized "${sanitizer_options[@]}"
  # -O0: GCC 12 takes 6x longer (331 s against 53 s for one unit-test file) and twice the memory to compile with
  # ASan+UBSan at -O2, while both sanitizers check just as much at -O0.
  build_and_test build-asan "unit stress" 3 -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug \
    "${sanitizer_options[@]}"
  if [[ ${PB_CLANG:-1} == 0 ]]; then
    say "clang build skipped (PB_CLANG=0)"
  elif ! command -v clang++-14 >/dev/null 2>&1; then
    say "clang build skipped: clang++-14 is not installed"
  else
    # clang checks that the library is portable C++: every public header alone, the unit tests and the concept
    # diagnostics. The feature areas' tests, benchmarks and examples are built by g++ only, to keep CI well under
    # 40 minutes on 2 cores (each area's files were checked with clang++-14 -fsyntax-only -Werror when written).
    CXX=clang++-14 build_and_test build-clang "unit headers compile_fail" 1 -Dtests=true -Dbuild_checks=true
  fi

  say "timings"
  printf '  %s\n' "${TIMINGS[@]}"
  printf '  %-24s %4ds\n' "total" $((SECONDS - start))
  say "results"
  local step_args=() step
  for step in "${FAILED_STEPS[@]}"; do
    # A failed test run is already counted test by test; a failed configure, build or install is one failure.
    [[ $step == *": test" ]] || step_args+=(--failed-step "$step")
  done
  python3 .ci/meson_tests.py summary "${step_args[@]}" "${TESTED_DIRS[@]}"
  local status=$?
  [[ ${#FAILED_STEPS[@]} -gt 0 ]] && status=1
  return $status
}

case ${1:-help} in
  demo) shift; cmd_demo "$@" ;;
  test) shift; cmd_test "$@" ;;
  help | -h | --help) usage ;;
  *) usage >&2; exit 2 ;;
esac
