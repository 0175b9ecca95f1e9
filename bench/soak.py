"""Scenario 7, the soak: hundreds of seeded random operations against two controller replicas
with leader kills and AWS faults, AWS checked against the plan after every quiet period.

The reliability issue's long run of `sandbox.soak` (see its docstring for what it does):
- `full`: 300 operations over 3 namespaces (4 apps, 5 Ingress slots each) and 3
  IngressGroups, a check every 15 operations, 2 replicas with leader election, at least 8
  kills of the leader (at least 4 of them SIGSTOPs for 20 s, past the 15 s lease), 20% of
  every AWS service's calls failing, the proxy's default AWS latency and token buckets;
  about 10-15 minutes on 2 cores;
- `quick`: the same at 40 operations and 2 kills (a few minutes);
- `smoke`: not run (the harness's smoke test stays short).

Figures (`results["soak"]`, bench/README.md's reliability table): faults injected (what the
proxies answered with a fault), operations run (and by kind), takeovers (changes of Lease
holder), the two-writer count, mismatches (differences that outlived the settle window),
duplicates, leaks after the final delete, crashes (controller exits the soak did not cause,
plus Tracebacks in the logs), with the details of each finding, the seed and the log
directory (kept: the controllers' logs and `operations.log`, what each operation did).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import report
from bench.env import BenchSandbox
from bench.sizes import Size
from sandbox.soak import Soak, SoakConfig, SoakResult, write_report

SOAK_SIZES = {
    "full": SoakConfig(
        seed=12,
        operations=300,
        check_every=15,
        namespaces=3,
        apps_per_namespace=4,
        slots_per_namespace=5,
        groups=3,
        replicas=2,
        min_kills=8,
        min_stops=4,
        fault_probability=0.2,
        aws_latency=True,
        aws_throttling=True,
        pause=(0.3, 1.5),
        quiet_seconds=5.0,
        settle_seconds=150.0,
        leader_timeout=120.0,
        delete_timeout=600.0,
    ),
    "quick": SoakConfig(
        seed=12,
        operations=40,
        check_every=10,
        replicas=2,
        min_kills=2,
        min_stops=1,
        fault_probability=0.2,
        aws_latency=True,
        aws_throttling=True,
        settle_seconds=120.0,
        delete_timeout=300.0,
    ),
}


def figures(result: SoakResult) -> dict[str, Any]:
    """The result as the results JSON keeps it: counts as numbers, findings as lists."""
    return {
        "seed": result.seed,
        "replicas": result.replicas,
        "seconds": result.seconds,
        "operations": result.operations,
        "operations_by_kind": result.operations_by_kind,
        "kills": result.kills,
        "faults_injected": result.faults_injected,
        "faults_by_service": result.faults_by_service,
        "aws_calls": result.aws_calls,
        "aws_mutating_calls": result.aws_mutating_calls,
        "quiet_checks": result.quiet_checks,
        "checks_settled_late": result.checks_settled_late,
        "settle_seconds_max": result.settle_seconds_max,
        "mismatches": len(result.mismatches),
        "duplicates": len(result.duplicates),
        "takeovers": result.takeovers,
        "two_writer": result.two_writer,
        "two_writer_in_flight": result.two_writer_in_flight,
        "crashes": result.crashes,
        "tracebacks": result.tracebacks,
        "fenced_writes": result.fenced_writes,
        "leaks": len(result.leaks),
        "plan_errors": len(result.plan_errors),
        "findings": {
            "mismatches": result.mismatches[:50],
            "duplicates": result.duplicates[:50],
            "two_writer_calls": result.two_writer_calls[:50],
            "leadership": result.leadership[:100],
            "crashes": result.crash_details[:20],
            "tracebacks": result.traceback_details[:20],
            "leaks": result.leaks[:50],
            "settled_late": result.transient[:50],
        },
        "log_dir": result.log_dir,
    }


def soak(size: Size, say: Callable[[str], None]) -> dict[str, Any]:
    """Run the soak at `size` in a fresh sandbox; its figures (see the module docstring)."""
    config = SOAK_SIZES[size.name]
    workdir = Path(tempfile.mkdtemp(prefix="alb-bench-soak-"))
    sandbox = BenchSandbox(nodes=2).start()
    try:
        result = Soak(sandbox, config, workdir, say).run()
    finally:
        sandbox.stop()
    write_report(result, workdir / "soak.json")
    say("  " + result.summary())
    return {**figures(result), "meta": report.meta(size.name)}


def describe(figures: dict[str, Any]) -> str:
    """The reliability figures in a few lines, for the end of a run."""
    return "\n".join([
        f"soak (seed {figures['seed']}, {figures['replicas']} replicas, "
        f"{figures['seconds']:.0f}s): {figures['operations']} operations "
        f"{figures['operations_by_kind']}, kills {figures['kills']}",
        f"  faults injected {figures['faults_injected']} of {figures['aws_calls']} AWS calls "
        f"{figures['faults_by_service']}",
        f"  quiet checks {figures['quiet_checks']} (settled late {figures['checks_settled_late']},"
        f" max {figures['settle_seconds_max']}s), takeovers {figures['takeovers']}",
        f"  mismatches {figures['mismatches']}, duplicates {figures['duplicates']}, two-writer "
        f"{figures['two_writer']} ({figures['two_writer_in_flight']} in flight at a SIGSTOP), "
        f"crashes {figures['crashes']} (tracebacks "
        f"{figures['tracebacks']}), leaks {figures['leaks']}",
    ])  # fmt: skip
