"""The whole sandbox in one object: a real control plane, moto, Nodes and the environment.

`Sandbox.start()` starts moto on loopback and seeds it (`sandbox.aws`), starts the control
plane (`sandbox.controlplane`: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, kwok) or joins one the caller started, installs the CRDs a cluster that ran
aws-load-balancer-controller has (`sandbox/crds`: its TargetGroupBinding and IngressClassParams,
the latter a copy of the shipped one) and the
controller's identity from `deploy/manifests` (namespace, ServiceAccount, ClusterRole,
leader-election Role, their bindings and the IngressClass `alb`, and the pod readiness gate
webhook's objects of `webhook.yaml`, its configuration calling
`https://127.0.0.1:<webhook_port>` instead of the Service: a controller started with
`WEBHOOK_PORT` at `webhook_env()` serves it), and registers a Node per
EC2 instance it launches. `env()` is what kubectl, boto3 or a person's shell needs (the
admin kubeconfig); `controller_env()` is what the controller runs with: a kubeconfig holding
a token of the shipped ServiceAccount, so it has exactly the shipped RBAC and a missing verb
fails. moto runs as a child process of its own (`MotoProcess`), so sandboxes never share AWS state.
Sandboxes may share one control plane (the tests start one per session): each removes the
Nodes it added when it stops.
"""

from __future__ import annotations

import functools
import ipaddress
import shlex
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from kubernetes import client, config, utils

from controller.manifests import load_manifests
from sandbox.aws import (
    MotoProcess,
    MotoServer,
    NodeSpec,
    SeededAws,
    credentials_env,
    launch_node,
    seed,
    terminate_node,
)
from sandbox.controlplane import KWOK_NODE_ANNOTATION, ControlPlane
from sandbox.kubeconfig import kubeconfig, token_user, write_kubeconfig
from sandbox.processes import free_port
from sandbox.waiting import wait_until

DEFAULT_CLUSTER = "sandbox"
REPO = Path(__file__).resolve().parents[1]
MANIFESTS = REPO / "deploy" / "manifests"
CRDS = Path(__file__).resolve().parent / "crds"
# What of deploy/manifests the sandbox installs: the controller's identity and its class. The
# Deployment and PodDisruptionBudget are left out: the controller runs as a local process.
IDENTITY_FILES = (
    "namespace.yaml",
    "serviceaccount.yaml",
    "clusterrole.yaml",
    "clusterrolebinding.yaml",
    "leader-election-role.yaml",
    "ingressclass.yaml",
)
# The pod readiness gate webhook's objects, its configuration pointed at loopback.
WEBHOOK_FILE = "webhook.yaml"
WEBHOOK_PATH = "/mutate-v1-pod"
CONTROLLER_NAMESPACE = "alb-ingress-controller"
CONTROLLER_ACCOUNT = "alb-ingress-controller"
CONTROLLER_USER = f"system:serviceaccount:{CONTROLLER_NAMESPACE}:{CONTROLLER_ACCOUNT}"
TOKEN_SECONDS = 48 * 3600
READY_TIMEOUT = 60.0


def apply(api: client.ApiClient, objects: list[dict[str, Any]]) -> None:
    """Server-side apply of each object (what `kubectl apply --server-side` does), so a
    second sandbox on the same control plane applies the same manifests again harmlessly."""
    for obj in objects:
        namespace = obj["metadata"].get("namespace")
        utils.create_from_dict(api, obj, namespace=namespace, apply=True)  # type: ignore[no-untyped-call]


def install_crds(api: client.ApiClient, timeout: float = READY_TIMEOUT) -> list[str]:
    """Apply the CRDs of `sandbox/crds` and wait until the API server serves each
    (Established); returns their names."""
    crds = load_manifests(sorted(CRDS.glob("*.yaml")))
    apply(api, crds)
    extensions: Any = client.ApiextensionsV1Api(api)

    def established(name: str) -> bool:
        status = extensions.read_custom_resource_definition(name).status
        conditions = (status and status.conditions) or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    custom: Any = client.CustomObjectsApi(api)

    def served(crd: dict[str, Any]) -> bool:
        """Established is not yet listable: for a moment the API server answers 429
        "storage is (re)initializing", which a controller started then logs as an error."""
        spec = crd["spec"]
        version = next(v["name"] for v in spec["versions"] if v.get("served", True))
        try:
            custom.list_cluster_custom_object(
                spec["group"], version, spec["names"]["plural"], limit=1
            )
        except client.ApiException as error:
            if error.status in (404, 429, 503):
                return False
            raise
        return True

    names = [crd["metadata"]["name"] for crd in crds]
    for name in names:
        wait_until(functools.partial(established, name), f"CRD {name} to be Established", timeout)
    for crd in crds:
        name = crd["metadata"]["name"]
        wait_until(functools.partial(served, crd), f"CRD {name} to be served", timeout)
    return names


def webhook_objects(port: int) -> list[dict[str, Any]]:
    """deploy/manifests/webhook.yaml, its MutatingWebhookConfiguration calling a controller
    on this machine's `port` (the API server runs here too) rather than the Service."""
    found = load_manifests([MANIFESTS / WEBHOOK_FILE])
    for obj in found:
        if obj["kind"] == "MutatingWebhookConfiguration":
            for hook in obj["webhooks"]:
                hook["clientConfig"] = {"url": f"https://127.0.0.1:{port}{WEBHOOK_PATH}"}
    return found


def install_controller_identity(
    api: client.ApiClient, control_plane: ControlPlane, path: Path, webhook_port: int
) -> Path:
    """Apply the identity part of deploy/manifests (the webhook configuration calling
    `webhook_port` on loopback) and write, at `path`, a kubeconfig that holds a token of
    the shipped ServiceAccount (TokenRequest, valid 48 h)."""
    apply(api, load_manifests([MANIFESTS / f for f in IDENTITY_FILES]))
    apply(api, webhook_objects(webhook_port))
    core: Any = client.CoreV1Api(api)  # plain dict bodies, as kubectl sends
    token = core.create_namespaced_service_account_token(
        CONTROLLER_ACCOUNT,
        CONTROLLER_NAMESPACE,
        {"spec": {"expirationSeconds": TOKEN_SECONDS}},
    )
    return write_kubeconfig(
        path,
        kubeconfig(
            control_plane.url,
            _ca(control_plane),
            token_user(str(token.status.token)),
            namespace=CONTROLLER_NAMESPACE,
        ),
    )


class Sandbox:
    """Start with `start()` (or `with Sandbox() as sb:`), stop with `stop()`."""

    def __init__(
        self,
        cluster_name: str = DEFAULT_CLUSTER,
        *,
        nodes: int = 2,
        kubeconfig: Path | None = None,
        control_plane: ControlPlane | None = None,
        moto: MotoServer | None = None,
        audit: bool = True,
    ) -> None:
        self.cluster_name = cluster_name
        self.node_count = nodes
        self._moto = moto or MotoProcess()
        self._tempdir = tempfile.TemporaryDirectory(prefix="alb-sandbox-")
        self.workdir = Path(self._tempdir.name)
        self._own_control_plane = control_plane is None
        self.control_plane = control_plane or ControlPlane(self.workdir / "cluster", audit=audit)
        self.kubeconfig = kubeconfig or self.workdir / "kubeconfig"
        self.controller_kubeconfig = self.workdir / "controller.kubeconfig"
        self.api: Any = None  # client.ApiClient (untyped: its close() has no annotations)
        self.aws: SeededAws | None = None
        self.nodes: dict[str, NodeSpec] = {}
        # Where the webhook configuration calls the controller (`webhook_env()`).
        self.webhook_port = free_port()
        self._launched = 0  # instances launched so far: the next one's index (AZs alternate)

    # Lifecycle -------------------------------------------------------------------------

    def start(self) -> Sandbox:
        try:
            self._moto.start()
            self.aws = seed(self._moto.url, self.cluster_name)
            if self._own_control_plane:
                self.control_plane.start()
            self.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(self.control_plane.kubeconfig, self.kubeconfig)
            self.api = config.new_client_from_config(config_file=str(self.kubeconfig))  # type: ignore[no-untyped-call]
            install_crds(self.api)
            self._install_controller_identity()
            # Pods need their namespace's `default` ServiceAccount, which the controller
            # manager makes: it is up and working once that exists.
            wait_until(
                self._default_account,
                "kube-controller-manager to create ServiceAccounts",
                READY_TIMEOUT,
            )
            for _ in range(self.node_count):
                self.add_node()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.api is not None:
            if not self._own_control_plane:
                for name in list(self.nodes):
                    client.CoreV1Api(self.api).delete_node(name)
            self.api.close()
            self.api = None
        if self._own_control_plane:
            self.control_plane.stop()
        self._moto.stop()
        self._tempdir.cleanup()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _require(self) -> tuple[SeededAws, Any]:
        if self.aws is None or self.api is None:
            raise RuntimeError("the sandbox is not started")
        return self.aws, self.api

    def _default_account(self) -> bool:
        _, api = self._require()
        try:
            client.CoreV1Api(api).read_namespaced_service_account("default", "default")
        except client.ApiException as error:
            if error.status == 404:
                return False
            raise
        return True

    # The controller's identity -------------------------------------------------------------

    def _install_controller_identity(self) -> None:
        _, api = self._require()
        install_controller_identity(
            api, self.control_plane, self.controller_kubeconfig, self.webhook_port
        )

    # Nodes -----------------------------------------------------------------------------

    def add_node(self) -> NodeSpec:
        """Launch an EC2 instance and register it as a Node kwok keeps Ready."""
        aws, api = self._require()
        index = self._launched
        spec = launch_node(aws, index)
        self._launched += 1
        subnet = ipaddress.ip_network(aws.private_subnets[index % len(aws.private_subnets)].cidr)
        # A /24 of the node's subnet, well above the addresses moto gives instances: pod IPs
        # are VPC addresses, as with the AWS VPC CNI, and never a node's.
        pod_cidr = str(list(subnet.subnets(new_prefix=24))[32 + index // 2])
        key, value = KWOK_NODE_ANNOTATION
        zone = spec.provider_id.split("/")[3]
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": spec.name,
                "annotations": {key: value, "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "kubernetes.io/hostname": spec.name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "topology.kubernetes.io/zone": zone,
                    "topology.kubernetes.io/region": zone[:-1],
                    "type": "kwok",
                    **spec.labels,
                },
            },
            "spec": {"providerID": spec.provider_id, "podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": spec.private_ip},
                    {"type": "Hostname", "address": spec.name},
                ]
            },
        }
        core: Any = client.CoreV1Api(api)
        core.create_node(node)
        wait_until(
            lambda: _node_ready(core, spec.name), f"Node {spec.name} to be Ready", READY_TIMEOUT
        )
        self.nodes[spec.name] = spec
        return spec

    def remove_node(self, name: str) -> None:
        """Delete the Node and terminate its instance (as a scale-in would)."""
        aws, api = self._require()
        spec = self.nodes.pop(name)
        client.CoreV1Api(api).delete_node(name)
        terminate_node(aws, spec.instance_id)

    # Environment -----------------------------------------------------------------------

    @property
    def aws_endpoint_url(self) -> str:
        return self._moto.url

    def env(self) -> dict[str, str]:
        """What a client of the sandbox needs: the admin kubeconfig, AWS endpoint and
        credentials, the controller's own kubeconfig and the cluster name."""
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "AWS_ENDPOINT_URL": self._moto.url,
            **credentials_env(),
            "CONTROLLER_KUBECONFIG": str(self.controller_kubeconfig),
            "CLUSTER_NAME": self.cluster_name,
        }

    def controller_env(self) -> dict[str, str]:
        """The controller's environment: its ServiceAccount's token, its namespace (the
        leader Lease lives there, as in the Deployment), AWS and the cluster name."""
        return {
            **self.env(),
            "KUBECONFIG": str(self.controller_kubeconfig),
            "POD_NAMESPACE": CONTROLLER_NAMESPACE,
            # The webhook configuration calls 127.0.0.1: the certificate must name it.
            "WEBHOOK_CERT_HOSTS": '["127.0.0.1"]',
        }

    def webhook_env(self) -> dict[str, str]:
        """Add to `controller_env()` for the controller the API server's webhook calls reach
        (one at a time: a second one on the port fails to start); without it each
        controller serves the webhook on a free port of its own, which nobody calls."""
        return {"WEBHOOK_PORT": str(self.webhook_port)}

    def exports(self) -> str:
        return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in self.env().items())

    def describe(self) -> dict[str, Any]:
        """A summary for progress output."""
        aws, _ = self._require()
        return {
            "api": self.control_plane.url,
            "aws": self._moto.url,
            "vpc": aws.vpc_id,
            "nodes": sorted(self.nodes),
        }


def _ca(control_plane: ControlPlane) -> Path:
    assert control_plane.pki is not None, "the control plane is not started"
    return control_plane.pki.ca


def _node_ready(core: Any, name: str) -> bool:
    node = core.read_node(name)
    conditions = (node.status and node.status.conditions) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)
