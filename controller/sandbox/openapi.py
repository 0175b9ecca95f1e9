"""A minimal OpenAPI v3 document set, enough for kubectl's request-time checks.

`kubectl apply`/`create` with validation on (the default) asks `/openapi/v3` whether the
server validates fields itself: it looks, per group/version, for the PATCH operation of the
object's kind and its `fieldValidation` query parameter. Finding it, kubectl sends
`fieldValidation=Strict` and validates nothing on the client; not finding any OpenAPI, it
refuses ("failed to download openapi"). So each group/version document here lists every
served resource's item path with its operations, the `x-kubernetes-group-version-kind`
extension and the `fieldValidation` parameter, and no schemas (kubectl then builds patches
from its compiled-in types, as for any server without schemas). The emulator accepts
`fieldValidation` and does not check unknown fields.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from controller.sandbox.resources import Registry, ResourceType

_QUERY_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "pretty")


def _item_path(rt: ResourceType) -> str:
    base = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    scope = "/namespaces/{namespace}" if rt.namespaced else ""
    return f"{base}{scope}/{rt.plural}/{{name}}"


def _operation(rt: ResourceType, verb: str) -> dict[str, Any]:
    return {
        "operationId": f"{verb}{rt.kind}",
        "parameters": [
            {"name": p, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
            for p in _QUERY_PARAMS
        ],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": {
            "group": rt.group,
            "version": rt.version,
            "kind": rt.kind,
        },
    }


def group_version_doc(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """The OpenAPI v3 document for one group/version (None if it is not served)."""
    rts = [rt for rt in registry.all() if rt.group == group and rt.version == version]
    if not rts:
        return None
    paths = {
        _item_path(rt): {
            "get": _operation(rt, "get"),
            "put": _operation(rt, "put"),
            "patch": _operation(rt, "patch"),
            "delete": _operation(rt, "delete"),
        }
        for rt in rts
    }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0-sandbox"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _gv_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def index(registry: Registry) -> dict[str, Any]:
    """`/openapi/v3`: the group/version documents, each with a content hash in its URL."""
    paths = {}
    for gv in sorted({(rt.group, rt.version) for rt in registry.all()}):
        doc = group_version_doc(registry, *gv)
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]
        key = _gv_key(*gv)
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}
