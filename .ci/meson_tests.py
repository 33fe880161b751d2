#!/usr/bin/env python3
"""Helpers for ./pb test: which targets a set of test suites needs, and the pass/fail count over builds.

  meson_tests.py targets BUILD_DIR SUITE...
      Prints, one per line, the Ninja targets (paths relative to BUILD_DIR) that the tests of the given suites run
      or depend on, so a sanitizer build compiles only what it runs. Prints nothing if the suites have no tests.

  meson_tests.py summary [--failed-step TEXT]... BUILD_DIR...
      Reads BUILD_DIR/meson-logs/testlog.json of each build and prints one line per build, then the last line
      `N passed, N failed`. N counts Catch2 test cases (from each Catch2 program's own summary) plus one per other
      Meson test; each --failed-step (a build that did not configure or compile) counts as one failure.
      Exits 1 if anything failed.
"""
import json
import os
import re
import subprocess
import sys

# Catch2 2.13's console reporter ends with one of these.
ALL_PASSED = re.compile(r'^All tests passed \(\d+ assertions? in (\d+) test cases?\)', re.MULTILINE)
TOTALS = re.compile(r'^test cases:\s*(\d+)((?:\s*\|\s*\d+ [a-z ]+?)*)\s*$', re.MULTILINE)
TOTALS_PART = re.compile(r'\|\s*(\d+) (passed|failed as expected|failed)')
NO_TESTS_RAN = re.compile(r'^No tests ran$', re.MULTILINE)

PASSED_RESULTS = {'OK', 'EXPECTEDFAIL'}
SKIPPED_RESULTS = {'SKIP'}


def introspect(build_dir, what):
    out = subprocess.run(['meson', 'introspect', build_dir, what], check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout)


def targets(build_dir, suites):
    build_dir = os.path.abspath(build_dir)
    wanted = set(suites)
    by_id = {t['id']: t for t in introspect(build_dir, '--targets')}
    outputs = []
    for test in introspect(build_dir, '--tests'):
        # Suites read 'project:suite'; a test may be in several.
        test_suites = {s.split(':', 1)[-1] for s in test['suite']}
        if not test_suites & wanted:
            continue
        candidates = [test['cmd'][0]]
        for dep in test.get('depends', []):
            candidates += by_id.get(dep, {}).get('filename', [])
        for path in candidates:
            path = os.path.abspath(path)
            if path.startswith(build_dir + os.sep):
                rel = os.path.relpath(path, build_dir)
                if rel not in outputs:
                    outputs.append(rel)
    for output in outputs:
        print(output)
    return 0


def count_test(entry):
    """(passed, failed, skipped, is_catch2) for one testlog.json entry."""
    output = (entry.get('stdout') or '') + (entry.get('stderr') or '')
    result = entry.get('result', 'ERROR')
    process_ok = result in PASSED_RESULTS
    if result in SKIPPED_RESULTS:
        return 0, 0, 1, False

    passed = failed = 0
    found = False
    for match in ALL_PASSED.finditer(output):
        found = True
        passed += int(match.group(1))
    for match in TOTALS.finditer(output):
        found = True
        total = int(match.group(1))
        case_failed = sum(int(n) for n, kind in TOTALS_PART.findall(match.group(2)) if kind == 'failed')
        failed += case_failed
        passed += total - case_failed
    if NO_TESTS_RAN.search(output):
        found = True

    if not found:
        return (1, 0, 0, False) if process_ok else (0, 1, 0, False)
    if not process_ok and failed == 0:
        failed = 1  # every case passed, yet the program failed (sanitizer report at exit, timeout, crash)
    return passed, failed, 0, True


def summary(failed_steps, build_dirs):
    total_passed = total_failed = 0
    for build_dir in build_dirs:
        log = os.path.join(build_dir, 'meson-logs', 'testlog.json')
        if not os.path.exists(log):
            print(f'{build_dir}: no tests ran')
            continue
        passed = failed = skipped = 0
        failures = []
        with open(log, encoding='utf-8') as f:
            for line in f:
                if not line.strip():
                    continue
                entry = json.loads(line)
                p, fl, s, is_catch2 = count_test(entry)
                passed, failed, skipped = passed + p, failed + fl, skipped + s
                if fl:
                    kind = 'test cases' if is_catch2 else 'test'
                    failures.append(f"{entry.get('name')} ({entry.get('result')}, {fl} failed {kind})")
        line = f'{build_dir}: {passed} passed, {failed} failed'
        if skipped:
            line += f', {skipped} skipped'
        print(line)
        for failure in failures:
            print(f'  failed: {failure}')
        total_passed += passed
        total_failed += failed
    for step in failed_steps:
        print(f'failed step: {step}')
        total_failed += 1
    print(f'{total_passed} passed, {total_failed} failed')
    return 1 if total_failed else 0


def main(argv):
    if len(argv) >= 2 and argv[0] == 'targets':
        return targets(argv[1], argv[2:])
    if argv and argv[0] == 'summary':
        failed_steps, build_dirs = [], []
        rest = argv[1:]
        while rest:
            if rest[0] == '--failed-step' and len(rest) > 1:
                failed_steps.append(rest[1])
                rest = rest[2:]
            else:
                build_dirs.append(rest[0])
                rest = rest[1:]
        return summary(failed_steps, build_dirs)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
