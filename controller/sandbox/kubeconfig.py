"""A kubeconfig for the emulator: plain HTTP to 127.0.0.1 and a placeholder token.

kubectl, the `kubernetes` client and kopf all read it unmodified. The token is accepted but
never checked; it is there because some tools insist on a credential in the user entry.
"""

from __future__ import annotations

from pathlib import Path

import yaml

CONTEXT = "sandbox"


def kubeconfig(server_url: str, namespace: str = "default") -> dict[str, object]:
    """The kubeconfig document as a dict."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server_url}}],
        "users": [{"name": CONTEXT, "user": {"token": "sandbox"}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write_kubeconfig(path: Path, server_url: str, namespace: str = "default") -> None:
    """Write a kubeconfig for the emulator at `path` (created with mode 0600, like kubectl)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(kubeconfig(server_url, namespace), sort_keys=False))
    path.chmod(0o600)
