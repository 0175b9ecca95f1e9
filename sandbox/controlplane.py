"""A real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok, each a child process with its own log file.

`ControlPlane(workdir).start()` makes fresh certificates (`sandbox.pki`), picks free ports,
starts the components in order and waits for each to be ready, then writes an admin
kubeconfig. What each does for the sandbox:
- etcd holds the state (no fsync: it is thrown away);
- kube-apiserver serves the API with RBAC on, client certificates and service-account
  tokens for authentication, and (optionally) an audit log of every request at Metadata
  level, which the tests read to prove the controller's requests were all allowed;
- kube-controller-manager runs the usual controllers: Deployments and ReplicaSets,
  EndpointSlices, namespace deletion, garbage collection, node lifecycle, service accounts;
- kube-scheduler binds Pods to Nodes;
- kwok plays the kubelet for Nodes annotated `kwok.x-k8s.io/node=fake`: heartbeats and
  Leases for them, and Pods on them become Running and Ready with an IP from the Node's
  `spec.podCIDR` (the stage manifests shipped in kwok's module say how, and the sandbox's
  own in `sandbox/kwok-stages/`: a pod with readiness gates is Ready only once every gate's
  condition is True, as the kubelet has it, and a deleted pod terminates for 3 s before it
  goes, so its EndpointSlice endpoint is `terminating`, still `serving`, meanwhile).

A component that exits or is not ready in time raises `ControlPlaneError` with the tail of
its log. Children get SIGTERM when the thread that started them dies (PR_SET_PDEATHSIG), so
a killed test run leaves no apiserver behind; start the control plane from a thread that
lives as long as it should (the main thread, in every user here).
"""

from __future__ import annotations

import datetime
import json
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sandbox.binaries import Binaries, binaries
from sandbox.kubeconfig import cert_user, kubeconfig, write_kubeconfig
from sandbox.pki import Pki, make_pki
from sandbox.processes import answers, die_with_parent, free_port
from sandbox.waiting import WaitTimeoutError, wait_until

START_TIMEOUT = 90.0
LOG_TAIL_LINES = 25
SERVICE_CIDR = "10.96.0.0/16"
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
# The kwok stages the sandbox plays: Nodes come up and heartbeat through Leases; Pods become
# ready at once, finish when their containers do, and go when deleted. kwok's own ...
KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-complete.yaml",
)
# ... and the sandbox's (in place of kwok's pod/fast/pod-ready.yaml, which sets every
# readiness gate True itself, and pod/fast/pod-delete.yaml, which deletes at once).
OWN_KWOK_STAGES_DIR = Path(__file__).resolve().parent / "kwok-stages"
OWN_KWOK_STAGES = (
    "pod-ready.yaml",
    "pod-gates-ready.yaml",
    "pod-gates-unready.yaml",
    "pod-delete.yaml",
)
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata"}],
}


class ControlPlaneError(Exception):
    """A component did not start, or stopped; the message ends with its log tail."""


@dataclass
class Component:
    """One binary of the control plane, run as a child process."""

    name: str
    argv: list[str]
    log_path: Path
    ready: Callable[[], bool]
    proc: subprocess.Popen[bytes] | None = None
    # (launched, ready) of every start, wall clock (UTC), to compare with audit timestamps.
    starts: list[tuple[datetime.datetime, datetime.datetime]] = field(default_factory=list)

    def start(self, timeout: float = START_TIMEOUT) -> None:
        launched = datetime.datetime.now(datetime.UTC)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,  # noqa: PLW1509 (no threads touch it)
            )
        proc = self.proc

        def running() -> None:
            if proc.poll() is not None:
                raise ControlPlaneError(
                    f"{self.name} exited with status {proc.returncode} at start\n{self.tail()}"
                )

        try:
            wait_until(self._ready, f"{self.name} to be ready", timeout, alive=running)
        except WaitTimeoutError:
            raise ControlPlaneError(
                f"{self.name} was not ready after {timeout:.0f}s\n{self.tail()}"
            ) from None
        self.starts.append((launched, datetime.datetime.now(datetime.UTC)))

    def starting_at(self, when: datetime.datetime, slack: float = 2.0) -> bool:
        """Was this component starting (launched, not yet ready) at `when`?"""
        margin = datetime.timedelta(seconds=slack)
        return any(launched <= when <= ready + margin for launched, ready in self.starts)

    def _ready(self) -> bool:
        try:
            return self.ready()
        except (OSError, ValueError):
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise ControlPlaneError(
                f"{self.name} exited with status {self.proc.returncode}\n{self.tail()}"
            )

    def stop(self, timeout: float = 15.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGCONT)  # a paused process cannot act on SIGTERM
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def pause(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            text = []
        return f"last lines of {self.log_path}:\n" + "\n".join(f"  {line}" for line in text)


def _http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.loads(response.read())


@dataclass
class ControlPlane:
    """Start with `start()`, stop with `stop()`; `kubeconfig` is the admin's."""

    workdir: Path
    audit: bool = True
    bins: Binaries | None = None
    components: dict[str, Component] = field(default_factory=dict)
    pki: Pki | None = None
    url: str = ""
    started_in: dict[str, float] = field(default_factory=dict)  # seconds to ready, by name

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    @property
    def audit_log(self) -> Path:
        return self.workdir / "audit.log"

    def binary(self, name: str) -> str:
        assert self.bins is not None
        return self.bins.path(name)

    # Lifecycle ---------------------------------------------------------------------------

    def start(self) -> ControlPlane:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.bins = self.bins or binaries()
        self.pki = make_pki(self.workdir / "pki")
        try:
            for component in self._components():
                self.components[component.name] = component
                began = time.monotonic()
                component.start()
                self.started_in[component.name] = round(time.monotonic() - began, 1)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for component in reversed(list(self.components.values())):
            component.stop()

    def restart(self, name: str) -> None:
        """Stop one component and start it again on the same ports and data (an outage)."""
        component = self.components[name]
        component.stop()
        component.start()

    def check(self) -> None:
        """Raise `ControlPlaneError` if any component has died."""
        for component in self.components.values():
            component.check()

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Components, in start order ------------------------------------------------------------

    def _components(self) -> Iterator[Component]:
        assert self.pki is not None
        pki = self.pki
        yield self._etcd()
        api_port = free_port()
        self.url = f"https://127.0.0.1:{api_port}"
        yield self._apiserver(api_port, pki)
        admin = pki.clients["admin"]
        write_kubeconfig(
            self.kubeconfig, kubeconfig(self.url, pki.ca, cert_user(admin.cert, admin.key))
        )
        yield self._controller_manager(pki)
        yield self._scheduler(pki)
        yield self._kwok(pki)

    def _log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def _etcd(self) -> Component:
        client, peer = free_port(), free_port()
        client_url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
        self.etcd_url = client_url
        return Component(
            "etcd",
            [
                self.binary("etcd"),
                "--name=sandbox",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=sandbox={peer_url}",
                "--unsafe-no-fsync=true",  # the data is thrown away: durability buys nothing
                "--log-level=warn",
            ],
            self._log("etcd"),
            lambda: _http_json(f"{client_url}/health").get("health") == "true",
        )

    def _apiserver(self, port: int, pki: Pki) -> Component:
        argv = [
            self.binary("kube-apiserver"),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={self.workdir / 'apiserver'}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.service_account_pub}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            # On loopback there is no address to advertise in the `kubernetes` Endpoints.
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            "--profiling=false",
        ]
        if self.audit:
            policy = self.workdir / "audit-policy.yaml"
            policy.write_text(yaml.safe_dump(AUDIT_POLICY))
            argv += [
                f"--audit-policy-file={policy}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-maxsize=0",  # one file, never rotated: tests read it whole
            ]
        context = ssl.create_default_context(cafile=str(pki.ca))
        return Component(
            "kube-apiserver",
            argv,
            self._log("kube-apiserver"),
            lambda: answers(f"{self.url}/readyz", context),
        )

    def _component_kubeconfig(self, name: str, pki: Pki) -> Path:
        client = pki.clients[name]
        return write_kubeconfig(
            self.workdir / f"{name}.kubeconfig",
            kubeconfig(self.url, pki.ca, cert_user(client.cert, client.key)),
        )

    def _serving_flags(self, name: str, pki: Pki) -> tuple[list[str], Callable[[], bool]]:
        """Flags of a component's own HTTPS endpoint (our serving certificate, a free port)
        and the readiness check of its /healthz."""
        port = free_port()
        config = self._component_kubeconfig(name, pki)
        flags = [
            f"--kubeconfig={config}",
            f"--authentication-kubeconfig={config}",
            f"--authorization-kubeconfig={config}",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            "--leader-elect=false",
            # The default client limit (20/s) makes a 1,000-Deployment fleet take minutes to
            # get its ReplicaSets and Pods; a real cluster's control plane is not that slow.
            "--kube-api-qps=200",
            "--kube-api-burst=400",
        ]
        context = ssl.create_default_context(cafile=str(pki.ca))
        return flags, lambda: answers(f"https://127.0.0.1:{port}/healthz", context)

    def _controller_manager(self, pki: Pki) -> Component:
        flags, ready = self._serving_flags("controller-manager", pki)
        return Component(
            "kube-controller-manager",
            [
                self.binary("kube-controller-manager"),
                *flags,
                f"--service-account-private-key-file={pki.service_account_key}",
                f"--root-ca-file={pki.ca}",
                f"--cluster-signing-cert-file={pki.ca}",
                f"--cluster-signing-key-file={pki.ca_key}",
                "--use-service-account-credentials=false",
                f"--cert-dir={self.workdir / 'controller-manager'}",
            ],
            self._log("kube-controller-manager"),
            ready,
        )

    def _scheduler(self, pki: Pki) -> Component:
        flags, ready = self._serving_flags("scheduler", pki)
        return Component(
            "kube-scheduler",
            [self.binary("kube-scheduler"), *flags],
            self._log("kube-scheduler"),
            ready,
        )

    def _kwok(self, pki: Pki) -> Component:
        assert self.bins is not None
        stages = self.workdir / "kwok-stages.yaml"
        paths = [self.bins.kwok_stages / s for s in KWOK_STAGES]
        paths += [OWN_KWOK_STAGES_DIR / s for s in OWN_KWOK_STAGES]
        stages.write_text("\n---\n".join(path.read_text() for path in paths))
        port = free_port()
        key, value = KWOK_NODE_ANNOTATION
        return Component(
            "kwok",
            [
                self.binary("kwok"),
                f"--kubeconfig={self._component_kubeconfig('kwok', pki)}",
                f"--config={stages}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={key}={value}",
                "--node-lease-duration-seconds=40",
                f"--server-address=127.0.0.1:{port}",
            ],
            self._log("kwok"),
            lambda: answers(f"http://127.0.0.1:{port}/healthz"),
        )

    # Reading the audit log -------------------------------------------------------------------

    def audit_events(self, offset: int = 0) -> list[dict[str, Any]]:
        """Audit events (ResponseComplete / Panic stages) written after byte `offset`."""
        if not self.audit_log.exists():
            return []
        with self.audit_log.open("rb") as log:
            log.seek(offset)
            return [json.loads(line) for line in log if line.strip()]

    def audit_size(self) -> int:
        return self.audit_log.stat().st_size if self.audit_log.exists() else 0
