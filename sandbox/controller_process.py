"""The controller as a child process: `alb-ingress-controller run` against a sandbox.

The demo, the e2e tests, the ship tests' recorded run, the benchmarks and the soak all run
the real controller the way a user does: `python -m controller.cli run` in a subprocess, its
environment the sandbox's `controller_env()` (the shipped ServiceAccount's kubeconfig, AWS,
the cluster name) plus whatever the caller adds. `ControllerProcess` is that process, once:

- the command line: `run`, `--log-format` (text unless the caller asks otherwise; `None`
  leaves the CLI's default, as the Deployment does), `--liveness=<url>` on a free port when
  `liveness` is set, then the caller's `args` (e.g. `--leader-elect`);
- the environment: `os.environ` (unless `inherit_env` is false: the ship test runs it with
  nothing but what it names), `METRICS_PORT` and `WEBHOOK_PORT` on free ports (never the
  defaults 8081 and 9443: another controller may run on this machine), then the caller's
  `env`, which wins;
- its stdout and stderr appended to `log_path`; `log_offset` is where the current run
  starts, `logs()` the whole file and `tail()` its last lines;
- `start()`, `wait_ready()` (until the liveness endpoint answers; `ControllerExitedError`, with
  the log's tail, if the process exits first), `check_alive()`, `pause()`/`resume()`
  (SIGSTOP/SIGCONT), `stop()` (SIGTERM or another signal, then SIGKILL after `timeout`) and
  `kill()` (SIGKILL, safe to call from another thread while the owner waits). `returncode`
  is the exit status once it has gone.

The child gets SIGTERM if the thread that started it dies (`die_with_parent`), so a killed
run leaves no controller behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.processes import answers, die_with_parent, free_port
from sandbox.waiting import wait_until

REPO = Path(__file__).resolve().parents[1]
STOP_TIMEOUT = 15.0
READY_TIMEOUT = 60.0
TAIL_LINES = 30


class ControllerExitedError(RuntimeError):
    """The controller process ended while it was expected to run."""


@dataclass
class ControllerProcess:
    """One controller process slot: each `start()` runs a new process with the same settings."""

    env: dict[str, str]
    log_path: Path
    args: tuple[str, ...] = ()
    log_format: str | None = "text"
    liveness: bool = False
    inherit_env: bool = True
    cwd: Path = REPO
    # Set by start() and stop(); read by callers.
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    metrics_port: int = field(default=0, init=False)
    liveness_url: str | None = field(default=None, init=False)
    log_offset: int = field(default=0, init=False)
    paused: bool = field(default=False, init=False)
    returncode: int | None = field(default=None, init=False)

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "controller.cli", "run"]
        if self.log_format is not None:
            command += ["--log-format", self.log_format]
        if self.liveness_url is not None:
            command.append(f"--liveness={self.liveness_url}")
        return [*command, *self.args]

    def start(self) -> None:
        assert self.proc is None, "controller already running"
        self.metrics_port = free_port()
        self.liveness_url = f"http://127.0.0.1:{free_port()}/healthz" if self.liveness else None
        base = dict(os.environ) if self.inherit_env else {}
        ports = {"METRICS_PORT": str(self.metrics_port), "WEBHOOK_PORT": str(free_port())}
        env = {**base, **ports, **self.env}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.paused, self.returncode = False, None
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                preexec_fn=die_with_parent,  # noqa: PLW1509 (a killed run leaves none behind)
            )

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Until the liveness endpoint answers; `ControllerExitedError` if it exits first."""
        url = self.liveness_url
        assert url is not None, "started without liveness: nothing to wait for"
        wait_until(lambda: answers(url), "the controller's liveness endpoint", timeout,
                   alive=self.check_alive)  # fmt: skip

    # State -------------------------------------------------------------------------------

    def running(self) -> bool:
        proc = self.proc
        return proc is not None and proc.poll() is None

    def exit_code(self) -> int | None:
        """The exit status if the current process has ended by itself, else None."""
        proc = self.proc
        return proc.poll() if proc is not None else None

    def check_alive(self) -> None:
        """Raise `ControllerExitedError`, with the log's tail, if the process has ended."""
        code = self.exit_code()
        if code is not None:
            raise ControllerExitedError(
                f"the controller exited with status {code}; its log ({self.log_path}) ends:\n"
                + self.tail()
            )

    # Signals -----------------------------------------------------------------------------

    def pause(self) -> None:
        """SIGSTOP: the process is frozen (its leases lapse) until `resume()`."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> None:
        """Send `sig` (SIGKILL: a crash) and wait `timeout` seconds, then SIGKILL."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if sig != signal.SIGKILL:
            proc.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        proc.send_signal(sig)
        try:
            self.returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            self.returncode = proc.wait()
        self.paused = False

    def kill(self) -> None:
        """SIGKILL and wait; may be called from another thread (a Tripwire does)."""
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.kill()
            self.returncode = proc.wait()
        self.paused = False

    # The log -----------------------------------------------------------------------------

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = TAIL_LINES) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])
