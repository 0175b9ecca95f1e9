"""One benchmark environment: moto, a real control plane, the AWS proxy and the controller.

- The sandbox (`sandbox.runner.Sandbox`) runs a real control plane as child processes of
  this one (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and kwok playing
  the kubelet of the Nodes), seeded moto and Nodes; `BenchSandbox` runs it without the API
  server's audit log. moto runs as its own process (`sandbox.aws.MotoProcess`), so its CPU
  and memory are not mixed with the harness's, and can be reported on their own, as can the
  API server's and etcd's.
- The harness talks to the API as the cluster admin (`bench.kube`): objects are created
  through it, so "the objects exist" is the instant the last create call returned.
- `TimedProxy` is `AwsProxy` with a timestamped log of every call it receives, so scenarios
  can measure when a call arrived (target churn) and when AWS traffic stopped (restart).
  Its latency and token buckets are the proxy's defaults, as `make bench` promises.
- `BenchController` is `alb-ingress-controller run` as a subprocess
  (`sandbox.controller_process.ControllerProcess`) whose environment is the sandbox's
  `controller_env()` (the shipped ServiceAccount's kubeconfig, so the shipped RBAC) with
  `AWS_ENDPOINT_URL` pointed at the proxy; `RssSampler` samples its resident set from
  `/proc/<pid>/status` (no psutil dependency). Waits are `sandbox.waiting.wait_until`.
- Route 53 is read straight from moto, never through the proxy, so polling for DNS records
  does not spend the controller's Route 53 budget.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client

from bench.kube import Obj, kube_client, list_all
from sandbox.aws import MotoProcess, aws_client
from sandbox.awsproxy.timed import TimedProxyThread
from sandbox.controller_process import ControllerProcess
from sandbox.runner import Sandbox

PROFILE_ENV = "BENCH_PROFILE_DIR"


class BenchError(Exception):
    """A scenario step that did not happen as it should."""


# --- memory ------------------------------------------------------------------------------


def status_kib(pid: int, field_name: str) -> int:
    """A `VmRSS`/`VmHWM` figure (KiB) from /proc/<pid>/status; 0 once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


class RssSampler:
    """Samples a process's RSS every `interval` seconds in a thread; `peak_mib` is the max of
    the samples and the kernel's own high-water mark (VmHWM), read at each sample."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        now = max(status_kib(self.pid, "VmRSS"), status_kib(self.pid, "VmHWM"))
        self.peak_kib = max(self.peak_kib, now)

    def stop(self) -> float:
        self.sample()
        self._stop.set()
        self._thread.join()
        return self.peak_mib

    @property
    def peak_mib(self) -> float:
        return self.peak_kib / 1024


# --- the sandbox ----------------------------------------------------------------------------


class BenchSandbox(Sandbox):
    """The sandbox as the benchmarks run it: moto in its own process (`moto`), no audit log
    (the API server would write a line per request), and `kube`, an admin client whose
    connection pool serves the harness's create threads."""

    def __init__(self, nodes: int = 2) -> None:
        self.moto = MotoProcess()
        super().__init__(nodes=nodes, moto=self.moto, audit=False)
        self.kube: Any = None

    def start(self) -> BenchSandbox:
        super().start()
        try:
            self.kube = kube_client(self.kubeconfig)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.kube is not None:
            self.kube.close()
            self.kube = None
        super().stop()

    def component_pid(self, name: str) -> int:
        """The pid of a control-plane component ("kube-apiserver", "etcd", ...); 0 if none."""
        component = self.control_plane.components.get(name)
        proc = component.proc if component is not None else None
        return proc.pid if proc is not None else 0


# --- the controller ------------------------------------------------------------------------


@dataclass
class BenchController(ControllerProcess):
    """`sandbox.controller_process.ControllerProcess` with JSON logs and a liveness endpoint
    (`start` waits for it), its RSS sampled, and py-spy attached with $BENCH_PROFILE_DIR."""

    log_format: str | None = "json"
    liveness: bool = True
    sampler: RssSampler | None = None
    peak_mib: float = 0.0  # the highest peak of any run of this controller
    profiler: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        super().start()
        assert self.proc is not None
        self.sampler = RssSampler(self.proc.pid)
        self._start_profiler(self.proc.pid)
        self.wait_ready(timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        """Stop with `sig` (SIGKILL: a crash); records the run's peak RSS first."""
        if self.proc is None:
            return
        if self.sampler is not None:
            self.peak_mib = max(self.peak_mib, self.sampler.stop())
            self.sampler = None
        self._stop_profiler()
        super().stop(sig, timeout)

    def _start_profiler(self, pid: int) -> None:
        """With $BENCH_PROFILE_DIR set, py-spy samples this run (collapsed stacks, one file
        per run; `python -m bench.profile FILE` summarises one)."""
        directory = os.environ.get(PROFILE_ENV)
        if not directory:
            return
        Path(directory).mkdir(parents=True, exist_ok=True)
        out = Path(directory) / f"controller-{time.strftime('%H%M%S')}-{pid}.txt"
        py_spy = Path(sys.executable).with_name("py-spy")
        self.profiler = subprocess.Popen(
            [str(py_spy), "record", "--pid", str(pid), "--rate", "50", "--format", "raw",
             "--nonblocking", "--subprocesses", "--output", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def _stop_profiler(self) -> None:
        if self.profiler is None:
            return
        self.profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            self.profiler.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.profiler.kill()
            self.profiler.wait()
        self.profiler = None

    def current_peak_mib(self) -> float:
        if self.sampler is not None:
            self.sampler.sample()
            return max(self.peak_mib, self.sampler.peak_mib)
        return self.peak_mib

    def run_peak_mib(self) -> float:
        """The peak RSS of the running process alone (not of earlier runs)."""
        if self.sampler is None:
            return 0.0
        self.sampler.sample()
        return self.sampler.peak_mib

    def log_entries(self) -> Iterator[dict[str, Any]]:
        """The JSON log lines of the current run."""
        if not self.log_path.exists():
            return
        with self.log_path.open("rb") as log:
            log.seek(self.log_offset)
            for raw in log:
                try:
                    entry = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(entry, dict):
                    yield entry


# --- the whole environment -----------------------------------------------------------------


class BenchEnv:
    """Sandbox + proxy + one controller; a context manager. `resync_seconds` is the
    controller's drift-check period for this environment; `nodes` the kwok Nodes (each
    gives Pods the addresses of a /24)."""

    def __init__(
        self, resync_seconds: float = 600.0, nodes: int = 2, *, webhook: bool = False
    ) -> None:
        """`webhook`: the controller serves the API server's pod readiness gate webhook
        (`Sandbox.webhook_env`)."""
        self.webhook = webhook
        self.workdir = Path(tempfile.mkdtemp(prefix="alb-bench-"))
        self.sandbox = BenchSandbox(nodes=nodes)
        self.resync_seconds = resync_seconds
        self.proxy: TimedProxyThread | None = None
        self.controller: BenchController | None = None
        self._route53: Any = None

    def __enter__(self) -> BenchEnv:
        self.sandbox.start()
        try:
            self.proxy = TimedProxyThread(self.sandbox.aws_endpoint_url)
            self.proxy.start()
            env = {
                **self.sandbox.controller_env(),
                "AWS_ENDPOINT_URL": self.proxy.url,
                "RESYNC_SECONDS": str(self.resync_seconds),
                **(self.sandbox.webhook_env() if self.webhook else {}),
            }
            self.controller = BenchController(env, self.workdir / "controller.log")
            self._route53 = aws_client("route53", self.sandbox.aws_endpoint_url)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.controller is not None:
                self.controller.stop()
            if self.proxy is not None:
                self.proxy.stop()
        finally:
            self.sandbox.stop()

    # Accessors ---------------------------------------------------------------------------

    @property
    def api(self) -> Any:
        """The harness's admin `ApiClient` (`bench.kube.kube_client`)."""
        assert self.sandbox.kube is not None, "not entered"
        return self.sandbox.kube

    def require(self) -> tuple[TimedProxyThread, BenchController]:
        assert self.proxy is not None and self.controller is not None, "not entered"
        return self.proxy, self.controller

    def check_alive(self) -> None:
        """Raise if the controller or a control-plane component has died."""
        if self.controller is not None:
            self.controller.check_alive()
        self.sandbox.control_plane.check()

    def moto_pid(self) -> int:
        proc = self.sandbox.moto.proc
        return proc.pid if proc is not None else 0

    # Reading the cluster and AWS ---------------------------------------------------------

    def ingresses(self, namespaces: set[str]) -> list[Obj]:
        networking = client.NetworkingV1Api(self.api)
        return [
            i for ns in sorted(namespaces) for i in list_all(networking.list_namespaced_ingress, ns)
        ]

    def pods_running(self, namespaces: set[str]) -> int:
        core = client.CoreV1Api(self.api)
        return sum(
            1
            for ns in sorted(namespaces)
            for p in list_all(core.list_namespaced_pod, ns)
            if (p.get("status") or {}).get("phase") == "Running"
        )

    def hostnames(self, namespaces: set[str]) -> dict[str, str]:
        """namespace/name -> status hostname, for Ingresses that have one."""
        found = {}
        for ing in self.ingresses(namespaces):
            entries = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            if entries and entries[0].get("hostname"):
                meta = ing["metadata"]
                found[f"{meta['namespace']}/{meta['name']}"] = str(entries[0]["hostname"])
        return found

    def alias_records(self) -> dict[str, str]:
        """host -> alias DNS name of every A alias record, read from moto directly."""
        found: dict[str, str] = {}
        zones = self._route53.list_hosted_zones()["HostedZones"]
        for zone in zones:
            paginator = self._route53.get_paginator("list_resource_record_sets")
            for page in paginator.paginate(HostedZoneId=zone["Id"]):
                for record in page["ResourceRecordSets"]:
                    if record["Type"] == "A" and "AliasTarget" in record:
                        found[record["Name"].rstrip(".")] = record["AliasTarget"]["DNSName"]
        return found
