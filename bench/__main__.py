"""`python -m bench [--size full|quick|smoke] [--out FILE]`: run every scenario, print, save.

A scenario that fails (a timeout, a controller that died) is recorded under `errors` with
its message and the run goes on with the next one, so one failure still leaves the other
figures; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import report
from bench.scenarios import create_2048_and_noop, scale_restart_churn
from bench.sizes import SIZES, Size

RESULTS = Path(__file__).resolve().parent / "results"


def run(size: Size, say: Callable[[str], None]) -> dict[str, Any]:
    """Every scenario at `size`; the results dict (see bench/README.md for the keys)."""
    results: dict[str, Any] = {"meta": report.meta(size.name)}
    errors: dict[str, str] = {}
    started = time.monotonic()
    try:
        say("1-2: the 2048 example, then a no-op drift-check period")
        results["create_2048"], results["noop"] = create_2048_and_noop(size, say)
    except Exception as error:
        errors["create_2048+noop"] = f"{type(error).__name__}: {error}"
        say(traceback.format_exc())
    try:
        say("3-6: scale out, restart, target churn, memory")
        results.update(scale_restart_churn(size, say))
    except Exception as error:
        errors["scale+restart+targets"] = f"{type(error).__name__}: {error}"
        say(traceback.format_exc())
    results["meta"]["seconds"] = round(time.monotonic() - started, 1)
    if errors:
        results["errors"] = errors
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/<size>)")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    default_name = "latest.json" if size.name == "full" else f"{size.name}.json"
    out: Path = args.out or RESULTS / default_name
    results = run(size, report.stdout_say)
    report.write(results, out)
    report.stdout_say("")
    report.print_to(report.stdout_say, results)
    report.stdout_say(f"\nwritten to {out} ({results['meta']['seconds']}s)")
    return 1 if results.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
