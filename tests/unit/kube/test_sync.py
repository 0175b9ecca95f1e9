"""The initial-sync barrier: no reconcile before the cache holds what the cluster held.

The restart outage it prevents: a group reconciled before its Services reached the cache
was deployed without the members using them, deleting their live rules and target groups.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from controller.config import Settings
from controller.kube import sync
from controller.kube.operator import Runtime, _start_when_leading
from controller.kube.sync import InitialSync

from .fakes import INGRESS_CLASS, FakeCluster, FakeDeployer, ingress, service


class FakeLister:
    """What a list of each kind returns; `answers[kind]` may be changed between lists."""

    def __init__(self, answers: dict[str, set[str]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def keys(self, kind: str) -> set[str]:
        self.calls.append(kind)
        return set(self.answers.get(kind, set()))


class FakeCacheView:
    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {}

    def keys(self, kind: str) -> set[str]:
        return set(self.seen.get(kind, set()))


async def test_waits_until_every_listed_object_reached_the_cache() -> None:
    lister = FakeLister({"Service": {"shop/web", "shop/api"}, "Node": {"n1"}})
    cache = FakeCacheView()
    waiting = asyncio.create_task(
        InitialSync(lister, cache, ["Service", "Node"], interval=0.01).wait()
    )
    await asyncio.sleep(0.05)
    cache.seen = {"Service": {"shop/web"}, "Node": {"n1"}}
    await asyncio.sleep(0.05)
    assert not waiting.done(), "returned with shop/api still unseen"
    cache.seen["Service"].add("shop/api")
    await asyncio.wait_for(waiting, 1)


async def test_an_object_deleted_before_the_watch_listed_it_is_not_waited_for() -> None:
    now = [0.0]
    lister = FakeLister({"Service": {"shop/web", "shop/gone"}})
    cache = FakeCacheView()
    cache.seen = {"Service": {"shop/web"}}
    barrier = InitialSync(lister, cache, ["Service"], clock=lambda: now[0], interval=0.01)
    waiting = asyncio.create_task(barrier.wait())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    lister.answers["Service"] = {"shop/web", "shop/new"}  # shop/gone deleted meanwhile
    now[0] = sync.RELIST_AFTER + 1
    await asyncio.wait_for(waiting, 1)
    # Listed once at start and once again; shop/new (created after the first list) is not
    # waited for: the watch delivers it like any change.
    assert lister.calls == ["Service", "Service"]


async def test_no_group_is_reconciled_before_the_cache_is_synced() -> None:
    lister = FakeLister({"Ingress": {"shop/web"}, "Service": {"shop/web"},
                         "IngressClass": {"alb"}})  # fmt: skip
    deployer = FakeDeployer()
    no_writer: Any = None  # replaced by a FakeCluster once the cache exists
    runtime = Runtime.create(
        Settings(cluster_name="test"), writer=no_writer, deployer=deployer, lister=lister
    )
    runtime.reconciler.writer = FakeCluster(runtime.cache)
    runtime.leading.set()
    runtime.observe("IngressClass", None, INGRESS_CLASS)
    runtime.observe("Ingress", None, ingress())  # its Service has not arrived yet
    starting = asyncio.create_task(_start_when_leading(runtime))
    await asyncio.sleep(0.5)
    assert deployer.deployed == [] and not starting.done()
    runtime.observe("Service", None, service())
    await asyncio.wait_for(starting, 2)
    await _until(lambda: bool(deployer.deployed))  # the scheduler's debounce, then the reconcile
    await runtime.scheduler.stop()
    [stack] = deployer.deployed
    assert [tg.name for tg in stack.target_groups], "deployed without the member's backend"


# --- the audit: deletions a watch gap hid ---------------------------------------------------


class FakeAuditedCache:
    """Keys with the time each was last changed."""

    def __init__(self, changed: dict[str, dict[str, float]]) -> None:
        self.changed = changed

    def keys(self, kind: str) -> set[str]:
        return set(self.changed.get(kind, {}))

    def changed_before(self, kind: str, when: float) -> set[str]:
        return {k for k, at in self.changed.get(kind, {}).items() if at < when}


async def test_the_audit_reports_what_the_cluster_lost_and_keeps_what_changed_since() -> None:
    now = [10.0]
    lister = FakeLister({"Service": {"shop/web"}})
    # shop/gone was deleted during the gap; shop/new arrived after the list began.
    cache = FakeAuditedCache({"Service": {"shop/web": 1.0, "shop/gone": 2.0, "shop/new": 11.0}})
    gone: list[tuple[str, str]] = []
    audit = sync.CacheAudit(lister, cache, ["Service"], lambda k, n: gone.append((k, n)),
                            clock=lambda: now[0])  # fmt: skip
    assert await audit.audit("Service") == 1
    assert gone == [("Service", "shop/gone")]


async def test_a_replayed_kind_is_audited_once_the_replay_settles() -> None:
    lister = FakeLister({"Service": {"shop/web"}})
    cache = FakeAuditedCache({"Service": {"shop/web": 0.0, "shop/gone": 0.0}})
    gone: list[str] = []
    audit = sync.CacheAudit(lister, cache, ["Service", "Node"], lambda _, key: gone.append(key),
                            every=3600, settle=0.1)  # fmt: skip
    running = asyncio.create_task(audit.run())
    try:
        await asyncio.sleep(0.2)
        assert lister.calls == [], "audited before anything was replayed"
        audit.replayed("Service")
        await _until(lambda: bool(gone))
        assert lister.calls == ["Service"], "the replayed kind alone, once"
        assert gone == ["shop/gone"]
    finally:
        running.cancel()


async def test_a_service_deleted_during_a_watch_gap_leaves_the_cache_and_redeploys() -> None:
    """After a 410 kopf replays the Services that exist; the one deleted meanwhile is never
    reported. The audit finds it, and the group is reconciled: its Ingress now names a
    missing Service."""
    lister = FakeLister({"Ingress": {"shop/web"}, "Service": {"shop/web"},
                         "IngressClass": {"alb"}})  # fmt: skip
    deployer = FakeDeployer()
    no_writer: Any = None
    runtime = Runtime.create(
        Settings(cluster_name="test"), writer=no_writer, deployer=deployer, lister=lister
    )
    cluster = FakeCluster(runtime.cache)
    runtime.reconciler.writer = cluster
    runtime.leading.set()
    runtime.observe("IngressClass", None, INGRESS_CLASS)
    runtime.observe("Service", None, service())
    runtime.observe("Ingress", None, ingress())
    starting = asyncio.create_task(_start_when_leading(runtime))
    await asyncio.wait_for(starting, 2)
    await _until(lambda: bool(deployer.deployed))
    assert runtime.audit is not None
    lister.answers["Service"] = set()  # deleted while the watch was down
    assert await runtime.audit.audit("Service") == 1
    assert runtime.cache.get("Service", "shop/web") is None

    def warned() -> bool:
        warnings = [message for _, type_, _, message in cluster.events if type_ == "Warning"]
        return any("service 'web' not found" in m for m in warnings)

    # A bounded wait, not a fixed sleep: a loaded CI machine took longer than 0.5 s.
    await _until(warned)
    await runtime.scheduler.stop()
    assert warned(), cluster.events


async def _until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Return once `check()` holds; give up after `timeout` so the assert that follows fails."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check() and loop.time() < deadline:
        await asyncio.sleep(0.02)
