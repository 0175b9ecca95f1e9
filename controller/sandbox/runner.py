"""The whole sandbox in one object: the Kubernetes API emulator, moto, Nodes and the env.

`Sandbox.start()` starts moto on loopback and seeds it (`controller.sandbox.aws`), starts
the API emulator with the workload simulator (pod CIDRs = the private subnets), registers a
Node per EC2 instance it launches, creates the `alb` IngressClass and writes a kubeconfig.
`env()` is then everything `alb-ingress-controller run` (or kubectl, or boto3) needs to use
it; `exports()` renders it as shell `export` lines. The `sandbox` and `demo` commands and
the e2e tests all start it this way.
"""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from controller.config import INGRESS_CLASS_CONTROLLER
from controller.sandbox.apiserver import ApiServer, ApiServerThread
from controller.sandbox.aws import (
    MotoServer,
    NodeSpec,
    SeededAws,
    credentials_env,
    launch_node,
    seed,
    terminate_node,
)
from controller.sandbox.kubeconfig import write_kubeconfig
from controller.sandbox.store import Store
from controller.sandbox.workload import Workloads

DEFAULT_CLUSTER = "sandbox"

# deploy/manifests/ingressclass.yaml, as an object (a test keeps the two equal): the package
# does not ship the manifests, so the sandbox cannot read the file when installed elsewhere.
INGRESS_CLASS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "IngressClass",
    "metadata": {"name": "alb"},
    "spec": {"controller": INGRESS_CLASS_CONTROLLER},
}


class Sandbox:
    """Start with `start()` (or `with Sandbox() as sb:`), stop with `stop()`."""

    def __init__(
        self,
        cluster_name: str = DEFAULT_CLUSTER,
        nodes: int = 2,
        api_port: int = 0,
        moto_port: int = 0,
        kubeconfig: Path | None = None,
    ) -> None:
        self.cluster_name = cluster_name
        self.node_count = nodes
        self._moto = MotoServer(moto_port)
        self._api_port = api_port
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if kubeconfig is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="alb-sandbox-")
            kubeconfig = Path(self._tempdir.name) / "kubeconfig"
        self.kubeconfig = kubeconfig
        self.api: ApiServerThread | None = None
        self.aws: SeededAws | None = None
        self.workloads: Workloads | None = None
        self.nodes: dict[str, NodeSpec] = {}
        self._launched = 0  # instances launched so far: the next one's index (AZs alternate)

    # Lifecycle -------------------------------------------------------------------------

    def start(self) -> Sandbox:
        self._moto.start()
        self.aws = seed(self._moto.url, self.cluster_name)
        store = Store()
        server = ApiServer(port=self._api_port, store=store)
        self.workloads = Workloads(store, pod_cidrs=self.aws.pod_cidrs)
        self.workloads.attach(server)
        self.api = ApiServerThread(server).start()
        for _ in range(self.node_count):
            self.add_node()
        store.create(store.resource("ingressclasses", "networking.k8s.io"), dict(INGRESS_CLASS))
        write_kubeconfig(self.kubeconfig, self.api.url)
        return self

    def stop(self) -> None:
        if self.api is not None:
            self.api.stop()
            self.api = None
        self._moto.stop()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Nodes -----------------------------------------------------------------------------

    def add_node(self) -> NodeSpec:
        """Launch an EC2 instance and register it as a Ready Node."""
        aws, workloads = self._require()
        spec = launch_node(aws, self._launched)
        self._launched += 1
        workloads.add_node(spec.name, spec.provider_id, spec.private_ip, spec.labels)
        self.nodes[spec.name] = spec
        return spec

    def remove_node(self, name: str) -> None:
        """Delete the Node and terminate its instance (as a scale-in would)."""
        aws, workloads = self._require()
        spec = self.nodes.pop(name)
        workloads.remove_node(name)
        terminate_node(aws, spec.instance_id)

    def _require(self) -> tuple[SeededAws, Workloads]:
        if self.aws is None or self.workloads is None:
            raise RuntimeError("the sandbox is not started")
        return self.aws, self.workloads

    # Environment -----------------------------------------------------------------------

    @property
    def aws_endpoint_url(self) -> str:
        return self._moto.url

    def env(self) -> dict[str, str]:
        """What a client of the sandbox needs: kubeconfig, AWS endpoint and credentials,
        and the cluster name its subnets are tagged for."""
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "AWS_ENDPOINT_URL": self._moto.url,
            **credentials_env(),
            "CLUSTER_NAME": self.cluster_name,
        }

    def exports(self) -> str:
        return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in self.env().items())

    def describe(self) -> dict[str, Any]:
        """A summary for progress output."""
        aws, _ = self._require()
        return {
            "api": self.api.url if self.api else "",
            "aws": self._moto.url,
            "vpc": aws.vpc_id,
            "nodes": sorted(self.nodes),
        }
