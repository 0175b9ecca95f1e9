"""Where the shipping artefacts live and how the tests read them (paths, YAML, tools in .venv)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "deploy" / "manifests"
DOCKERFILE = REPO / "Dockerfile"
POLICY = REPO / "iam" / "policy.json"
# WAF and Shield, and TargetGroupBindings' target groups, apart so each document fits a
# managed policy (6,144 characters).
PROTECTION_POLICY = REPO / "iam" / "policy-protection.json"
BINDING_POLICY = REPO / "iam" / "policy-targetgroupbinding.json"
POLICIES = (POLICY, PROTECTION_POLICY, BINDING_POLICY)
ROLE_TEMPLATE = REPO / "iam" / "controller-role.yaml"

NAMESPACE = "alb-ingress-controller"
APP = "alb-ingress-controller"


def manifest_files() -> list[Path]:
    """Every YAML file under deploy/manifests, kustomizations included."""
    return sorted(MANIFESTS.rglob("*.yaml"))


def load_documents(path: Path) -> list[dict[str, Any]]:
    """The non-empty YAML documents of one file, each required to be a mapping."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    for doc in docs:
        assert isinstance(doc, dict), f"{path}: a document is not a mapping"
    return docs


def objects() -> list[dict[str, Any]]:
    """Every Kubernetes object shipped (all documents except kustomizations)."""
    return [
        doc
        for path in manifest_files()
        if path.name != "kustomization.yaml"
        for doc in load_documents(path)
    ]


def the_object(kind: str, name: str | None = None) -> dict[str, Any]:
    """The one shipped object of `kind` (and `name`), failing if there is not exactly one."""
    found = [
        o
        for o in objects()
        if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def load_policy_file(path: Path) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads(path.read_text())
    return policy


def load_policy() -> dict[str, Any]:
    """The policy documents as one: what a role carrying them all may do."""
    documents = [load_policy_file(path) for path in POLICIES]
    return {
        "Version": documents[0]["Version"],
        "Statement": [s for document in documents for s in document["Statement"]],
    }


def venv_tool(name: str) -> str:
    """A command-line tool installed into the project's venv by `make install`."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed next to {sys.executable}: run `make install`"
    return found
