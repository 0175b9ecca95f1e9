"""The kopf operator end to end against a real kube-apiserver, with a fake AWS side.

This is the kube layer exactly as `run` wires it (handlers, cache, scheduler, reconciler and
the real writer), minus AWS: an Ingress gets LBC's finalizer and a status hostname; an
Ingress that switches class is torn down and released (the finalizer-trap regression, here
through kopf itself); deleting an Ingress tears down before the finalizer goes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import kopf
from kubernetes import client as k8s

from controller.config import Settings
from controller.kube.operator import Runtime, register
from controller.kube.writer import ApiWriter
from sandbox.controlplane import ControlPlane
from tests.unit.kube.fakes import INGRESS_CLASS, FakeDeployer, ingress, node, service


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


def clean(body: dict[str, Any]) -> dict[str, Any]:
    body["metadata"].pop("uid", None)
    body["metadata"].pop("resourceVersion", None)
    return body


async def test_the_operator_deploys_releases_and_tears_down_through_kopf(
    control_plane: ControlPlane, admin_api: k8s.ApiClient, namespace: str
) -> None:
    # The blocking client runs in this test's thread: the server is another process.
    api = admin_api
    ns = namespace
    node_name = _create_objects(api, ns)
    deployer = FakeDeployer()
    runtime = Runtime.create(
        Settings(cluster_name="test", resync_seconds=3600), ApiWriter(api), deployer
    )
    runtime.leading.set()
    registry = _registry(control_plane)
    stop = asyncio.Event()
    task = asyncio.create_task(_operator(registry, runtime, ns, stop))
    try:
        await _check_deployed(api, ns, deployer)
        await _check_released(api, ns, deployer)
        await _check_torn_down(api, ns, deployer)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        k8s.CoreV1Api(api).delete_node(node_name)


def _read(api: k8s.ApiClient, ns: str, name: str) -> Any:
    """An Ingress as the API's JSON."""
    networking = k8s.NetworkingV1Api(api)
    return api.sanitize_for_serialization(networking.read_namespaced_ingress(name, ns))


def _create_objects(api: k8s.ApiClient, ns: str) -> str:
    """Our IngressClass, a Service, a Node and two Ingresses (`web`, `moving`); returns the
    Node's name."""
    core, networking = k8s.CoreV1Api(api), k8s.NetworkingV1Api(api)
    with contextlib.suppress(k8s.ApiException):  # the class may exist on the shared cluster
        networking.create_ingress_class(INGRESS_CLASS)
    web = clean(service(namespace=ns))
    del web["spec"]["ports"][0]["nodePort"]  # the API server picks a free one
    core.create_namespaced_service(ns, web)
    node_name = f"n1-{ns}"
    core.create_node(node(node_name, "i-0000000000000001"))
    networking.create_namespaced_ingress(ns, clean(ingress("web", namespace=ns)))
    networking.create_namespaced_ingress(
        ns, clean(ingress("moving", namespace=ns, host="moving.example.com"))
    )
    return node_name


def _registry(control_plane: ControlPlane) -> kopf.OperatorRegistry:
    """The controller's handlers, and a login as the control plane's admin."""
    registry = kopf.OperatorRegistry()
    register(registry)

    assert control_plane.pki is not None
    admin = control_plane.pki.clients["admin"]

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(
            server=control_plane.url,
            ca_path=str(control_plane.pki.ca) if control_plane.pki else None,
            certificate_path=str(admin.cert),
            private_key_path=str(admin.key),
        )

    return registry


async def _operator(
    registry: kopf.OperatorRegistry, runtime: Runtime, ns: str, stop: asyncio.Event
) -> None:
    """Run kopf on namespace `ns` until `stop` is set."""
    settings = kopf.OperatorSettings()
    settings.watching.inactivity_timeout = 30
    await kopf.operator(
        registry=registry,
        settings=settings,
        namespaces=[ns],  # the shared cluster may hold other tests' Ingresses
        standalone=True,
        memo=kopf.Memo(runtime=runtime),
        stop_flag=stop,
    )


async def _check_deployed(api: k8s.ApiClient, ns: str, deployer: FakeDeployer) -> None:
    """Both Ingresses get a hostname and our finalizer."""

    async def has_hostname(name: str) -> bool:
        status = _read(api, ns, name).get("status") or {}
        return bool((status.get("loadBalancer") or {}).get("ingress"))

    await eventually(lambda: has_hostname("web"))
    await eventually(lambda: has_hostname("moving"))
    assert _read(api, ns, "web")["metadata"]["finalizers"] == ["ingress.k8s.aws/resources"]
    assert sorted(s.id for s in deployer.deployed) == [f"{ns}/moving", f"{ns}/web"]


async def _check_released(api: k8s.ApiClient, ns: str, deployer: FakeDeployer) -> None:
    """Leaving our class: torn down and released, though no kopf delete handler runs."""
    k8s.NetworkingV1Api(api).patch_namespaced_ingress(
        "moving",
        ns,
        {"spec": {"ingressClassName": "nginx"}},
        _content_type="application/merge-patch+json",
    )

    async def released() -> bool:
        return not _read(api, ns, "moving")["metadata"].get("finalizers")

    await eventually(released)
    assert deployer.torn_down == [f"{ns}/moving"]


async def _check_torn_down(api: k8s.ApiClient, ns: str, deployer: FakeDeployer) -> None:
    """Deleting an Ingress tears it down before the finalizer goes."""
    networking = k8s.NetworkingV1Api(api)
    networking.delete_namespaced_ingress("web", ns)

    async def gone() -> bool:
        return not networking.list_namespaced_ingress(ns, field_selector="metadata.name=web").items

    await eventually(gone)
    assert deployer.torn_down == [f"{ns}/moving", f"{ns}/web"]
    assert len(deployer.deployed) == 2  # our own writes did not trigger redeploys
