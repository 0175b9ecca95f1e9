"""The leader elector cannot die quietly: it logs why, stops writing in time, and exits.

A fake Lease API and a fake clock (each sleep advances it) make every case exact. What the
`kubernetes` client's elector did wrong, each has a case here: an API outage killed its
thread without `on_lost` (split brain), a 403 was retried with nothing logged, an API server
down at start-up killed it at once.
"""

from __future__ import annotations

import datetime
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes import client as k8s
from urllib3.exceptions import MaxRetryError

from controller.kube.leader import LeaderElector


class FakeLeases:
    """One Lease, resourceVersion bumped on every write; `down` makes every call fail."""

    def __init__(self) -> None:
        self.lease: Any = None
        self.version = 0
        self.down: Exception | None = None
        self.writes: list[str] = []

    def _check(self) -> None:
        if self.down is not None:
            raise self.down

    def read_namespaced_lease(self, name: str, namespace: str, **_: Any) -> Any:
        self._check()
        if self.lease is None:
            raise k8s.ApiException(status=404, reason="Not Found")
        return self.lease

    def _store(self, body: dict[str, Any]) -> None:
        self.version += 1
        spec = body["spec"]
        self.lease = SimpleNamespace(
            metadata=SimpleNamespace(resource_version=str(self.version)),
            spec=SimpleNamespace(
                holder_identity=spec["holderIdentity"],
                lease_duration_seconds=spec["leaseDurationSeconds"],
                lease_transitions=spec["leaseTransitions"],
                acquire_time=datetime.datetime.now(datetime.UTC),
            ),
        )
        self.writes.append(spec["holderIdentity"])

    def create_namespaced_lease(self, namespace: str, body: dict[str, Any], **_: Any) -> None:
        self._check()
        if self.lease is not None:
            raise k8s.ApiException(status=409, reason="Conflict")
        self._store(body)

    def replace_namespaced_lease(self, name: str, namespace: str, body: Any, **_: Any) -> None:
        self._check()
        if body["metadata"]["resourceVersion"] != str(self.version):
            raise k8s.ApiException(status=409, reason="Conflict")
        self._store(body)

    def held_by(self, holder: str) -> None:
        self._store({"spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
                              "leaseTransitions": 0}})  # fmt: skip


def refused() -> MaxRetryError:
    """What urllib3 raises when the API server does not answer (as in the outage)."""
    return MaxRetryError(None, "/", ConnectionRefusedError("refused"))  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.hooks: list[tuple[float, Any]] = []  # (at, action) run once the clock passes

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        for at, action in list(self.hooks):
            if self.now >= at:
                self.hooks.remove((at, action))
                action()


def elector(leases: FakeLeases, clock: Clock, events: list[str], name: str = "a") -> LeaderElector:
    made = LeaderElector(
        None, "alb-ingress-controller", name,
        on_started=lambda: events.append(f"started@{clock.now - 1000:.0f}"),
        on_lost=lambda: events.append(f"lost@{clock.now - 1000:.0f}"),
        clock=clock, sleep=clock.sleep, leases=leases,
    )  # fmt: skip
    return made


def test_an_api_outage_stops_writes_by_the_deadline_and_calls_on_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    leases, clock, events = FakeLeases(), Clock(), list[str]()
    made = elector(leases, clock, events)
    clock.hooks.append((1010.0, lambda: setattr(leases, "down", refused())))
    with caplog.at_level(logging.WARNING):
        made.run()
    assert events[0] == "started@0"
    # Renewed at 8 s (the last success before 10 s), so writes stop at 18 s and the loop
    # notices at its next attempt.
    assert events[1] in ("lost@18", "lost@20")
    assert not made.may_write()
    failures = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(failures) >= 4 and all("MaxRetryError" in m for m in failures)
    assert any("could not renew" in r.getMessage() for r in caplog.records)


def test_may_write_is_false_as_soon_as_the_renew_deadline_passes() -> None:
    leases, clock, events = FakeLeases(), Clock(), list[str]()
    made = elector(leases, clock, events)
    made._try()
    assert made.may_write()
    clock.now += 9.9
    assert made.may_write()
    clock.now += 0.2  # e.g. the process was SIGSTOPped: no loop ran meanwhile
    assert not made.may_write()


def test_a_403_is_logged_with_what_rbac_must_allow(caplog: pytest.LogCaptureFixture) -> None:
    leases, clock, events = FakeLeases(), Clock(), list[str]()
    leases.down = k8s.ApiException(status=403, reason="Forbidden")
    made = elector(leases, clock, events)
    clock.hooks.append((1006.0, made.stop))
    with caplog.at_level(logging.WARNING):
        made.run()
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "HTTP 403 Forbidden" in m]) >= 3  # every attempt
    assert any("get, update and create" in m for m in messages)
    assert events == []


def test_an_api_server_down_at_start_up_is_waited_out() -> None:
    leases, clock, events = FakeLeases(), Clock(), list[str]()
    leases.down = refused()
    made = elector(leases, clock, events)
    clock.hooks.append((1030.0, lambda: setattr(leases, "down", None)))
    clock.hooks.append((1040.0, made.stop))
    made.run()
    assert events == ["started@30"]


def test_a_fresh_lease_of_another_is_taken_only_after_a_full_lease_duration_unchanged() -> None:
    leases, clock, events = FakeLeases(), Clock(), list[str]()
    leases.held_by("b")
    made = elector(leases, clock, events)
    clock.hooks.append((1030.0, made.stop))
    made.run()
    # First seen at 0 s; unchanged for more than 15 s by 16 s, taken at the next attempt.
    assert events[0] == "started@16"
    assert leases.writes == ["b", "a"] + ["a"] * (len(leases.writes) - 2)


def test_a_renewing_holder_is_never_displaced() -> None:
    leases, clock, events = FakeLeases(), Clock(), list[str]()
    leases.held_by("b")
    made = elector(leases, clock, events)
    for second in range(5, 60, 5):
        clock.hooks.append((1000.0 + second, lambda: leases.held_by("b")))
    clock.hooks.append((1060.0, made.stop))
    made.run()
    assert events == [] and "a" not in leases.writes


def test_a_leader_that_finds_another_holder_stops_at_once() -> None:
    leases, clock, events = FakeLeases(), Clock(), list[str]()
    made = elector(leases, clock, events)
    clock.hooks.append((1005.0, lambda: leases.held_by("b")))
    made.run()
    assert events == ["started@0", "lost@6"]
    assert not made.may_write()
