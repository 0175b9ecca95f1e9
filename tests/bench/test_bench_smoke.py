"""The benchmark harness runs end to end at its smallest size and writes well-formed results.

One run of every scenario (`bench.sizes.SMOKE`: moto, a real control plane with kwok Nodes,
the AWS proxy and a real controller process). Asserts only that the harness works: every key
the issue names is there, every figure is a number, and the counts are consistent with each
other. It asserts no timing figure: those depend on the machine and are what `make bench` is
for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.__main__ import run
from bench.sizes import SMOKE

REQUIRED = {
    "create_2048": {
        "mutating_calls",
        "read_calls",
        "seconds_to_hostname",
        "seconds_to_dns",
        "seconds_to_hostname_no_latency",
    },
    "noop": {"mutating_calls", "read_calls_per_group"},
    "restart": {"ingresses", "seconds", "calls", "mutating_calls"},
    "targets": {"p50_seconds", "p99_seconds", "deregister_p50_seconds", "calls_per_change"},
    "rss_mib": {"peak"},
    "gates": {
        "pods",
        "seconds_to_ready",
        "healthy_to_condition_p50_seconds",
        "healthy_to_condition_max_seconds",
        "describe_target_health_calls",
        "describe_target_health_calls_idle",
    },
}
SCALE_KEYS = {"ingresses", "seconds", "calls", "throttled"}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    found = run(SMOKE, lambda _: None)
    report.write(found, out)
    loaded: dict[str, Any] = json.loads(Path(out).read_text())
    return loaded


def test_every_scenario_ran(results: dict[str, Any]) -> None:
    assert "errors" not in results, results.get("errors")


@pytest.mark.parametrize("section", sorted(REQUIRED))
def test_required_keys_are_numbers(results: dict[str, Any], section: str) -> None:
    figures = results[section]
    for key in REQUIRED[section]:
        assert _is_number(figures.get(key)), f"{section}.{key} = {figures.get(key)!r}"


def test_scale_entries(results: dict[str, Any]) -> None:
    assert len(results["scale"]) == len(SMOKE.scale)
    for entry, fleet in zip(results["scale"], SMOKE.scale, strict=True):
        for key in SCALE_KEYS:
            assert _is_number(entry.get(key)), f"scale.{key} = {entry.get(key)!r}"
        assert entry["ingresses"] == fleet.ingresses


def test_counts_are_consistent(results: dict[str, Any]) -> None:
    create = results["create_2048"]
    assert create["mutating_calls"] > 0, "creating an ALB takes mutating calls"
    assert sum(create["operations"].values()) == create["mutating_calls"] + create["read_calls"]
    assert "elbv2.CreateLoadBalancer" in create["operations"]
    entry = results["scale"][0]
    assert entry["calls"] == entry["mutating_calls"] + entry["read_calls"]
    assert 0 <= entry["throttled"] <= entry["calls"]
    restart = results["restart"]
    assert restart["ingresses"] == SMOKE.scale[-1].ingresses
    assert 0 <= restart["mutating_calls"] <= restart["calls"]
    targets = results["targets"]
    assert targets["changes"] > 0 and targets["calls"] > 0
    assert targets["p50_seconds"] <= targets["p99_seconds"]
    rss = results["rss_mib"]
    assert rss["peak"] > 0
    assert rss["sandbox_apiserver_peak"] > 0 and rss["sandbox_etcd_peak"] > 0


def test_table_names_every_figure(results: dict[str, Any]) -> None:
    text = report.table(results)
    assert "(not run)" not in text
    assert "restart: mutating calls" in text
