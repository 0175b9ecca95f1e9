"""The TargetGroupBinding reconciler with a fake cluster and a fake AWS side: finalizer before
any registration, targets synced only when they change, status and Events as LBC, problems
named by field once, deletion releasing targets and rules before the finalizer, LBC's own
bindings left alone, and watch events queueing only the bindings they touch."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client as k8s

from controller.aws import AwsError, WritesFencedError
from controller.aws.bindings import UnknownTargetGroupError
from controller.config import ModelDefaults, Settings
from controller.kube.binding_reconciler import (
    KIND,
    OWNED_ANNOTATION,
    BindingReconciler,
)
from controller.kube.cache import ClusterCache, object_key
from controller.kube.operator import Runtime
from controller.kube.scheduler import Mode
from controller.kube.sync import ApiLister, InitialSync, UnavailableKindError
from controller.model.binding import FINALIZER, BoundTargetGroup, Permission
from controller.model.stack import Target
from sandbox import objects

from .fakes import FakeDeployer, node, service

ARN = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/tf-web/0123"
TG = BoundTargetGroup(
    arn=ARN, name="tf-web", target_type="instance", ip_address_type="ipv4", vpc_id="vpc-1"
)
DEFAULTS = ModelDefaults(cluster_name="test")
NODE_TARGETS = frozenset({Target(id="i-0000000000000001", port=30080)})


def binding(name: str = "web", **spec: Any) -> dict[str, Any]:
    body = objects.target_group_binding(
        name, "shop", arn=spec.pop("arn", ARN), service="web", target_type=None, spec=spec
    )
    body["metadata"].update(
        uid=f"uid-{name}", resourceVersion="1", generation=1,
        creationTimestamp=f"2026-01-01T00:00:0{len(name) % 10}Z",
    )  # fmt: skip
    return body


@dataclass
class FakeAws:
    groups: dict[str, BoundTargetGroup] = field(default_factory=lambda: {ARN: TG})
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    fail: AwsError | None = None

    def target_group(self, arn: str | None, name: str | None) -> BoundTargetGroup:
        self.calls.append(("target_group", arn, name))
        found = self.groups.get(arn or "") or next(
            (g for g in self.groups.values() if g.name == name), None
        )
        if found is None:
            raise UnknownTargetGroupError(
                "target group", "TargetGroupNotFound", f"no target group {arn or name}",
                retryable=False,
            )  # fmt: skip
        return found

    def sync_targets(
        self, arn: str, desired: frozenset[Target], *, owned: frozenset[Target] | None = None
    ) -> int:
        self.calls.append(("sync_targets", arn, desired, owned))
        if self.fail is not None:
            raise self.fail
        return 1

    def release_targets(self, arn: str, *, owned: frozenset[Target] | None = None) -> int:
        self.calls.append(("release_targets", arn, owned))
        if self.fail is not None:
            raise self.fail
        return 1

    def sync_networking(
        self,
        binding: str,
        hosts: frozenset[str],
        permissions: frozenset[Permission],
        *,
        pending: Mapping[str, frozenset[Permission]],
    ) -> int:
        self.calls.append(("sync_networking", binding, hosts, permissions, dict(pending)))
        return 1

    def release_networking(
        self, binding: str, hosts: frozenset[str], *, pending: Mapping[str, frozenset[Permission]]
    ) -> int:
        self.calls.append(("release_networking", binding, hosts, dict(pending)))
        return 1

    def named(self, what: str) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] == what]


@dataclass
class FakeBindings:
    """The bindings the writer edits; each edit echoed into the cache like a watch event.
    `log` interleaves writes with the AWS side's calls, to check their order."""

    cache: ClusterCache
    aws: FakeAws
    events: list[tuple[str, str, str, str]] = field(default_factory=list)
    guard: bool = True  # False: a Lease that is late (writes fenced)

    def _edit(self, body: Mapping[str, Any]) -> dict[str, Any]:
        if not self.guard:
            raise WritesFencedError("not the leader now")
        current = self.cache.get(KIND, object_key(body))
        assert current is not None
        edited = copy.deepcopy(dict(current))
        meta = edited["metadata"]
        meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
        return edited

    def _store(self, edited: dict[str, Any]) -> None:
        meta = edited["metadata"]
        gone = meta.get("deletionTimestamp") and not meta.get("finalizers")
        self.cache.apply_event(KIND, "DELETED" if gone else "MODIFIED", edited)

    def add_finalizer(self, ingress: Mapping[str, Any], finalizer: str) -> None:
        edited = self._edit(ingress)
        finalizers = edited["metadata"].setdefault("finalizers", [])
        if finalizer not in finalizers:
            finalizers.append(finalizer)
            self.aws.calls.append(("add_finalizer",))
            self._store(edited)

    def remove_finalizer(self, ingress: Mapping[str, Any], finalizer: str) -> None:
        edited = self._edit(ingress)
        if finalizer in (edited["metadata"].get("finalizers") or []):
            edited["metadata"]["finalizers"].remove(finalizer)
            self.aws.calls.append(("remove_finalizer",))
            self._store(edited)

    def set_annotations(
        self, ingress: Mapping[str, Any], annotations: Mapping[str, str | None]
    ) -> None:
        edited = self._edit(ingress)
        edited["metadata"].setdefault("annotations", {}).update(annotations)
        self.aws.calls.append(("set_annotations", dict(annotations)))
        self._store(edited)

    def set_status(self, body: Mapping[str, Any], status: Mapping[str, Any]) -> None:
        edited = self._edit(body)
        edited["status"] = dict(status)
        self.aws.calls.append(("set_status", dict(status)))
        self._store(edited)

    def event(self, ingress: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        assert ingress["kind"] == KIND and ingress["apiVersion"] == "elbv2.k8s.aws/v1beta1"
        self.events.append((object_key(ingress), type_, reason, message))

    def delete(self, key: str) -> None:
        current = self.cache.get(KIND, key)
        assert current is not None
        edited = copy.deepcopy(dict(current))
        edited["metadata"]["deletionTimestamp"] = "2026-11-27T12:00:00Z"
        self._store(edited)

    def warnings(self) -> list[tuple[str, str, str]]:
        return [(key, reason, message) for key, kind, reason, message in self.events
                if kind == "Warning"]  # fmt: skip


@dataclass
class World:
    cache: ClusterCache
    aws: FakeAws
    cluster: FakeBindings
    reconciler: BindingReconciler

    def add(self, body: dict[str, Any]) -> str:
        self.cache.apply_event(KIND, None, body)
        return object_key(body)

    def body(self, key: str) -> dict[str, Any] | None:
        found = self.cache.get(KIND, key)
        return dict(found) if found is not None else None


@pytest.fixture
def world() -> World:
    cache = ClusterCache(DEFAULTS)
    cache.apply_event("Service", None, service())
    cache.apply_event("Node", None, node("n1", "i-0000000000000001"))
    aws = FakeAws()
    cluster = FakeBindings(cache, aws)
    return World(cache, aws, cluster, BindingReconciler(cache, cluster, aws, DEFAULTS))


def test_a_binding_gets_the_finalizer_then_its_targets_then_its_status(world: World) -> None:
    key = world.add(binding())
    assert world.reconciler.reconcile(key, Mode.FULL).retry_after is None
    order = [c[0] for c in world.aws.calls]
    assert order == ["target_group", "add_finalizer", "sync_targets", "set_status"]
    assert world.aws.named("sync_targets") == [("sync_targets", ARN, NODE_TARGETS, None)]
    body = world.body(key)
    assert body is not None
    assert body["metadata"]["finalizers"] == [FINALIZER]
    assert body["status"] == {"observedGeneration": 1}
    assert world.cluster.events == [(key, "Normal", "SuccessfullyReconciled",
                                     "Successfully reconciled")]  # fmt: skip


def test_an_unchanged_binding_makes_no_aws_call_until_the_drift_check(world: World) -> None:
    key = world.add(binding())
    world.reconciler.reconcile(key, Mode.FULL)
    world.aws.calls.clear()
    world.reconciler.reconcile(key, Mode.TARGETS)
    world.reconciler.reconcile(key, Mode.FULL)
    assert world.aws.calls == []
    world.reconciler.reconcile(key, Mode.DRIFT)
    assert [c[0] for c in world.aws.calls] == ["target_group", "sync_targets"]
    assert len(world.cluster.events) == 1  # no second SuccessfullyReconciled


def test_a_served_binding_tells_the_target_group_it_resolved(world: World) -> None:
    """Readiness gates read a binding's target group by the ARN it was found by."""
    key = world.add(binding())
    assert world.reconciler.resolved() == {}
    world.reconciler.reconcile(key, Mode.FULL)
    assert world.reconciler.resolved() == {key: ARN}


def test_a_target_change_is_synced(world: World) -> None:
    key = world.add(binding())
    world.reconciler.reconcile(key, Mode.FULL)
    world.cache.apply_event("Node", None, node("n2", "i-0000000000000002"))
    world.reconciler.reconcile(key, Mode.TARGETS)
    (_, _, desired, _) = world.aws.named("sync_targets")[-1]
    assert {t.id for t in desired} == {"i-0000000000000001", "i-0000000000000002"}
    assert [c[0] for c in world.aws.calls].count("target_group") == 1  # found once


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"arn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/nope/1"},
         "spec.targetGroupARN"),
        ({"arn": None, "targetGroupName": "nope"}, "spec.targetGroupName"),
    ],
)  # fmt: skip
def test_a_missing_target_group_is_one_warning_naming_the_field_and_a_retry(
    world: World, spec: dict[str, Any], field: str
) -> None:
    key = world.add(binding(**spec))
    first = world.reconciler.reconcile(key, Mode.FULL)
    second = world.reconciler.reconcile(key, Mode.FULL)
    assert first.retry_after is not None and second.retry_after is not None
    assert second.retry_after > first.retry_after  # backs off
    (warning,) = world.cluster.warnings()
    assert warning[1] == "FailedBuildModel"
    assert warning[2].startswith(f"{field}: no target group")
    assert world.aws.named("sync_targets") == []
    body = world.body(key)
    assert body is not None and not body["metadata"].get("finalizers")  # nothing held


def test_a_binding_without_a_target_group_reference_names_the_arn_field(world: World) -> None:
    key = world.add(binding(arn=None))
    assert world.reconciler.reconcile(key, Mode.FULL).retry_after is None  # an edit fixes it
    assert world.cluster.warnings() == [
        (key, "FailedBuildModel",
         "spec.targetGroupARN: neither targetGroupARN nor targetGroupName is set"),
    ]  # fmt: skip
    assert world.aws.calls == []


def test_a_target_type_the_group_does_not_have_is_named_and_nothing_registered(
    world: World,
) -> None:
    key = world.add(binding(targetType="ip"))
    world.reconciler.reconcile(key, Mode.FULL)
    ((_, reason, message),) = world.cluster.warnings()
    assert (reason, message.split(":")[0]) == ("FailedBuildModel", "spec.targetType")
    assert world.aws.named("sync_targets") == []


def test_a_missing_service_deregisters_the_targets_like_lbc(world: World) -> None:
    key = world.add(binding(serviceRef={"name": "gone", "port": 80}))
    world.reconciler.reconcile(key, Mode.FULL)
    assert world.aws.named("sync_targets") == [("sync_targets", ARN, frozenset(), None)]
    ((_, reason, message),) = world.cluster.warnings()
    assert reason == "BackendNotFound"
    assert message == "spec.serviceRef.name: no Service shop/gone"


def test_an_aws_failure_is_a_warning_and_a_retry_and_other_bindings_go_on(world: World) -> None:
    broken = world.add(binding("broken"))
    fine = world.add(binding("fine", arn="arn:fine"))
    world.aws.groups["arn:fine"] = BoundTargetGroup(
        arn="arn:fine", name="fine", target_type="instance", ip_address_type="ipv4", vpc_id="v"
    )
    world.aws.fail = AwsError("targets of target group", "Throttling", "slow down", retryable=True)
    outcome = world.reconciler.reconcile(broken, Mode.FULL)
    assert outcome.retry_after == 5.0
    ((_, reason, _),) = world.cluster.warnings()
    assert reason == "FailedDeployModel"
    world.aws.fail = None
    assert world.reconciler.reconcile(fine, Mode.FULL).retry_after is None
    # Once it succeeds, the failed one syncs again (its targets were not recorded as synced).
    world.aws.calls.clear()
    world.reconciler.reconcile(broken, Mode.TARGETS)
    assert [c[0] for c in world.aws.calls] == ["sync_targets", "set_status"]


def test_a_fenced_write_is_retried_and_registers_nothing(world: World) -> None:
    key = world.add(binding())
    world.cluster.guard = False
    assert world.reconciler.reconcile(key, Mode.FULL).retry_after == 5.0
    assert world.aws.named("sync_targets") == []


def test_deletion_deregisters_and_revokes_before_the_finalizer_goes(world: World) -> None:
    networking = {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}],
                               "ports": [{"port": 8080}]}]}  # fmt: skip
    key = world.add(binding(networking=networking))
    world.reconciler.reconcile(key, Mode.FULL)
    (call,) = world.aws.named("sync_networking")
    assert call[2] == {"i-0000000000000001"}
    assert call[3] == {("tcp", 8080, 8080, "cidr", "10.0.0.0/8")}
    world.cluster.delete(key)
    world.aws.calls.clear()
    world.aws.fail = AwsError("targets", "InternalError", "try later", retryable=True)
    assert world.reconciler.reconcile(key, Mode.FULL).retry_after is not None
    assert world.cluster.warnings()[-1][1] == "FailedCleanup"
    assert world.body(key) is not None  # the finalizer holds it
    world.aws.fail = None
    world.aws.calls.clear()
    world.reconciler.reconcile(key, Mode.FULL)
    assert [c[0] for c in world.aws.calls] == [
        "release_targets", "release_networking", "remove_finalizer",
    ]  # fmt: skip
    assert world.aws.calls[0] == ("release_targets", ARN, None)
    assert world.body(key) is None


def test_a_binding_deleted_before_it_was_served_is_left_to_go(world: World) -> None:
    key = world.add(binding())
    world.cluster.delete(key)  # no finalizer: the API server deletes it at once
    world.reconciler.reconcile(key, Mode.FULL)
    assert world.aws.calls == []


def test_lbcs_own_bindings_are_never_served(world: World) -> None:
    body = objects.target_group_binding("k8s-shop-web", "shop", arn=ARN, service="web",
                                        stack="shop/web")  # fmt: skip
    body["metadata"].update(resourceVersion="1", generation=1)
    key = world.add(body)
    world.reconciler.reconcile(key, Mode.FULL)
    world.cluster.delete(key)
    world.reconciler.reconcile(key, Mode.FULL)
    assert world.aws.calls == [] and world.cluster.events == []


def test_a_multi_cluster_binding_records_its_targets_before_registering(world: World) -> None:
    key = world.add(binding(multiClusterTargetGroup=True))
    world.reconciler.reconcile(key, Mode.FULL)
    kinds = [c[0] for c in world.aws.calls]
    assert kinds.index("set_annotations") < kinds.index("sync_targets")
    (sync,) = world.aws.named("sync_targets")
    assert sync[3] == NODE_TARGETS  # only its own may be deregistered
    body = world.body(key)
    assert body is not None
    assert json.loads(body["metadata"]["annotations"][OWNED_ANNOTATION]) == [
        ["i-0000000000000001", 30080]
    ]
    # Its node goes: it is deregistered as one of ours, then no longer recorded.
    world.cache.apply_event("Node", "DELETED", node("n1", "i-0000000000000001"))
    world.reconciler.reconcile(key, Mode.TARGETS)
    assert world.aws.named("sync_targets")[-1] == ("sync_targets", ARN, frozenset(), NODE_TARGETS)
    body = world.body(key)
    assert body is not None and json.loads(body["metadata"]["annotations"][OWNED_ANNOTATION]) == []


def test_after_a_restart_a_multi_cluster_binding_releases_the_targets_it_recorded(
    world: World,
) -> None:
    body = binding(multiClusterTargetGroup=True)
    body["metadata"]["finalizers"] = [FINALIZER]
    body["metadata"]["annotations"] = {OWNED_ANNOTATION: '[["i-0recorded", 30080]]'}
    key = world.add(body)
    world.cluster.delete(key)
    world.reconciler.reconcile(key, Mode.FULL)
    assert world.aws.named("release_targets") == [
        ("release_targets", ARN, frozenset({Target(id="i-0recorded", port=30080)}))
    ]


def test_a_second_binding_of_the_same_target_group_is_refused(world: World) -> None:
    older = world.add(binding("a"))  # created first (the fixture's timestamps)
    newer = world.add(binding("bb"))
    world.reconciler.reconcile(older, Mode.FULL)
    assert world.reconciler.reconcile(newer, Mode.FULL).retry_after is not None
    ((key, _, message),) = world.cluster.warnings()
    assert key == newer and "bound by TargetGroupBinding shop/a" in message
    assert [c[1] for c in world.aws.named("sync_targets")] == [ARN]  # the older one's only


# --- watch events -------------------------------------------------------------------------


def make_runtime() -> tuple[Runtime, FakeAws]:
    aws = FakeAws()
    runtime = Runtime.create(
        Settings(cluster_name="test"), writer=None, deployer=FakeDeployer(),  # type: ignore[arg-type]
        binding_deployer=aws, binding_writer=None,
    )  # fmt: skip
    assert runtime.target_group_bindings is None  # both are needed
    cluster = FakeBindings(ClusterCache(DEFAULTS), aws)
    runtime = Runtime.create(
        Settings(cluster_name="test"), writer=cluster, deployer=FakeDeployer(),  # type: ignore[arg-type]
        binding_deployer=aws, binding_writer=cluster,
    )  # fmt: skip
    return runtime, aws


def binding_requests(runtime: Runtime) -> dict[str, Mode]:
    assert runtime.target_group_bindings is not None
    return dict(runtime.target_group_bindings.scheduler._pending)


async def test_watch_events_queue_only_the_bindings_they_touch() -> None:
    runtime, _ = make_runtime()
    runtime.observe(KIND, None, binding("web"))
    runtime.observe(KIND, None, binding("api", serviceRef={"name": "api", "port": 80}))
    assert binding_requests(runtime) == {"shop/web": Mode.FULL, "shop/api": Mode.FULL}
    assert runtime.scheduler._pending == {}  # no Ingress group's business
    assert runtime.target_group_bindings is not None
    runtime.target_group_bindings.scheduler._pending.clear()

    slice_ = {"kind": "EndpointSlice", "metadata": {"name": "web-1", "namespace": "shop",
              "labels": {"kubernetes.io/service-name": "web"}}, "endpoints": []}  # fmt: skip
    runtime.observe("EndpointSlice", None, slice_)
    assert binding_requests(runtime) == {"shop/web": Mode.TARGETS}
    runtime.target_group_bindings.scheduler._pending.clear()
    runtime.observe("Service", None, service("api"))
    assert binding_requests(runtime) == {"shop/api": Mode.FULL}
    runtime.target_group_bindings.scheduler._pending.clear()
    runtime.observe("Node", None, node("n1", "i-1"))
    assert binding_requests(runtime) == {"shop/web": Mode.TARGETS, "shop/api": Mode.TARGETS}


async def test_our_own_writes_to_a_binding_queue_nothing_but_reach_the_cache() -> None:
    runtime, _ = make_runtime()
    body = binding("web")
    runtime.observe(KIND, None, body)
    assert runtime.target_group_bindings is not None
    runtime.target_group_bindings.scheduler._pending.clear()
    echoed = copy.deepcopy(body)
    echoed["metadata"].update(finalizers=[FINALIZER], resourceVersion="2",
                              annotations={OWNED_ANNOTATION: "[]"})  # fmt: skip
    echoed["status"] = {"observedGeneration": 1}
    runtime.observe(KIND, "MODIFIED", echoed)
    assert binding_requests(runtime) == {}
    cached = runtime.cache.get(KIND, "shop/web")
    assert cached is not None and cached["metadata"]["resourceVersion"] == "2"
    # A spec edit does queue it; a deletion drops it from the Service index.
    edited = copy.deepcopy(echoed)
    edited["spec"]["serviceRef"]["port"] = 8080
    runtime.observe(KIND, "MODIFIED", edited)
    assert binding_requests(runtime) == {"shop/web": Mode.FULL}
    runtime.target_group_bindings.scheduler._pending.clear()
    runtime.observe(KIND, "DELETED", edited)
    runtime.target_group_bindings.scheduler._pending.clear()
    runtime.observe("Service", None, service("web"))
    assert binding_requests(runtime) == {}


async def test_without_the_crd_the_initial_sync_goes_on_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Lister:
        def keys(self, kind: str) -> set[str]:
            if kind == KIND:
                raise UnavailableKindError(kind)
            return {"shop/web"} if kind == "Service" else set()

    cache = ClusterCache(DEFAULTS)
    cache.apply_event("Service", None, service())
    told: list[str] = []
    barrier = InitialSync(Lister(), cache, ["Service", KIND], interval=0.01,
                          on_unavailable=told.append)  # fmt: skip
    await asyncio.wait_for(barrier.wait(), 1)
    assert told == [KIND]
    warned = [r for r in caplog.records if "does not serve TargetGroupBinding" in r.getMessage()]
    assert len(warned) == 1


def test_the_api_lister_reports_the_binding_crd_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_found(*_: Any, **__: Any) -> set[str]:
        raise k8s.ApiException(status=404, reason="Not Found")

    monkeypatch.setattr(ApiLister, "_pages", staticmethod(not_found))
    for lister in (ApiLister(k8s.ApiClient()), ApiLister(k8s.ApiClient(), ["shop"])):
        with pytest.raises(UnavailableKindError):
            lister.keys(KIND)


def test_an_older_binding_that_is_not_served_does_not_hold_the_target_group(
    world: World,
) -> None:
    older = world.add(binding("a", targetType="ip"))  # the target group is instance: refused
    newer = world.add(binding("bb"))
    world.reconciler.reconcile(older, Mode.FULL)
    assert world.reconciler.reconcile(newer, Mode.FULL).retry_after is None
    assert [c[1] for c in world.aws.named("sync_targets")] == [ARN]
    assert [key for key, _, _ in world.cluster.warnings()] == [older]
