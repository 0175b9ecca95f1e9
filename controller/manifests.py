"""Read Kubernetes manifests (YAML or JSON files, or folders of them) into plain dicts.

What `plan -f` reads, and what the sandbox applies. Files may hold many documents (`---`)
and `kind: List` objects; folders are read recursively in name order, so the result is the
same on every machine. Anything unreadable raises `ManifestError` naming the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

SUFFIXES = (".yaml", ".yml", ".json")


class ManifestError(Exception):
    """A manifest path that cannot be read as Kubernetes objects."""


def load_manifests(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Every object in `paths`, in order; raises `ManifestError` on unreadable input."""
    objects: list[dict[str, Any]] = []
    for path in paths:
        for file in _files(Path(path)):
            objects += _read(file)
    return objects


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
        if not files:
            raise ManifestError(f"{path}: no {', '.join(SUFFIXES)} files in this folder")
        return files
    if not path.exists():
        raise ManifestError(f"{path}: no such file or folder")
    return [path]


def _read(file: Path) -> list[dict[str, Any]]:
    try:
        text = file.read_text(encoding="utf-8")
        documents = list(yaml.safe_load_all(text))
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(f"{file}: cannot read: {err}") from err
    except yaml.YAMLError as err:
        raise ManifestError(f"{file}: not valid YAML: {err}") from err
    objects: list[dict[str, Any]] = []
    for index, document in enumerate(documents):
        if document is None:
            continue  # an empty document, e.g. after a trailing `---`
        objects += _objects(document, f"{file}: document {index + 1}")
    return objects


def _objects(document: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(document, Mapping) or not isinstance(document.get("kind"), str):
        raise ManifestError(f"{where}: not a Kubernetes object (a mapping with a kind)")
    if document["kind"] == "List" or document["kind"].endswith("List"):
        items = document.get("items") or []
        if not isinstance(items, list):
            raise ManifestError(f"{where}: items of a List must be a list")
        result: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            result += _objects(item, f"{where}, item {index}")
        return result
    return [dict(document)]
