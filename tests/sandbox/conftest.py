"""Fixtures for the emulator's conformance tests: a server per test, real clients against it.

Each test gets a fresh `ApiServerThread` (it starts in milliseconds), a kubeconfig written by
`write_kubeconfig`, and the real `kubernetes` client loaded from that kubeconfig, so the
tests exercise exactly what a user's tools would.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from controller.sandbox.apiserver import ApiServer, ApiServerThread
from controller.sandbox.kubeconfig import write_kubeconfig
from controller.sandbox.store import Store

KUBECTL = shutil.which("kubectl")


@pytest.fixture
def api() -> Iterator[ApiServerThread]:
    server = ApiServer(store=Store(history_limit=200), bookmark_interval=0.3)
    with ApiServerThread(server) as running:
        yield running


@pytest.fixture
def kubeconfig(api: ApiServerThread, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    write_kubeconfig(path, api.url)
    return path


@pytest.fixture
def k8s(kubeconfig: Path) -> Iterator[Any]:
    api_client = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    yield api_client
    api_client.close()


@pytest.fixture
def core(k8s: Any) -> Any:
    return client.CoreV1Api(k8s)


@pytest.fixture
def net(k8s: Any) -> Any:
    return client.NetworkingV1Api(k8s)


@pytest.fixture
def apps(k8s: Any) -> Any:
    return client.AppsV1Api(k8s)


@pytest.fixture
def custom(k8s: Any) -> Any:
    return client.CustomObjectsApi(k8s)


@dataclass
class Kubectl:
    """Runs kubectl against the sandbox's kubeconfig."""

    kubeconfig: Path

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        assert KUBECTL is not None
        proc = subprocess.run(
            [KUBECTL, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=30,
            env={"KUBECONFIG": str(self.kubeconfig), "HOME": str(self.kubeconfig.parent)},
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout + (proc.stderr if not check else "")


@pytest.fixture
def kubectl(kubeconfig: Path) -> Kubectl:
    if KUBECTL is None:
        pytest.skip("kubectl is not installed on this machine; the kubectl cases need it")
    return Kubectl(kubeconfig)
