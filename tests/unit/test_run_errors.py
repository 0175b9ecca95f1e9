"""A person's configuration mistake at `run` gets one line saying what to fix, no traceback.

Each case runs the real console entry point as a subprocess, as a person would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.processes import free_port


def run(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The controller's `run` with `env`; ports it does not give are free ones (never the
    defaults 8081 and 9443: another controller on the machine may hold them)."""
    base = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_REGION": "us-east-1",
        "METRICS_PORT": str(free_port()),
        "WEBHOOK_PORT": str(free_port()),
    }
    return subprocess.run(
        [sys.executable, "-m", "controller.cli", "run"],
        env={**base, **env}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_no_kubeconfig(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "kubeconfig"
    line = one_line(run({"KUBECONFIG": str(missing), "METRICS_PORT": str(free_port())}, tmp_path))
    assert line.startswith("error: no Kubernetes credentials")
    assert str(missing) in line and "set KUBECONFIG" in line


def test_metrics_port_taken(tmp_path: Path, taken_port: int) -> None:
    line = one_line(run({"METRICS_PORT": str(taken_port)}, tmp_path))
    assert line == (
        f"error: cannot serve metrics on port {taken_port}: Address already in use; "
        "set METRICS_PORT to a free port"
    )


def test_a_bad_setting_names_the_variable_and_value(tmp_path: Path) -> None:
    line = one_line(run({"WORKERS": "lots", "METRICS_PORT": str(free_port())}, tmp_path))
    assert line.startswith("error: bad settings: WORKERS='lots': ")


def test_default_tags_on_an_externally_managed_key(tmp_path: Path) -> None:
    env = {
        "DEFAULT_TAGS": '{"cost-center": "42"}',
        "EXTERNAL_MANAGED_TAGS": '["cost-center"]',
        "METRICS_PORT": str(free_port()),
    }
    line = one_line(run(env, tmp_path))
    assert line == (
        "error: bad settings: DEFAULT_TAGS sets cost-center, which EXTERNAL_MANAGED_TAGS "
        "leaves to another tool; drop it from one of them"
    )


def test_a_given_backend_group_with_sharing_off(tmp_path: Path) -> None:
    env = {
        "BACKEND_SECURITY_GROUP": "sg-0123456789abcdef0",
        "ENABLE_BACKEND_SECURITY_GROUP": "false",
        "METRICS_PORT": str(free_port()),
    }
    line = one_line(run(env, tmp_path))
    assert "BACKEND_SECURITY_GROUP is set but ENABLE_BACKEND_SECURITY_GROUP is false" in line


def _unreachable_kubeconfig(tmp_path: Path) -> Path:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{free_port()}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    return kubeconfig


def test_an_unreachable_api_server(tmp_path: Path) -> None:
    env = {
        "KUBECONFIG": str(_unreachable_kubeconfig(tmp_path)),
        "METRICS_PORT": str(free_port()),
    }
    line = one_line(run(env, tmp_path))
    assert line.startswith(
        "error: cannot check for aws-load-balancer-controller: the Kubernetes API"
    )
    assert "is it reachable" in line


def test_webhook_port_taken(tmp_path: Path, taken_port: int) -> None:
    env = {
        "KUBECONFIG": str(_unreachable_kubeconfig(tmp_path)),
        "IGNORE_INCUMBENT": "true",
        "METRICS_PORT": str(free_port()),
        "WEBHOOK_PORT": str(taken_port),
    }
    line = one_line(run(env, tmp_path))
    assert line == (
        f"error: cannot serve the pod readiness gate webhook on port {taken_port}: Address "
        "already in use; set WEBHOOK_PORT to a free port (or ENABLE_POD_READINESS_GATE_INJECT="
        "false)"
    )


def test_a_webhook_certificate_that_is_not_one(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "tls.crt").write_text("-----BEGIN CERTIFICATE-----\nnot base64!\n")
    (certs / "tls.key").write_text("nor a key\n")
    env = {
        "KUBECONFIG": str(_unreachable_kubeconfig(tmp_path)),
        "IGNORE_INCUMBENT": "true",
        "METRICS_PORT": str(free_port()),
        "WEBHOOK_PORT": str(free_port()),
        "WEBHOOK_CERT_DIR": str(certs),
    }
    line = one_line(run(env, tmp_path))
    assert line.startswith(f"error: cannot load the webhook certificate: {certs}/tls.crt is not")
    assert line.endswith(
        "set WEBHOOK_CERT_DIR to a directory holding a PEM tls.crt and its tls.key"
    )
