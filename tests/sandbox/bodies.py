"""Small valid request bodies the conformance tests create."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from kubernetes import watch


def ingress(name: str, host: str = "a.example.com", **meta: Any) -> dict[str, Any]:
    """A minimal valid Ingress body."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, **meta},
        "spec": {
            "ingressClassName": "alb",
            "rules": [{"host": host, "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}},
            }]}}],
        },
    }  # fmt: skip


def configmap(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels or {}},
        "data": data,
    }


def new_watch() -> Any:
    """A `kubernetes.watch.Watch` (untyped in the client; typed as Any here)."""
    return watch.Watch()  # type: ignore[no-untyped-call]


def http(
    base: str, method: str, path: str, body: Any = None, content_type: str = "application/json"
) -> tuple[int, Any]:
    """A raw request to the emulator: (status code, decoded JSON body)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")
