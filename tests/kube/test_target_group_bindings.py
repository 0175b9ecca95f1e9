"""TargetGroupBindings against a real kube-apiserver (the shipped CRD installed): the writer's
finalizer, annotation, status and Event writes on the custom object, the lister's keys, and
the kopf operator serving a binding (a fake AWS side) from creation to deletion."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from kubernetes import client as k8s

from controller.aws import WritesFencedError
from controller.config import Settings
from controller.kube.binding_reconciler import OWNED_ANNOTATION
from controller.kube.operator import Runtime
from controller.kube.sync import ApiLister
from controller.kube.writer import ApiWriter, StaleCopyError
from controller.model.binding import FINALIZER
from controller.model.stack import Target
from sandbox import objects
from sandbox.controlplane import ControlPlane
from sandbox.runner import install_crds
from tests.kube.test_operator import _operator, _registry, eventually
from tests.unit.kube.fakes import FakeDeployer, node, service
from tests.unit.kube.test_target_group_bindings import ARN, FakeAws

GROUP, VERSION, PLURAL = "elbv2.k8s.aws", "v1beta1", "targetgroupbindings"


@pytest.fixture
def custom(admin_api: k8s.ApiClient) -> Any:
    install_crds(admin_api)  # applied again harmlessly when the session has them
    return k8s.CustomObjectsApi(admin_api)


def create(custom: Any, namespace: str, name: str = "web") -> dict[str, Any]:
    body = objects.target_group_binding(name, namespace, arn=ARN, service="web")
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    return read(custom, namespace, name)


def read(custom: Any, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = custom.get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name
    )
    return found


def test_the_writer_edits_a_binding_as_it_does_an_ingress(
    admin_api: k8s.ApiClient, custom: Any, namespace: str
) -> None:
    writer = ApiWriter(admin_api)
    body = create(custom, namespace)
    writer.add_finalizer(body, FINALIZER)
    assert read(custom, namespace, "web")["metadata"]["finalizers"] == [FINALIZER]
    writer.set_annotations(body, {OWNED_ANNOTATION: "[]"})
    writer.set_status(body, {"observedGeneration": 1})
    found = read(custom, namespace, "web")
    assert found["status"] == {"observedGeneration": 1}
    assert found["metadata"]["annotations"] == {OWNED_ANNOTATION: "[]"}
    assert found["metadata"]["generation"] == 1  # status and metadata are not the spec
    # A stale copy with another finalizer list: refused, not overwritten.
    stale = {**body, "metadata": {**body["metadata"], "finalizers": ["example.com/x", FINALIZER]}}
    with pytest.raises(StaleCopyError):
        writer.remove_finalizer(stale, FINALIZER)
    writer.remove_finalizer(found, FINALIZER)
    assert not read(custom, namespace, "web")["metadata"].get("finalizers")


def test_events_name_the_binding(admin_api: k8s.ApiClient, custom: Any, namespace: str) -> None:
    writer = ApiWriter(admin_api)
    body = create(custom, namespace, "noticed")
    writer.event(body, "Warning", "BackendNotFound", "spec.serviceRef.name: no Service")
    (event,) = (
        k8s.CoreV1Api(admin_api)
        .list_namespaced_event(namespace, field_selector="involvedObject.name=noticed")
        .items
    )
    assert (event.involved_object.kind, event.involved_object.api_version) == (
        "TargetGroupBinding", "elbv2.k8s.aws/v1beta1",
    )  # fmt: skip
    assert event.involved_object.uid == body["metadata"]["uid"]
    assert event.reason == "BackendNotFound"


def test_a_replica_that_may_not_write_changes_no_binding(
    admin_api: k8s.ApiClient, custom: Any, namespace: str
) -> None:
    writer = ApiWriter(admin_api)
    writer.write_guard = lambda: False
    body = create(custom, namespace, "fenced")
    for write in (
        lambda: writer.add_finalizer(body, FINALIZER),
        lambda: writer.set_status(body, {"observedGeneration": 1}),
    ):
        with pytest.raises(WritesFencedError):
            write()
    assert (
        read(custom, namespace, "fenced")["metadata"]["resourceVersion"]
        == (body["metadata"]["resourceVersion"])
    )


def test_the_lister_lists_bindings_everywhere_and_in_a_namespace(
    admin_api: k8s.ApiClient, custom: Any, namespace: str
) -> None:
    create(custom, namespace, "listed")
    key = f"{namespace}/listed"
    assert key in ApiLister(admin_api).keys("TargetGroupBinding")
    assert ApiLister(admin_api, [namespace]).keys("TargetGroupBinding") == {key}


async def test_the_operator_serves_a_binding_and_lets_it_go(
    control_plane: ControlPlane, admin_api: k8s.ApiClient, custom: Any, namespace: str
) -> None:
    core = k8s.CoreV1Api(admin_api)
    core.create_namespaced_service(namespace, _plain(service(namespace=namespace)))
    node_body = _plain(node(f"tgb-{namespace}", "i-0000000000000009"))
    core.create_node(node_body)
    core.patch_node_status(node_body["metadata"]["name"], {"status": node_body["status"]})
    aws = FakeAws()
    runtime = Runtime.create(
        Settings(cluster_name="test", resync_seconds=3600), ApiWriter(admin_api), FakeDeployer(),
        binding_deployer=aws, binding_writer=ApiWriter(admin_api),
    )  # fmt: skip
    runtime.leading.set()
    stop = asyncio.Event()
    task = asyncio.create_task(_operator(_registry(control_plane), runtime, namespace, stop))
    try:
        create(custom, namespace)

        async def served() -> bool:
            body = read(custom, namespace, "web")
            return (body.get("status") or {}).get("observedGeneration") == 1

        await eventually(served)
        assert read(custom, namespace, "web")["metadata"]["finalizers"] == [FINALIZER]
        desired = {t for call in aws.named("sync_targets") for t in call[2]}
        assert Target(id="i-0000000000000009", port=30080) in desired
        custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "web")

        async def gone() -> bool:
            try:
                read(custom, namespace, "web")
            except k8s.ApiException as error:
                return bool(error.status == 404)
            return False

        await eventually(gone)
        assert aws.named("release_targets") == [("release_targets", ARN, None)]
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        core.delete_node(node_body["metadata"]["name"])


def _plain(body: dict[str, Any]) -> dict[str, Any]:
    """A body to create: without the uid and resourceVersion the fakes give."""
    meta = {k: v for k, v in body["metadata"].items() if k not in ("uid", "resourceVersion")}
    return {**body, "metadata": meta}
