"""The workload simulator: Service IPs and node ports, Deployments -> Pods, EndpointSlices, GC.

Checked against what a real cluster's controllers produce: ClusterIP and NodePort allocation
at create time (given node ports kept, taken ones refused with 422, omitted ones kept on
update), Pods owned by their Deployment that stay Pending without Nodes and become Ready
with IPs from the node's pod CIDR once Nodes exist, EndpointSlices labelled with the Service
name listing ready endpoints with targetRef/nodeName/zone and ports resolved by name, scaling
and deletion followed, and owned objects garbage-collected.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.sandbox.apiserver import ApiServer, ApiServerThread
from controller.sandbox.store import Store
from controller.sandbox.workload import Workloads

POD_CIDRS = ("10.0.0.0/20", "10.0.16.0/20")


@pytest.fixture
def simulated() -> Iterator[tuple[ApiServerThread, Workloads]]:
    server = ApiServer(store=Store())
    workloads = Workloads(server.store, pod_cidrs=POD_CIDRS)
    workloads.attach(server)
    with ApiServerThread(server) as running:
        yield running, workloads


@pytest.fixture
def api(simulated: tuple[ApiServerThread, Workloads]) -> ApiServerThread:
    return simulated[0]


def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except (AssertionError, ApiException):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {check}")
        time.sleep(0.05)


def deployment(name: str, replicas: int) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx",
                                         "ports": [{"name": "http", "containerPort": 8080}]}]},
            },
        },
    }  # fmt: skip


def service(name: str, kind: str = "NodePort", **port: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"type": kind, "selector": {"app": name},
                 "ports": [{"name": "web", "port": 80, "targetPort": "http", **port}]},
    }  # fmt: skip


def test_service_allocation(core: Any) -> None:
    made = core.create_namespaced_service("default", service("a"))
    assert ipaddress.ip_address(made.spec.cluster_ip) in ipaddress.ip_network("10.96.0.0/16")
    assert 30000 <= made.spec.ports[0].node_port <= 32767
    assert made.spec.ports[0].protocol == "TCP"
    given = core.create_namespaced_service("default", service("b", nodePort=31234))
    assert given.spec.ports[0].node_port == 31234
    assert given.spec.cluster_ip != made.spec.cluster_ip
    with pytest.raises(ApiException) as err:
        core.create_namespaced_service("default", service("c", nodePort=31234))
    assert err.value.status == 422 and "spec.ports[0].nodePort" in str(err.value.body)
    plain = core.create_namespaced_service("default", service("d", kind="ClusterIP"))
    assert plain.spec.ports[0].node_port is None
    # An update that omits the node port (as `kubectl apply` does) keeps it.
    body = service("b")
    body["metadata"]["labels"] = {"x": "y"}
    again = core.replace_namespaced_service("b", "default", body)
    assert again.spec.ports[0].node_port == 31234
    assert again.spec.cluster_ip == given.spec.cluster_ip


def test_deployment_pods_nodes_and_endpoint_slices(
    simulated: tuple[ApiServerThread, Workloads], core: Any, apps: Any, k8s: Any
) -> None:
    _, workloads = simulated
    discovery: Any = client.DiscoveryV1Api(k8s)
    apps.create_namespaced_deployment("default", deployment("web", 3))
    core.create_namespaced_service("default", service("web"))
    pods = eventually(lambda: core.list_namespaced_pod("default", label_selector="app=web").items)
    eventually(lambda: len(core.list_namespaced_pod("default").items) == 3)
    time.sleep(0.2)
    pods = core.list_namespaced_pod("default", label_selector="app=web").items
    assert {p.status.phase for p in pods} == {"Pending"}  # no Nodes yet
    assert all(p.metadata.owner_references[0].kind == "Deployment" for p in pods)
    workloads.add_node("ip-10-0-1-10", "aws:///us-east-1a/i-0aaa", "10.0.1.10")
    workloads.add_node("ip-10-0-17-10", "aws:///us-east-1b/i-0bbb", "10.0.17.10")

    def all_ready() -> list[Any]:
        found = core.list_namespaced_pod("default", label_selector="app=web").items
        assert len(found) == 3 and all(p.status.phase == "Running" for p in found)
        return list(found)

    pods = eventually(all_ready)
    for pod in pods:
        ip = ipaddress.ip_address(pod.status.pod_ip)
        host = pod.status.host_ip
        assert pod.spec.node_name in ("ip-10-0-1-10", "ip-10-0-17-10")
        cidr = POD_CIDRS[0] if host == "10.0.1.10" else POD_CIDRS[1]
        assert ip in ipaddress.ip_network(cidr)
    assert len({p.status.pod_ip for p in pods}) == 3
    node = core.read_node("ip-10-0-1-10")
    assert node.spec.provider_id == "aws:///us-east-1a/i-0aaa"
    assert node.metadata.labels["topology.kubernetes.io/zone"] == "us-east-1a"

    def slice_ready(count: int) -> Any:
        slices = discovery.list_namespaced_endpoint_slice(
            "default", label_selector="kubernetes.io/service-name=web"
        ).items
        assert len(slices) == 1
        eps = slices[0].endpoints or []
        assert len(eps) == count and all(e.conditions.ready for e in eps)
        return slices[0]

    found = eventually(lambda: slice_ready(3))
    assert found.ports[0].port == 8080 and found.ports[0].name == "web"
    by_ip = {e.addresses[0]: e for e in found.endpoints}
    for pod in pods:
        e = by_ip[pod.status.pod_ip]
        assert (e.target_ref.kind, e.target_ref.name) == ("Pod", pod.metadata.name)
        assert e.node_name == pod.spec.node_name
        assert e.zone in ("us-east-1a", "us-east-1b")
    eventually(lambda: apps.read_namespaced_deployment("web", "default").status.ready_replicas == 3)
    endpoints = core.read_namespaced_endpoints("web", "default")
    assert len(endpoints.subsets[0].addresses) == 3

    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 1}})
    eventually(lambda: slice_ready(1))
    eventually(lambda: len(core.list_namespaced_pod("default").items) == 1)

    apps.delete_namespaced_deployment("web", "default")
    eventually(lambda: core.list_namespaced_pod("default").items == [])
    eventually(lambda: slice_ready(0) is not None)
    core.delete_namespaced_service("web", "default")
    eventually(lambda: discovery.list_namespaced_endpoint_slice("default").items == [])
    eventually(lambda: core.list_namespaced_endpoints("default").items == [])


def test_template_change_replaces_pods(
    simulated: tuple[ApiServerThread, Workloads], core: Any, apps: Any
) -> None:
    _, workloads = simulated
    workloads.add_node("n1", "aws:///us-east-1a/i-1", "10.0.1.5")
    apps.create_namespaced_deployment("default", deployment("roll", 2))
    first = eventually(lambda: {p.metadata.name for p in core.list_namespaced_pod("default").items
                                if p.status.phase == "Running"} if len(
        core.list_namespaced_pod("default").items) == 2 else None)  # fmt: skip
    apps.patch_namespaced_deployment(
        "roll", "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}},
    )  # fmt: skip

    def replaced() -> bool:
        names = {p.metadata.name for p in core.list_namespaced_pod("default").items}
        return len(names) == 2 and not names & first

    eventually(replaced)
