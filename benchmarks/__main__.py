"""Run every benchmark (or the ones named) and print one table: ``python -m benchmarks``."""

from __future__ import annotations

import argparse
import importlib
import platform
import sys

from benchmarks.common import Row, table

MODULES = ("ami_ingest",)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {MODULES})")
    parser.add_argument("--quick", action="store_true", help="shorter runs, rougher figures")
    args = parser.parse_args()
    rows: list[Row] = []
    for name in args.names or MODULES:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"running {name} …", file=sys.stderr, flush=True)
        rows.extend(module.run(args.quick))
    print(f"Python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    print(table(rows))
    return 0 if all(row.passed for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
