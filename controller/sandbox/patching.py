"""The three PATCH flavours of the API server: JSON merge, JSON patch and strategic merge.

- `application/merge-patch+json` (RFC 7386): maps merge, `null` deletes, lists are replaced.
- `application/json-patch+json` (RFC 6902, with `test`): done by the `jsonpatch` library; a
  failed operation (including a failed `test`) is 422 Invalid, a malformed patch 400, as the
  real server's patch handler answers.
- `application/strategic-merge-patch+json`: like merge patch, but list fields that the
  Kubernetes API types tag `patchStrategy:"merge"` merge by their `patchMergeKey` (containers
  by `name`, service ports by `port`, conditions by `type`, ownerReferences by `uid`, ...),
  primitive merge lists (`metadata.finalizers`) are unions, and the directives `$patch`
  (`replace`/`delete`/`merge`), `$retainKeys`, `$setElementOrder/<field>` and
  `$deleteFromPrimitiveList/<field>` are honoured. The table of merge keys below is copied
  from the `patchMergeKey` tags of the types the emulator serves. Custom resources have no
  such tags, so the real server (and this one) refuses strategic merge on them (415).
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from controller.sandbox.errors import ApiError, bad_request

Path = tuple[str, ...]

# patchMergeKey of list fields with patchStrategy "merge"; None = merge a list of primitives.
_METADATA: dict[Path, str | None] = {
    ("metadata", "finalizers"): None,
    ("metadata", "ownerReferences"): "uid",
}


def _pod_spec(prefix: Path) -> dict[Path, str | None]:
    out: dict[Path, str | None] = {
        (*prefix, "volumes"): "name",
        (*prefix, "imagePullSecrets"): "name",
        (*prefix, "hostAliases"): "ip",
        (*prefix, "topologySpreadConstraints"): "topologyKey",
        (*prefix, "resourceClaims"): "name",
        (*prefix, "schedulingGates"): "name",
    }
    for containers in ("containers", "initContainers", "ephemeralContainers"):
        out[(*prefix, containers)] = "name"
        out[(*prefix, containers, "ports")] = "containerPort"
        out[(*prefix, containers, "env")] = "name"
        out[(*prefix, containers, "volumeMounts")] = "mountPath"
        out[(*prefix, containers, "volumeDevices")] = "devicePath"
    return out


_CONDITIONS: dict[Path, str | None] = {("status", "conditions"): "type"}

MERGE_KEYS: dict[tuple[str, str], dict[Path, str | None]] = {
    ("", "Pod"): {
        **_pod_spec(("spec",)),
        **_CONDITIONS,
        ("status", "podIPs"): "ip",
        ("status", "hostIPs"): "ip",
    },
    ("apps", "Deployment"): {**_pod_spec(("spec", "template", "spec")), **_CONDITIONS},
    ("", "Service"): {("spec", "ports"): "port", **_CONDITIONS},
    ("", "Node"): {
        **_CONDITIONS,
        ("status", "addresses"): "type",
        ("spec", "podCIDRs"): None,
    },
    ("", "Namespace"): {**_CONDITIONS},
}


class _Absent:
    """Marks a strategic `$patch: delete` of a whole map."""


_ABSENT = _Absent()


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: dict[str, Any], patch: Any) -> dict[str, Any]:
    """RFC 6902 JSON patch; apply failures (e.g. a failed `test`) are 422 like the real server."""
    if not isinstance(patch, list):
        raise bad_request("json patch must be a list of operations")
    try:
        ops = jsonpatch.JsonPatch(patch)
    except (jsonpatch.InvalidJsonPatch, TypeError) as exc:
        raise bad_request(f"invalid json patch: {exc}") from exc
    try:
        result = ops.apply(copy.deepcopy(target))
    except jsonpatch.InvalidJsonPatch as exc:
        raise bad_request(f"invalid json patch: {exc}") from exc
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, KeyError) as exc:
        raise ApiError(422, "Invalid", f"the server rejected our request: {exc}") from exc
    if not isinstance(result, dict):
        raise bad_request("json patch must leave an object")
    return result


def strategic_merge_patch(
    target: dict[str, Any], patch: Any, group: str, kind: str
) -> dict[str, Any]:
    """Kubernetes strategic merge patch for a built-in kind."""
    if not isinstance(patch, dict):
        raise bad_request("strategic merge patch must be a JSON object")
    keys = {**_METADATA, **MERGE_KEYS.get((group, kind), {})}
    result = _merge_map(copy.deepcopy(target), patch, (), keys)
    return result if isinstance(result, dict) else {}


def _merge_map(
    orig: dict[str, Any], patch: dict[str, Any], path: Path, keys: dict[Path, str | None]
) -> dict[str, Any] | _Absent:
    directive = patch.get("$patch")
    if directive == "delete":
        return _ABSENT
    if directive == "replace":
        orig = {}
    elif directive not in (None, "merge"):
        raise bad_request(f"unknown patch directive {directive!r} at {'.'.join(path) or '.'}")
    result = dict(orig)
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
            continue
        child = (*path, key)
        if isinstance(value, dict):
            base = result.get(key)
            merged = _merge_map(base if isinstance(base, dict) else {}, value, child, keys)
            if isinstance(merged, _Absent):
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            base_list = result.get(key)
            base_list = base_list if isinstance(base_list, list) else []
            if child in keys:
                result[key] = _merge_list(base_list, value, child, keys[child], keys)
            else:
                result[key] = _strip_list(value, child, keys)
        else:
            result[key] = copy.deepcopy(value)
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/") and isinstance(value, list):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [v for v in result[name] if v not in value]
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") and isinstance(value, list):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = _ordered(result[name], value, keys.get((*path, name)))
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _strip_list(items: list[Any], path: Path, keys: dict[Path, str | None]) -> list[Any]:
    """A replaced list, with directives removed from its map items."""
    out = []
    for item in items:
        if isinstance(item, dict):
            merged = _merge_map({}, item, path, keys)
            if not isinstance(merged, _Absent):
                out.append(merged)
        else:
            out.append(copy.deepcopy(item))
    return out


def _merge_list(
    orig: list[Any],
    patch: list[Any],
    path: Path,
    merge_key: str | None,
    keys: dict[Path, str | None],
) -> list[Any]:
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return _strip_list(
            [i for i in patch if not (isinstance(i, dict) and i.get("$patch") == "replace")],
            path,
            keys,
        )
    if merge_key is None:
        result = list(orig)
        for item in patch:
            if isinstance(item, dict) and item.get("$patch") == "delete":
                continue
            if item not in result:
                result.append(copy.deepcopy(item))
        return result
    result = [copy.deepcopy(i) for i in orig]
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            raise bad_request(
                f"strategic merge patch: an item of {'.'.join(path)} lacks its merge key "
                f"{merge_key!r}"
            )
        index = next(
            (
                n
                for n, o in enumerate(result)
                if isinstance(o, dict) and o.get(merge_key) == item[merge_key]
            ),
            None,
        )
        if item.get("$patch") == "delete":
            result = [
                o
                for o in result
                if not (isinstance(o, dict) and o.get(merge_key) == item[merge_key])
            ]
            continue
        merged = _merge_map(result[index] if index is not None else {}, item, path, keys)
        if isinstance(merged, _Absent):
            continue
        if index is None:
            result.append(merged)
        else:
            result[index] = merged
    return result


def _ordered(items: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    """Apply `$setElementOrder`: listed items first in that order, the rest after, stable."""

    def ident(item: Any) -> Any:
        if merge_key and isinstance(item, dict):
            return item.get(merge_key)
        return item

    wanted = [ident(o) for o in order]

    def rank(pair: tuple[int, Any]) -> tuple[int, int]:
        n, item = pair
        key = ident(item)
        return (wanted.index(key), n) if key in wanted else (len(wanted), n)

    return [item for _, item in sorted(enumerate(items), key=rank)]
