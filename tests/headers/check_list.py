#!/usr/bin/env python3
"""Fails when tests/headers/meson.build's header list and the files under include/powerbatch differ.

Usage: check_list.py INCLUDE_DIR HEADER...   (HEADER relative to INCLUDE_DIR, e.g. powerbatch/batcher.hpp)
"""
import pathlib
import sys


def main() -> int:
    include_dir = pathlib.Path(sys.argv[1])
    listed = set(sys.argv[2:])
    on_disk = {p.relative_to(include_dir).as_posix()
               for p in (include_dir / 'powerbatch').rglob('*') if p.is_file()}
    missing = sorted(on_disk - listed)
    stale = sorted(listed - on_disk)
    for header in missing:
        print(f"not checked: {header} is in include/ but not in tests/headers/meson.build's list: add '{header}'")
    for header in stale:
        print(f"stale: tests/headers/meson.build lists {header}, which is not in include/: remove it")
    if missing or stale:
        return 1
    print(f'{len(on_disk)} public headers, each compiled alone by the powerbatch_header_checks library')
    return 0


if __name__ == '__main__':
    sys.exit(main())
