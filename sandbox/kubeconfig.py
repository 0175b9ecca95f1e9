"""Kubeconfig files for the local control plane: a client certificate or a bearer token.

kubectl, the `kubernetes` client and kopf all read them unmodified. Credentials are
embedded as data, so a file works wherever it is copied (mode 0600, as kubectl writes).
"""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

CONTEXT = "sandbox"


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def kubeconfig(
    server_url: str,
    ca: Path,
    user: dict[str, str],
    namespace: str = "default",
) -> dict[str, object]:
    """The kubeconfig document as a dict; `user` is its `users[0].user` entry."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CONTEXT,
                "cluster": {"server": server_url, "certificate-authority-data": _b64(ca)},
            }
        ],
        "users": [{"name": CONTEXT, "user": user}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


def cert_user(cert: Path, key: Path) -> dict[str, str]:
    return {"client-certificate-data": _b64(cert), "client-key-data": _b64(key)}


def token_user(token: str) -> dict[str, str]:
    return {"token": token}


def write_kubeconfig(path: Path, document: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    path.chmod(0o600)
    return path
