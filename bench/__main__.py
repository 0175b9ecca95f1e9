"""`python -m bench [--size full|quick|smoke] [--only NAME ...] [--out FILE]`: run the
scenarios, print, save.

A scenario that fails (a timeout, a controller that died) is recorded under `errors` with
its message and the run goes on with the next one, so one failure still leaves the other
figures; the exit status is then 1. `--only` runs some scenarios (`2048`: 1-2, `scale`: 3-6,
`soak`: 7, `gates`: 8, pod readiness gates) and merges their figures into the results
file instead of replacing it, so the other scenarios' figures stay. The soak runs at the
sizes `bench.soak.SOAK_SIZES` names (not at `smoke`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from bench import report
from bench.gates import readiness_gates
from bench.scenarios import create_2048_and_noop, scale_restart_churn
from bench.sizes import SIZES, Size
from bench.soak import SOAK_SIZES, describe, soak

RESULTS = Path(__file__).resolve().parent / "results"


SCENARIOS = ("2048", "scale", "soak", "gates")


def run(
    size: Size, say: Callable[[str], None], only: Collection[str] = SCENARIOS
) -> dict[str, Any]:
    """The scenarios named in `only` at `size`; the results dict (keys: bench/README.md)."""
    results: dict[str, Any] = {"meta": report.meta(size.name)}
    errors: dict[str, str] = {}
    started = time.monotonic()
    if "2048" in only:
        try:
            say("1-2: the 2048 example, then a no-op drift-check period")
            results["create_2048"], results["noop"] = create_2048_and_noop(size, say)
        except Exception as error:
            errors["create_2048+noop"] = f"{type(error).__name__}: {error}"
            say(traceback.format_exc())
    if "scale" in only:
        try:
            say("3-6: scale out, restart, target churn, memory")
            results.update(scale_restart_churn(size, say))
        except Exception as error:
            errors["scale+restart+targets"] = f"{type(error).__name__}: {error}"
            say(traceback.format_exc())
    if "soak" in only and size.name in SOAK_SIZES:
        try:
            say("7: the soak (random operations, leader kills, AWS faults)")
            results["soak"] = soak(size, say)
        except Exception as error:
            errors["soak"] = f"{type(error).__name__}: {error}"
            say(traceback.format_exc())
    if "gates" in only:
        try:
            say("8: pod readiness gates (healthy in AWS -> pod condition True)")
            results["gates"] = readiness_gates(size, say)
        except Exception as error:
            errors["gates"] = f"{type(error).__name__}: {error}"
            say(traceback.format_exc())
    results["meta"]["seconds"] = round(time.monotonic() - started, 1)
    if errors:
        results["errors"] = errors
    return results


ERROR_KEYS = {
    "2048": "create_2048+noop",
    "scale": "scale+restart+targets",
    "soak": "soak",
    "gates": "gates",
}


def merged(results: dict[str, Any], out: Path, only: Collection[str]) -> dict[str, Any]:
    """`results` of the scenarios in `only` over the figures already in `out`: only their
    sections and errors are replaced; the file's `meta` stays that of its full run, and this
    run's goes under `meta_partial`."""
    try:
        previous: dict[str, Any] = json.loads(out.read_text())
    except (OSError, ValueError):
        return results
    combined = {**previous, **{k: v for k, v in results.items() if k not in ("meta", "errors")}}
    combined["meta_partial"] = results["meta"]
    rerun = {ERROR_KEYS[name] for name in only}
    errors = {k: v for k, v in (previous.get("errors") or {}).items() if k not in rerun}
    errors.update(results.get("errors") or {})
    combined.pop("errors", None)
    if errors:
        combined["errors"] = errors
    return combined


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument(
        "--only", choices=SCENARIOS, action="append", help="run only this (repeatable; merges)"
    )
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/<size>)")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    default_name = "latest.json" if size.name == "full" else f"{size.name}.json"
    out: Path = args.out or RESULTS / default_name
    results = run(size, report.stdout_say, args.only or SCENARIOS)
    seconds = results["meta"]["seconds"]
    failed = bool(results.get("errors"))
    if args.only:
        results = merged(results, out, args.only)
    report.write(results, out)
    report.stdout_say("")
    report.print_to(report.stdout_say, results)
    if "soak" in results:
        report.stdout_say("")
        report.stdout_say(describe(results["soak"]))
    report.stdout_say(f"\nwritten to {out} ({seconds}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
