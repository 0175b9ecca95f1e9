"""IngressClassParams and Namespaces in the kube layer: cached, indexed, their changes
re-reconciling only the groups that use them, and a cluster without the CRD going on
without them (one WARNING per class that names params)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from kubernetes import client as k8s

from controller.config import ModelDefaults, Settings
from controller.kube import sync
from controller.kube.cache import ClusterCache
from controller.kube.operator import Runtime
from controller.kube.scheduler import Mode
from controller.kube.sync import ApiLister, InitialSync, UnavailableKindError
from sandbox import objects

from .fakes import FakeCluster, FakeDeployer, ingress

PARAMS = "IngressClassParams"
CLASS = objects.ingress_class(params="web")
OTHER_CLASS = objects.ingress_class("plain")


def make_runtime() -> Runtime:
    runtime = Runtime.create(Settings(cluster_name="test"), writer=None, deployer=FakeDeployer())  # type: ignore[arg-type]
    runtime.reconciler.writer = FakeCluster(runtime.cache)
    return runtime


def pending(runtime: Runtime) -> dict[str, Mode]:
    return dict(runtime.scheduler._pending)


async def test_a_params_change_rebuilds_only_the_groups_of_its_class() -> None:
    runtime = make_runtime()
    runtime.observe("IngressClass", None, CLASS)
    runtime.observe("IngressClass", None, OTHER_CLASS)
    runtime.observe(PARAMS, None, objects.ingress_class_params("web", {"scheme": "internal"}))
    runtime.observe("Ingress", None, ingress("a"))
    runtime.observe("Ingress", None, ingress("b", host="b.example.com", class_name="plain"))
    runtime.scheduler._pending.clear()
    runtime.observe(PARAMS, "MODIFIED", objects.ingress_class_params("web", {"scheme": "x"}))
    assert pending(runtime) == {"shop/a": Mode.FULL}
    runtime.scheduler._pending.clear()
    runtime.observe(PARAMS, "ADDED", objects.ingress_class_params("unused", {}))
    assert pending(runtime) == {}


async def test_a_params_group_name_moves_the_class_and_both_groups_are_rebuilt() -> None:
    runtime = make_runtime()
    runtime.observe("IngressClass", None, CLASS)
    runtime.observe(PARAMS, None, objects.ingress_class_params("web", {}))
    runtime.observe("Ingress", None, ingress("a"))
    membership = runtime.cache.membership("shop/a")
    assert membership is not None and membership.group is not None
    assert membership.group.id == "shop/a"
    runtime.scheduler._pending.clear()
    grouped = objects.ingress_class_params("web", {"group": {"name": "shared"}})
    runtime.observe(PARAMS, "MODIFIED", grouped)
    membership = runtime.cache.membership("shop/a")
    assert membership is not None and membership.group is not None
    assert (membership.group.id, membership.group.explicit) == ("shared", True)
    # The old group goes (its Ingress left it), the new one is made.
    assert pending(runtime) == {"shop/a": Mode.FULL, "shared": Mode.FULL}


async def test_a_namespace_label_change_rebuilds_the_groups_in_it() -> None:
    runtime = make_runtime()
    runtime.observe("IngressClass", None, CLASS)
    runtime.observe("Namespace", None, objects.namespace("shop", {"team": "web"}))
    runtime.observe("Namespace", None, objects.namespace("other"))
    runtime.observe("Ingress", None, ingress("a"))
    runtime.observe("Ingress", None, ingress("b", namespace="other", host="b.example.com"))
    runtime.scheduler._pending.clear()
    relabelled = objects.namespace("shop", {"team": "data"})
    runtime.observe("Namespace", "MODIFIED", relabelled)
    assert pending(runtime) == {"shop/a": Mode.FULL}
    runtime.scheduler._pending.clear()
    annotated = objects.namespace("shop", {"team": "data"})
    annotated["metadata"]["annotations"] = {"note": "labels unchanged"}
    runtime.observe("Namespace", "MODIFIED", annotated)
    assert pending(runtime) == {}


def test_the_cache_keeps_only_a_namespaces_name_and_labels() -> None:
    cache = ClusterCache(ModelDefaults(cluster_name="test"))
    body = objects.namespace("shop", {"team": "web"})
    body["metadata"]["annotations"] = {"big": "x" * 1000}
    body["status"] = {"phase": "Active"}
    cache.apply_event("Namespace", "ADDED", body)
    assert cache.state().namespaces == (
        {"kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "web"}}},
    )


def test_the_model_sees_params_from_the_cache() -> None:
    cache = ClusterCache(ModelDefaults(cluster_name="test"))
    cache.apply_event("IngressClass", None, CLASS)
    params = objects.ingress_class_params("web", {"scheme": "internet-facing"})
    cache.apply_event(PARAMS, None, params)
    assert cache.state().ingress_class_params == (params,)
    assert cache.groups_using_class_params("web") == set()
    cache.apply_event("Ingress", None, ingress("a"))
    assert cache.groups_using_class_params("web") == {"shop/a"}


def test_without_the_crd_params_cannot_be_read_and_each_class_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = ClusterCache(ModelDefaults(cluster_name="test"))
    cache.apply_event("IngressClass", None, CLASS)
    cache.apply_event("IngressClass", None, OTHER_CLASS)
    assert cache.state().ingress_class_params == ()
    with caplog.at_level(logging.WARNING, logger="controller.kube.cache"):
        cache.mark_unavailable(PARAMS)
        cache.apply_event("IngressClass", "MODIFIED", CLASS)  # logged already
    assert cache.state().ingress_class_params is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "IngressClass alb names IngressClassParams web" in warnings[0]


class Lister:
    def __init__(self, answers: dict[str, set[str]], unavailable: set[str]) -> None:
        self.answers = answers
        self.unavailable = unavailable

    def keys(self, kind: str) -> set[str]:
        if kind in self.unavailable:
            raise UnavailableKindError(kind)
        return set(self.answers.get(kind, set()))


class CacheView:
    def __init__(self, seen: dict[str, set[str]]) -> None:
        self.seen = seen

    def keys(self, kind: str) -> set[str]:
        return set(self.seen.get(kind, set()))

    def changed_before(self, kind: str, when: float) -> set[str]:
        return self.keys(kind)


async def test_the_initial_sync_does_not_wait_for_a_kind_the_cluster_lacks() -> None:
    lister = Lister({"Service": {"shop/web"}}, unavailable={PARAMS})
    told: list[str] = []
    barrier = InitialSync(
        lister,
        CacheView({"Service": {"shop/web"}}),
        ["Service", PARAMS],
        interval=0.01,
        on_unavailable=told.append,
    )
    await asyncio.wait_for(barrier.wait(), 1)
    assert told == [PARAMS]


async def test_the_audit_drops_what_a_removed_crd_took_along() -> None:
    gone: list[str] = []
    audit = sync.CacheAudit(
        Lister({}, unavailable={PARAMS}),
        CacheView({PARAMS: {"web"}}),
        [PARAMS],
        lambda _kind, key: gone.append(key),
    )
    assert await audit.audit(PARAMS) == 1
    assert gone == ["web"]


def test_the_api_lister_says_which_kind_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    lister = ApiLister(k8s.ApiClient())

    def not_found(*_: Any, **__: Any) -> set[str]:
        raise k8s.ApiException(status=404, reason="Not Found")

    monkeypatch.setattr(ApiLister, "_pages", staticmethod(not_found))
    with pytest.raises(UnavailableKindError):
        lister.keys(PARAMS)
    # Only an optional kind: a built-in one answering 404 is an error as before.
    with pytest.raises(k8s.ApiException):
        lister.keys("Namespace")
