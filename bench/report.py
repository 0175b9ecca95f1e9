"""The results: the table printed at the end of a run, and the JSON file.

`TARGETS` holds the issue's targets and the incumbent's published figures beside which each
result is printed; they are quoted, never computed, and never loosened to fit a result.
The JSON keeps the issue's key names (values numbers); `meta` says where and when it ran.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# (section, key) -> (what, target, incumbent's figure)
TARGETS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("create_2048", "mutating_calls"): ("2048: mutating calls", "-", "-"),
    ("create_2048", "read_calls"): ("2048: read calls", "-", "-"),
    ("create_2048", "seconds_to_hostname"): ("2048: seconds to hostname", "-", "-"),
    ("create_2048", "seconds_to_dns"): ("2048: seconds to DNS record", "-", "-"),
    ("create_2048", "seconds_to_hostname_no_latency"): (
        "2048 without AWS latency: seconds to hostname",
        "<= the incumbent's",
        "0.64-1.19 (same sandbox, 2026-12-01)",
    ),
    ("noop", "mutating_calls"): ("no-op period: mutating calls", "0", "-"),
    ("noop", "read_calls_per_group"): ("no-op period: reads per group", "< 1", "-"),
    ("restart", "seconds"): (
        "restart: seconds to verified+idle",
        "<= 30 (1,000 Ingresses)",
        ">5400 for 900 (#3540); 600-1200 after leader change (#3326)",
    ),
    ("restart", "calls"): ("restart: calls", "<= 200", "-"),
    ("restart", "mutating_calls"): ("restart: mutating calls", "0", "-"),
    ("targets", "p50_seconds"): ("targets: change -> call p50 (s)", "<= 1", "minutes (#2287)"),
    ("targets", "p99_seconds"): ("targets: change -> call p99 (s)", "<= 0.5", "10 min (#1974)"),
    ("targets", "deregister_p50_seconds"): (
        "targets: address lost (terminating) -> DeregisterTargets p50 (s)",
        "<= 1",
        "-",
    ),
    ("targets", "calls_per_change"): ("targets: calls per change", "1 per TG", "-"),
    ("rss_mib", "peak"): ("controller peak RSS during 3+4 (MiB)", "<= 128", "-"),
    ("gates", "healthy_to_condition_p50_seconds"): (
        "readiness gates: healthy in AWS -> condition True p50 (s)",
        "<= 2 (the poll)",
        "up to 15 (a requeue every 15 s)",
    ),
    ("gates", "healthy_to_condition_max_seconds"): (
        "readiness gates: healthy -> condition True max (s)",
        "<= 2",
        "-",
    ),
    ("gates", "describe_target_health_calls_idle"): (
        "readiness gates: DescribeTargetHealth with no pod waiting",
        "0",
        "-",
    ),
    ("rss_mib", "sandbox_harness_peak"): ("sandbox: proxy+harness RSS (MiB)", "-", "-"),
    ("rss_mib", "sandbox_moto_peak"): ("sandbox: moto RSS (MiB)", "-", "-"),
    ("rss_mib", "sandbox_apiserver_peak"): ("sandbox: kube-apiserver RSS (MiB)", "-", "-"),
    ("rss_mib", "sandbox_etcd_peak"): ("sandbox: etcd RSS (MiB)", "-", "-"),
}


def meta(size: str) -> dict[str, Any]:
    return {
        "size": size,
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": os.cpu_count() or 0,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "memory_gib": round(_mem_total_kib() / 1024 / 1024, 1),
        "commit": _git_commit(),
    }


def _mem_total_kib() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parent,
        )
    except OSError:
        return ""
    return out.stdout.strip()


def table(results: dict[str, Any]) -> str:
    """The figures as a fixed-width table: figure, result, target, incumbent."""
    rows = [("figure", "result", "target", "incumbent")]
    for (section, key), (what, target, incumbent) in TARGETS.items():
        value = (results.get(section) or {}).get(key) if section != "scale" else None
        rows.append((what, _shown(value), target, incumbent))
    for entry in results.get("scale") or ():
        rows.append(
            (
                f"scale {entry['ingresses']} Ingresses ({entry['load_balancers']} ALBs): "
                "seconds / calls / throttled",
                f"{entry['seconds']} / {entry['calls']} / {entry['throttled']}",
                "near linear",
                ">5400 s for 900 (#3540)" if entry["ingresses"] >= 900 else "-",
            )
        )
    for section, error in (results.get("errors") or {}).items():
        rows.append((f"{section}: FAILED", error.splitlines()[0][:60], "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _shown(value: Any) -> str:
    if value is None:
        return "(not run)"
    return f"{value:g}" if isinstance(value, float) else str(value)


def write(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def print_to(out: Callable[[str], None], results: dict[str, Any]) -> None:
    out(table(results))


def stdout_say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
