"""The soak's bookkeeping, without a cluster: the two-writer count, the operation plan and the
fault mix.

The two-writer count is the HA figure of bench/README.md's reliability table, so it must
count a deposed leader's writes and only those: a reign starts at a process's first write
(only a leader writes), and any write of another process within it counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandbox.awsproxy.faults import FaultInjector
from sandbox.awsproxy.identify import Call
from sandbox.soak import Soak, SoakConfig, tracebacks_in, two_writer_calls, two_writer_count


def test_writes_of_the_leader_alone_count_nothing() -> None:
    writes = {"a-1": [1.0, 2.0, 5.0], "b-1": [11.0, 12.0], "b-2": []}  # b-2: a standby
    assert two_writer_count(writes) == 0


def test_a_deposed_leader_writing_after_the_new_leaders_first_write_counts() -> None:
    writes = {"a-1": [1.0, 10.5, 12.5, 13.0], "b-1": [12.0, 14.0]}
    # a-1's 10.5 came before b-1's first write (12.0): the old leader finishing a call as
    # the new one started; 12.5 and 13.0 came after: two writers.
    assert two_writer_count(writes) == 2
    assert [c[:3] for c in two_writer_calls(writes)] == [("a-1", 12.5, "b-1"), ("a-1", 13.0, "b-1")]


def test_leadership_comes_from_the_writes_not_from_a_late_look_at_the_lease() -> None:
    # The soak once saw the Lease change a moment after b-1's first writes, and counted them
    # against a-1's reign: reigns start at each process's first write instead.
    writes = {"a-1": [1.0, 2.0], "b-1": [20.0, 20.1, 21.0], "a-2": [40.0]}
    assert two_writer_count(writes) == 0


def test_a_restarted_replica_that_leads_again_is_a_new_reign() -> None:
    writes = {"a-1": [1.0], "b-1": [11.0, 29.0, 32.0], "a-2": [31.0]}
    assert two_writer_calls(writes) == [("b-1", 32.0, "a-2", 31.0)]


def _soak(tmp_path: Path, **config: Any) -> Soak:
    sandbox: Any = type("FakeSandbox", (), {"api": None, "cluster_name": "c"})()
    return Soak(sandbox, SoakConfig(seed=7, operations=40, check_every=10, **config), tmp_path)


def test_the_plan_is_the_seeds_and_holds_the_kills_asked_for(tmp_path: Path) -> None:
    first = _soak(tmp_path, min_kills=3, weights={"create": 1.0, "scale": 1.0})._plan()
    again = _soak(tmp_path, min_kills=3, weights={"create": 1.0, "scale": 1.0})._plan()
    assert first == again and len(first) == 40
    assert first.count("kill") == 3 and set(first) == {"create", "scale", "kill"}


@pytest.mark.parametrize("probability", [0.05, 0.2])
def test_the_fault_rules_fail_the_asked_share_of_each_services_calls(
    tmp_path: Path, probability: float
) -> None:
    rules = _soak(tmp_path, fault_probability=probability)._faults()
    injector = FaultInjector(seed=3)
    for rule in rules:
        injector.add(rule)
    calls = 20000
    fired = sum(
        injector.pick(Call(service="elbv2", operation="CreateRule", protocol="query")) is not None
        for _ in range(calls)
    )
    assert abs(fired / calls - probability) < 0.01
    kinds = {(r.action, r.after_upstream) for r in rules}
    assert ("reset", True) in kinds and ("timeout", True) in kinds and ("internal", False) in kinds


def test_tracebacks_are_found_with_their_exception_line() -> None:
    log = "\n".join([
        "2026-12-02 01:57:42 ERROR controller.kube.scheduler: reconcile of group g failed",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in f',
        "    raise WritesFencedError('ec2 DeleteSecurityGroup refused')",
        "controller.aws.clients.WritesFencedError: ec2 DeleteSecurityGroup refused",
        "2026-12-02 01:57:43 INFO something else",
        "Traceback (most recent call last):",
        '  File "y.py", line 2, in g',
        "KeyError: 'ingress.k8s.aws/stack'",
    ])  # fmt: skip
    assert tracebacks_in(log) == [
        "controller.aws.clients.WritesFencedError: ec2 DeleteSecurityGroup refused",
        "KeyError: 'ingress.k8s.aws/stack'",
    ]
