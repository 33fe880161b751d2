#!/usr/bin/env python3
"""Runs a compiler command and judges its diagnostics.

  check_diagnostic.py --expect MESSAGE -- COMPILER ARGS...
      passes when the compile fails, MESSAGE (a diagnose-chain static_assert text from include/powerbatch/concepts/)
      is in the compiler's output, and the first error the compiler reports is that one, so a user reads the
      requirement first rather than template noise.
  check_diagnostic.py --must-compile -- COMPILER ARGS...
      passes when the compile succeeds.
"""
import argparse
import subprocess
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument('--expect', metavar='MESSAGE')
    mode.add_argument('--must-compile', action='store_true')
    parser.add_argument('command', nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ['--'] else args.command
    if not command:
        parser.error('no compiler command after --')

    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    output = result.stdout
    error_lines = [line for line in output.splitlines() if 'error:' in line]
    print('$ ' + ' '.join(command))
    print(f'exit status {result.returncode}, {len(error_lines)} error line(s)')

    if args.must_compile:
        if result.returncode == 0:
            print('compiled, as it must')
            return 0
        print('FAIL: this file must compile\n' + output)
        return 1

    if result.returncode == 0:
        print(f'FAIL: compiled, but it must fail with "{args.expect}"')
        return 1
    if args.expect not in output:
        print(f'FAIL: the compile failed without the expected message "{args.expect}"\n' + output)
        return 1
    if args.expect not in error_lines[0]:
        print(f'FAIL: "{args.expect}" is reported, but not first; the first error is:\n{error_lines[0]}\n\n' + output)
        return 1
    print(f'failed as expected; first error:\n{error_lines[0]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
