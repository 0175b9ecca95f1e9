"""Fixtures every test package may use: one real control plane per test session.

`control_plane` starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
kwok once (about 10 s; the first run on a machine builds them, see
`scripts/k8s-binaries.sh`), with an audit log. Tests that need their own (the `sandbox`
commands, the recorded ship run) start their own. A build or start failure fails the tests
that need it, with the component's log tail; it never skips them. The binaries' directory
goes first on PATH, so `kubectl` in a test is the one matching the server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config

from sandbox.binaries import binaries
from sandbox.controlplane import ControlPlane


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    bins = binaries()
    os.environ["PATH"] = f"{bins.directory}{os.pathsep}{os.environ.get('PATH', '')}"
    with ControlPlane(tmp_path_factory.mktemp("control-plane"), bins=bins) as started:
        yield started


@pytest.fixture
def namespace(admin_api: client.ApiClient) -> Iterator[str]:
    """A namespace of the test's own on the shared control plane, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    core: Any = client.CoreV1Api(admin_api)  # plain dict bodies, as kubectl sends
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="session")
def admin_api(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    """A `kubernetes` client as the cluster admin (system:masters)."""
    api = config.new_client_from_config(config_file=str(control_plane.kubeconfig))  # type: ignore[no-untyped-call]
    yield api
    api.close()
