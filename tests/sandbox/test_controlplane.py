"""The sandbox's control plane is a real one: kubectl against it, validation, controllers, kwok.

These use the session's control plane (`tests/conftest.py`). What the old API emulator got
wrong is checked here against the real thing: `kubectl apply` twice, Ingress validation, pods
scheduled and made ready with VPC addresses, EndpointSlices, garbage collection. A component
that cannot start fails with its log tail.
"""

from __future__ import annotations

import ipaddress
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from sandbox.controlplane import KWOK_NODE_ANNOTATION, Component, ControlPlane, ControlPlaneError
from sandbox.waiting import WaitTimeoutError, wait_until

REPO = Path(__file__).resolve().parents[2]
POD_CIDR = "10.250.7.0/24"


def kubectl(control_plane: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", f"--kubeconfig={control_plane.kubeconfig}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_kubectl_matches_the_server_version(control_plane: ControlPlane) -> None:
    done = kubectl(control_plane, "version", "-o", "json")
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr  # no version skew between kubectl and the server
    assert '"gitVersion": "v1.37.' in done.stdout.split('"serverVersion"')[1]


def test_kubectl_apply_of_the_2048_example_twice_succeeds(control_plane: ControlPlane) -> None:
    example = str(REPO / "examples" / "2048")
    try:
        first = kubectl(control_plane, "apply", "-f", example)
        assert first.returncode == 0, first.stderr
        assert "created" in first.stdout
        second = kubectl(control_plane, "apply", "-f", example)
        assert second.returncode == 0, second.stderr
        assert "unchanged" in second.stdout
    finally:
        gone = kubectl(control_plane, "delete", "-f", example, "--wait=true")
        assert gone.returncode == 0, gone.stderr


@pytest.mark.parametrize(
    ("host", "complaint"),
    [("a" * 63 + "." + "b" * 238 + ".com", "must be no more than 253"), ("10.0.0.1", "IP")],
)
def test_the_api_server_rejects_ingresses_the_emulator_accepted(
    admin_api: client.ApiClient, namespace: str, host: str, complaint: str
) -> None:
    body = {
        "metadata": {"name": "bad"},
        "spec": {"rules": [{"host": host, "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
    }  # fmt: skip
    with pytest.raises(client.ApiException) as refused:
        client.NetworkingV1Api(admin_api).create_namespaced_ingress(namespace, body)
    assert refused.value.status == 422
    assert complaint in str(refused.value.body)


@pytest.fixture
def kwok_node(admin_api: client.ApiClient) -> Iterator[str]:
    name = f"kwok-{uuid.uuid4().hex[:6]}"
    key, value = KWOK_NODE_ANNOTATION
    core = client.CoreV1Api(admin_api)
    core.create_node({
        "metadata": {"name": name, "annotations": {key: value},
                     "labels": {"kubernetes.io/hostname": name, "type": "kwok"}},
        "spec": {"podCIDR": POD_CIDR, "podCIDRs": [POD_CIDR]},
        "status": {"addresses": [{"type": "InternalIP", "address": "10.250.0.9"}]},
    })  # fmt: skip
    yield name
    core.delete_node(name)


def _pods_and_logs(control_plane: ControlPlane, core: Any, namespace: str) -> str:
    """What a timed-out wait for pods needs to be understood: each pod's node, phase, IP and
    conditions, and the tails of the components that schedule, start and own them."""
    lines = [
        f"pod {p.metadata.name}: node={p.spec.node_name} phase={p.status.phase} "
        f"ip={p.status.pod_ip} conditions="
        + ",".join(f"{c.type}={c.status}" for c in p.status.conditions or ())
        for p in core.list_namespaced_pod(namespace).items
    ] or ["no pods"]
    for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
        lines.append(f"--- {name} log tail ---\n{control_plane.components[name].tail()}")
    return "\n".join(lines)


def test_pods_are_scheduled_made_ready_and_listed_in_endpoint_slices(
    control_plane: ControlPlane, admin_api: client.ApiClient, namespace: str, kwok_node: str
) -> None:
    apps, core = client.AppsV1Api(admin_api), client.CoreV1Api(admin_api)
    discovery = client.DiscoveryV1Api(admin_api)
    labels = {"app": "web"}
    apps.create_namespaced_deployment(namespace, {
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {
                     "nodeSelector": {"kubernetes.io/hostname": kwok_node},
                     "containers": [{"name": "web", "image": "nginx"}]}}},
    })  # fmt: skip
    core.create_namespaced_service(namespace, {
        "metadata": {"name": "web"},
        "spec": {"type": "NodePort", "selector": labels,
                 "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]},
    })  # fmt: skip

    def ready_ips() -> set[str] | None:
        pods = core.list_namespaced_pod(namespace).items
        ips = {
            p.status.pod_ip
            for p in pods
            if p.status.pod_ip
            and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or ())
        }
        return ips if len(ips) == 3 else None

    try:
        ips = wait_until(ready_ips, "3 ready pods", alive=control_plane.check)
    except WaitTimeoutError as timed_out:
        detail = _pods_and_logs(control_plane, core, namespace)
        raise AssertionError(f"{timed_out}\n{detail}") from None
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network(POD_CIDR) for ip in ips)
    service: Any = core.read_namespaced_service("web", namespace)
    assert 30000 <= service.spec.ports[0].node_port <= 32767  # allocated by the API server

    def sliced() -> set[str] | None:
        slices = discovery.list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=web"
        ).items
        found = {
            a for s in slices for e in s.endpoints or () if e.conditions.ready for a in e.addresses
        }
        return found if found == ips else None

    wait_until(sliced, "the EndpointSlice to list the 3 pods")
    # Garbage collection: the ReplicaSet and its pods go with the Deployment.
    apps.delete_namespaced_deployment("web", namespace, propagation_policy="Background")
    wait_until(lambda: not core.list_namespaced_pod(namespace).items, "the pods to be deleted")


def test_the_audit_log_names_who_asked_what(
    control_plane: ControlPlane, admin_api: client.ApiClient
) -> None:
    before = control_plane.audit_size()
    client.CoreV1Api(admin_api).list_namespace(limit=1)

    def mine() -> list[dict[str, Any]]:
        return [
            e
            for e in control_plane.audit_events(before)
            if e["user"]["username"] == "admin" and e["verb"] == "list"
            and e.get("objectRef", {}).get("resource") == "namespaces"
        ]  # fmt: skip

    [event] = wait_until(mine, "the audit event of the list")
    assert event["responseStatus"]["code"] == 200


def test_a_component_that_exits_at_start_fails_with_its_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "broken.log"
    broken = Component(
        "broken", ["sh", "-c", "echo 'flag provided but not defined: -x'; exit 3"], log,
        ready=lambda: False,
    )  # fmt: skip
    with pytest.raises(ControlPlaneError) as failed:
        broken.start(timeout=10)
    message = str(failed.value)
    assert "broken exited with status 3 at start" in message
    assert "flag provided but not defined" in message
    assert str(log) in message
