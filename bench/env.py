"""One benchmark environment: moto, the API emulator, the AWS proxy and the controller process.

- moto runs as its own process (`python -m moto.server`), so its CPU and memory are not
  mixed with the emulator's or the harness's, and can be reported on their own.
- The sandbox (`controller.sandbox.runner.Sandbox`: seeded moto, the Kubernetes API emulator
  and its workload simulator, Nodes) runs in this process; objects are created straight into
  the emulator's store, so "the objects exist" is an exact instant.
- `TimedProxy` is `AwsProxy` with a timestamped log of every call it receives, so scenarios
  can measure when a call arrived (target churn) and when AWS traffic stopped (restart).
  Its latency and token buckets are the proxy's defaults, as `make bench` promises.
- `ControllerProcess` is `alb-ingress-controller run` as a subprocess whose environment is the
  sandbox's with `AWS_ENDPOINT_URL` pointed at the proxy; `RssSampler` samples its resident
  set from `/proc/<pid>/status` (no psutil dependency).
- Route 53 is read straight from moto, never through the proxy, so polling for DNS records
  does not spend the controller's Route 53 budget.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from controller.sandbox.aws import MotoServer, aws_client
from controller.sandbox.awsproxy import AwsProxy, AwsProxyThread, Call, identify
from controller.sandbox.runner import Sandbox
from controller.sandbox.store import Obj, Store

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[1]
PROFILE_ENV = "BENCH_PROFILE_DIR"


class BenchError(Exception):
    """A scenario step that did not happen in time, or a process that died."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status < 500)
    except OSError:
        return False


def wait_until(
    check: Callable[[], T | None],
    what: str,
    timeout: float,
    interval: float = 0.2,
    alive: Callable[[], None] | None = None,
) -> T:
    """Poll `check` until it returns something truthy; `alive` raises if a process died."""
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None:
            alive()
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


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


# --- moto in its own process ---------------------------------------------------------------


class MotoProcess(MotoServer):
    """moto's server as a child process on 127.0.0.1 (same interface as `MotoServer`)."""

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> MotoProcess:
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: answers(self.url + "/moto-api/data.json"), "moto to start", 60)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class BenchSandbox(Sandbox):
    """The sandbox with moto in its own process."""

    def __init__(self, nodes: int = 2) -> None:
        super().__init__(nodes=nodes)
        self.moto = MotoProcess()
        self._moto = self.moto

    @property
    def store(self) -> Store:
        assert self.workloads is not None, "the sandbox is not started"
        return self.workloads.store


# --- the proxy with a call log -------------------------------------------------------------


@dataclass(frozen=True)
class TimedCall:
    at: float  # time.monotonic() when the request arrived
    service: str
    operation: str


class TimedProxy(AwsProxy):
    """`AwsProxy` that also logs when each call arrived (on the proxy's loop; read the log
    from other threads only through `calls_since`, which copies under the GIL)."""

    def __init__(self, upstream_url: str, **kwargs: Any) -> None:
        super().__init__(upstream_url, **kwargs)
        self.log: list[TimedCall] = []

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        call: Call = identify(request.method, request.path, request.query_string, headers, body)
        self.log.append(TimedCall(time.monotonic(), call.service, call.operation))
        return await super()._proxy(request)


class TimedProxyThread(AwsProxyThread):
    def __init__(self, upstream_url: str, **kwargs: Any) -> None:
        super().__init__(upstream_url, **kwargs)
        self.proxy: TimedProxy = TimedProxy(upstream_url, **kwargs)

    def calls_since(self, since: float) -> list[TimedCall]:
        return [c for c in list(self.proxy.log) if c.at >= since]

    def last_call_at(self) -> float:
        log = self.proxy.log
        return log[-1].at if log else 0.0


# --- the controller ------------------------------------------------------------------------


@dataclass
class ControllerProcess:
    """`alb-ingress-controller run` as a subprocess, its log in a file, its RSS sampled."""

    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    sampler: RssSampler | None = None
    started_at: float = 0.0
    log_offset: int = 0
    peak_mib: float = 0.0  # the highest peak of any run of this controller
    extra_env: dict[str, str] = field(default_factory=dict)
    profiler: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        assert self.proc is None, "controller already running"
        liveness = f"http://127.0.0.1:{free_port()}/healthz"
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "controller.cli", "run", "--log-format", "json",
                 "--liveness", liveness],
                env={**os.environ, **self.env, **self.extra_env},
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )  # fmt: skip
        self.started_at = time.monotonic()
        self.sampler = RssSampler(self.proc.pid)
        self._start_profiler(self.proc.pid)
        wait_until(lambda: answers(liveness), "the controller's liveness endpoint", timeout,
                   alive=self.check_alive)  # fmt: skip

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(
                f"the controller exited with status {self.proc.returncode}; log tail:\n"
                + "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
            )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop with `sig` (SIGKILL: a crash); records the run's peak RSS first."""
        if self.proc is None:
            return
        if self.sampler is not None:
            self.peak_mib = max(self.peak_mib, self.sampler.stop())
            self.sampler = None
        self._stop_profiler()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

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
    controller's drift-check period for this environment."""

    def __init__(self, resync_seconds: float = 600.0, nodes: int = 2) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="alb-bench-"))
        self.sandbox = BenchSandbox(nodes=nodes)
        self.resync_seconds = resync_seconds
        self.proxy: TimedProxyThread | None = None
        self.controller: ControllerProcess | None = None
        self._route53: Any = None

    def __enter__(self) -> BenchEnv:
        self.sandbox.start()
        self.proxy = TimedProxyThread(self.sandbox.aws_endpoint_url)
        self.proxy.start()
        env = {
            **self.sandbox.env(),
            "AWS_ENDPOINT_URL": self.proxy.url,
            "RESYNC_SECONDS": str(self.resync_seconds),
        }
        self.controller = ControllerProcess(env, self.workdir / "controller.log")
        self._route53 = aws_client("route53", self.sandbox.aws_endpoint_url)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.controller is not None:
            self.controller.stop()
        if self.proxy is not None:
            self.proxy.stop()
        self.sandbox.stop()

    # Accessors ---------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        return self.sandbox.store

    def require(self) -> tuple[TimedProxyThread, ControllerProcess]:
        assert self.proxy is not None and self.controller is not None, "not entered"
        return self.proxy, self.controller

    def moto_pid(self) -> int:
        proc = self.sandbox.moto.proc
        return proc.pid if proc is not None else 0

    # Reading the cluster and AWS ---------------------------------------------------------

    def ingresses(self, namespaces: set[str]) -> list[Obj]:
        return [
            i
            for i in self.store.objects(("networking.k8s.io", "ingresses"))
            if i["metadata"].get("namespace") in namespaces
        ]

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
