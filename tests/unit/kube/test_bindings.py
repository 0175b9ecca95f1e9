"""LBC's TargetGroupBindings: which group each belongs to, and releasing them as groups settle.

Once LBC is scaled to zero nobody removes its finalizer from the bindings it made, so their
namespaces cannot be deleted. The controller releases a group's bindings (finalizer, then
the object) once it has applied or torn the group down; a user's own bindings and other
groups' are never touched, and a release that fails is tried again at the next settle.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.aws import AwsError
from controller.config import ModelDefaults, Settings
from controller.kube import bindings
from controller.kube.bindings import (
    FINALIZER,
    RESOURCE,
    IncumbentBindings,
    list_bindings,
    stack_of,
)
from controller.kube.operator import Runtime, _start_when_leading
from controller.kube.reconciler import GroupReconciler
from controller.kube.scheduler import Mode
from controller.kube.writer import JSON_PATCH, ApiWriter

from .fakes import INGRESS_CLASS, FakeCluster, FakeDeployer, cluster_cache, ingress, node, service

DEFAULTS = ModelDefaults(cluster_name="test")


def binding(name: str, labels: Mapping[str, str], *, namespace: str = "shop") -> dict[str, Any]:
    """A TargetGroupBinding as the API lists it, with LBC's finalizer."""
    return {
        "apiVersion": "elbv2.k8s.aws/v1beta1",
        "kind": "TargetGroupBinding",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}",
            "labels": dict(labels),
            "finalizers": [FINALIZER],
        },
        "spec": {"targetGroupARN": f"arn:tg/{name}", "serviceRef": {"name": "web", "port": 80}},
    }


def lone(namespace: str, name: str) -> dict[str, str]:
    """LBC's labels for the group of a lone Ingress."""
    return {"ingress.k8s.aws/stack-namespace": namespace, "ingress.k8s.aws/stack-name": name}


def explicit(group: str) -> dict[str, str]:
    return {"ingress.k8s.aws/stack": group}


USER = {"app": "web"}  # a user's own binding (of a target group made by Terraform, say)


class RecordingWriter:
    """Records each release; `fail[name]` is raised (once) for that binding."""

    def __init__(self) -> None:
        self.released: list[str] = []
        self.fail: dict[str, Exception] = {}

    def release_custom_object(
        self, resource: tuple[str, str, str], body: Mapping[str, Any], finalizer: str
    ) -> None:
        assert resource == RESOURCE and finalizer == FINALIZER
        name = body["metadata"]["name"]
        if (error := self.fail.pop(name, None)) is not None:
            raise error
        self.released.append(name)


# --- which group -----------------------------------------------------------------------------


def test_the_group_of_a_binding_comes_from_lbcs_labels() -> None:
    assert stack_of(explicit("shop")) == "shop"
    assert stack_of(lone("shop", "web")) == "shop/web"
    assert stack_of({**lone("shop", "web"), "app": "web"}) == "shop/web"


@pytest.mark.parametrize(
    "labels",
    [None, {}, USER, {"ingress.k8s.aws/stack-namespace": "shop"}, {"ingress.k8s.aws/stack": ""},
     # LBC's labels for a Service of type LoadBalancer (an NLB): not an Ingress group.
     {"service.k8s.aws/stack-namespace": "shop", "service.k8s.aws/stack-name": "web"}],
)  # fmt: skip
def test_a_binding_without_lbcs_ingress_labels_has_no_group(
    labels: dict[str, str] | None,
) -> None:
    assert stack_of(labels) is None


# --- releasing -------------------------------------------------------------------------------


def test_only_the_settled_groups_bindings_are_released_never_a_users() -> None:
    writer = RecordingWriter()
    found = IncumbentBindings(writer)
    found.load([
        binding("k8s-shop-web-1", lone("shop", "web")),
        binding("k8s-shop-web-2", lone("shop", "web")),
        binding("k8s-shop-api-1", lone("shop", "api")),
        binding("k8s-front-1", explicit("front")),
        binding("mine", USER),
    ])  # fmt: skip
    found.release("shop/web")
    assert writer.released == ["k8s-shop-web-1", "k8s-shop-web-2"]
    found.release("shop/web")  # released once: gone from the index
    found.release("unknown")
    assert writer.released == ["k8s-shop-web-1", "k8s-shop-web-2"]
    found.release("front")
    assert writer.released[2:] == ["k8s-front-1"]
    assert found.pending("shop/api") == ["shop/k8s-shop-api-1"]
    assert "mine" not in writer.released


def test_a_failed_release_is_logged_and_tried_again_at_the_next_settle(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = RecordingWriter()
    found = IncumbentBindings(writer)
    found.load([binding("k8s-shop-web-1", lone("shop", "web")),
                binding("k8s-shop-web-2", lone("shop", "web"))])  # fmt: skip
    writer.fail["k8s-shop-web-1"] = ApiException(status=500, reason="Internal Server Error")
    with caplog.at_level(logging.INFO, logger=bindings.__name__):
        found.release("shop/web")  # never raises into the reconcile
    assert writer.released == ["k8s-shop-web-2"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "shop/k8s-shop-web-1" in warnings[0], warnings
    assert found.pending("shop/web") == ["shop/k8s-shop-web-1"]
    found.release("shop/web")
    assert writer.released == ["k8s-shop-web-2", "k8s-shop-web-1"]
    assert found.pending("shop/web") == []


@pytest.mark.parametrize("status", [404, 409, 422])
def test_a_binding_gone_or_changed_since_the_list_is_left_alone(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    writer = RecordingWriter()
    found = IncumbentBindings(writer)
    found.load([binding("k8s-shop-web-1", lone("shop", "web"))])
    writer.fail["k8s-shop-web-1"] = ApiException(status=status)
    found.release("shop/web")
    assert found.pending("shop/web") == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_group_whose_deploy_fails_keeps_its_bindings() -> None:
    cache = cluster_cache(DEFAULTS)
    cache.apply_event("Ingress", "ADDED", ingress())
    throttled = AwsError("load balancer", "Throttling", "slow down", retryable=True)
    deployer = FakeDeployer(fail_with=throttled)
    writer = RecordingWriter()
    found = IncumbentBindings(writer)
    found.load([binding("k8s-shop-web-1", lone("shop", "web"))])
    reconciler = GroupReconciler(cache, FakeCluster(cache), deployer, DEFAULTS,
                                 settled=found.release)  # fmt: skip
    assert reconciler.reconcile("shop/web", Mode.FULL).retry_after is not None
    assert writer.released == []
    deployer.fail_with = None
    assert reconciler.reconcile("shop/web", Mode.FULL).retry_after is None
    assert writer.released == ["k8s-shop-web-1"]


class LateWriter:
    """Forwards to a `FakeCluster` made once the runtime's cache exists."""

    def __init__(self) -> None:
        self.cluster: FakeCluster | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cluster, name)


async def test_the_runtime_lists_bindings_when_leading_and_releases_them_as_groups_settle() -> None:
    listed = [binding("k8s-shop-web-1", lone("shop", "web")),
              binding("k8s-shop-api-1", lone("shop", "api")), binding("mine", USER)]  # fmt: skip
    calls: list[str] = []

    def list_them() -> list[dict[str, Any]]:
        calls.append("list")
        return listed

    late = LateWriter()
    deployer = FakeDeployer()
    writer: Any = late
    runtime = Runtime.create(Settings(cluster_name="test"), writer, deployer, bindings=list_them)
    cluster = late.cluster = FakeCluster(runtime.cache)
    for kind, body in (
        ("IngressClass", INGRESS_CLASS),
        ("Service", service()),
        ("Node", node("n1", "i-0000000000000001")),
        ("Ingress", ingress()),
    ):
        runtime.observe(kind, None, body)  # fmt: skip
    starting = asyncio.create_task(_start_when_leading(runtime))
    await asyncio.sleep(0.1)
    assert calls == [], "listed before leading"
    runtime.leading.set()
    await asyncio.wait_for(starting, 2)
    await asyncio.sleep(0.5)  # the scheduler's debounce, then the reconcile
    await runtime.scheduler.stop()
    assert calls == ["list"] and deployer.deployed
    released = [key for op, key in cluster.writes if op == "release_custom_object"]
    assert released == ["shop/k8s-shop-web-1"]


# --- listing ---------------------------------------------------------------------------------


class FakeCustomObjects:
    """`CustomObjectsApi`'s lists: pages of `items`, or `error` raised."""

    def __init__(self, pages: list[list[dict[str, Any]]], error: Exception | None = None) -> None:
        self.pages = pages
        self.error = error
        self.calls: list[tuple[Any, ...]] = []

    def _page(self, args: tuple[Any, ...], token: str | None) -> dict[str, Any]:
        self.calls.append((*args, token))
        if self.error is not None:
            raise self.error
        index = int(token or 0)
        more = {"continue": str(index + 1)} if index + 1 < len(self.pages) else {}
        return {"items": self.pages[index], "metadata": more}

    def list_cluster_custom_object(
        self, group: str, version: str, plural: str, *, limit: int, _continue: str | None
    ) -> dict[str, Any]:
        return self._page((group, version, plural), _continue)

    def list_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, *, limit: int,
        _continue: str | None,
    ) -> dict[str, Any]:  # fmt: skip
        return self._page((group, version, namespace, plural), _continue)


def test_bindings_are_listed_cluster_wide_page_by_page() -> None:
    one, two = binding("a", USER), binding("b", USER)
    api = FakeCustomObjects([[one], [two]])
    assert list_bindings(api) == [one, two]
    assert api.calls == [("elbv2.k8s.aws", "v1beta1", "targetgroupbindings", None),
                         ("elbv2.k8s.aws", "v1beta1", "targetgroupbindings", "1")]  # fmt: skip


def test_bindings_are_listed_in_each_watched_namespace() -> None:
    api = FakeCustomObjects([[binding("a", USER)]])
    assert len(list_bindings(api, ["shop", "front"])) == 2
    assert [call[2] for call in api.calls] == ["shop", "front"]


def test_no_crd_means_no_bindings_silently(caplog: pytest.LogCaptureFixture) -> None:
    api = FakeCustomObjects([], ApiException(status=404, reason="Not Found"))
    assert list_bindings(api) == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_forbidden_list_says_which_rule_is_missing(caplog: pytest.LogCaptureFixture) -> None:
    api = FakeCustomObjects([], ApiException(status=403, reason="Forbidden"))
    assert list_bindings(api) == []
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "ClusterRole lacks list on targetgroupbindings.elbv2.k8s.aws" in warning


# --- the API writer --------------------------------------------------------------------------


class FakeCustomWrites:
    """`CustomObjectsApi`'s patch and delete, recorded; `patch_error` raised by the patch."""

    def __init__(self, patch_error: Exception | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.patch_error = patch_error

    def patch_namespaced_custom_object(self, *args: Any, _content_type: str) -> None:
        self.calls.append(("patch", (*args, _content_type)))
        if self.patch_error is not None:
            raise self.patch_error

    def delete_namespaced_custom_object(self, *args: Any, body: Any) -> None:
        self.calls.append(("delete", (*args, body)))


def _api_writer(custom: FakeCustomWrites) -> ApiWriter:
    writer = ApiWriter(k8s.ApiClient())
    writer._custom = custom  # type: ignore[assignment]
    return writer


def test_the_api_writer_removes_the_finalizer_it_tested_then_deletes() -> None:
    custom = FakeCustomWrites()
    body = binding("k8s-shop-web-1", lone("shop", "web"))
    body["metadata"]["finalizers"] = ["example.com/other", FINALIZER]
    _api_writer(custom).release_custom_object(RESOURCE, body, FINALIZER)
    [(patch, patch_args), (delete, delete_args)] = custom.calls
    assert (patch, delete) == ("patch", "delete")
    path = "/metadata/finalizers/1"
    assert patch_args == (
        "elbv2.k8s.aws", "v1beta1", "shop", "targetgroupbindings", "k8s-shop-web-1",
        [{"op": "test", "path": path, "value": FINALIZER}, {"op": "remove", "path": path}],
        JSON_PATCH,
    )  # fmt: skip
    assert delete_args[:5] == ("elbv2.k8s.aws", "v1beta1", "shop", "targetgroupbindings",
                               "k8s-shop-web-1")  # fmt: skip
    assert delete_args[5].preconditions.uid == "uid-k8s-shop-web-1"  # not a later namesake


def test_the_api_writer_deletes_a_binding_without_the_finalizer_at_once() -> None:
    custom = FakeCustomWrites()
    body = binding("k8s-shop-web-1", lone("shop", "web"))
    body["metadata"]["finalizers"] = []
    _api_writer(custom).release_custom_object(RESOURCE, body, FINALIZER)
    assert [call for call, _ in custom.calls] == ["delete"]


def test_the_api_writer_takes_gone_as_done_and_raises_a_changed_copy() -> None:
    gone = FakeCustomWrites(ApiException(status=404))
    body = binding("k8s-shop-web-1", lone("shop", "web"))
    _api_writer(gone).release_custom_object(RESOURCE, body, FINALIZER)
    assert [call for call, _ in gone.calls] == ["patch"]
    changed = FakeCustomWrites(ApiException(status=422))
    with pytest.raises(ApiException):
        _api_writer(changed).release_custom_object(RESOURCE, body, FINALIZER)
    assert [call for call, _ in changed.calls] == ["patch"], "deleted though the test failed"
