"""Run the benchmarks and print one table: ``python -m benchmarks [--quick] [NAME ...]``."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from benchmarks.common import Row, machine, table

MODULES = (
    "ami_ingest",
    "agi",
    "speech",
    "contacts",
    "routing",
    "screenpop",
    "messages",
    "wallboard",
    "reports",
    "callbacks",
    "production",
)
"""The benchmarks ``python -m benchmarks`` runs, in this order. Add a module here once it
exposes ``run(quick: bool) -> list[Row]``; until then it runs only when named."""
HELPERS = {
    "__init__",
    "__main__",
    "callbacks_day",
    "common",
    "fake_ami",
    "pop_ami",
    "pop_clients",
    "reports_data",
    "sms_load",
    "wallboard_clients",
}


def available() -> list[str]:
    """Every benchmark module in the package, listed or not."""
    names = {path.stem for path in Path(__file__).parent.glob("*.py")} - HELPERS
    return [*MODULES, *sorted(names - set(MODULES))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all of {MODULES})"
    )
    parser.add_argument("--quick", action="store_true", help="short runs, rougher figures")
    args = parser.parse_args(argv)
    known = available()
    unknown = [name for name in args.names if name not in known]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(known)}")
    rows: list[Row] = []
    for name in args.names or MODULES:
        print(f"running {name}{' (quick)' if args.quick else ''} …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        rows.extend(importlib.import_module(f"benchmarks.{name}").run(args.quick))
        print(f"{name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    print(machine())
    print(table(rows))
    return 0 if all(row.passed is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
