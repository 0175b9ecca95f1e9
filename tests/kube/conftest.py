"""The kube layer against the session's real kube-apiserver (`tests/conftest.py`).

Each test gets a namespace of its own, deleted afterwards, so tests sharing the control
plane never see each other's objects.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client


@pytest.fixture
def namespace(admin_api: client.ApiClient) -> Iterator[str]:
    name = f"kube-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(admin_api)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)
