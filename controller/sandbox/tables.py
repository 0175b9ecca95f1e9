"""Server-side printing: `meta.k8s.io/v1` Table responses, which `kubectl get` asks for.

kubectl sends `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints the columns
the server chooses. The columns here follow the real server's printers for the kinds the
controller's users look at (Ingress, Service, Pod, Deployment, Node, Namespace, ...); custom
resources get their CRD's `additionalPrinterColumns` (simple `.a.b` JSONPaths). Everything
else gets NAME and AGE, as the real server's default table convertor gives.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from controller.sandbox.resources import ResourceType

Obj = dict[str, Any]
Column = tuple[str, str, Callable[[Obj], Any]]


def age(obj: Obj) -> str:
    """kubectl's short human duration since creationTimestamp (`5s`, `3m`, `2d`)."""
    stamp = obj.get("metadata", {}).get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    created = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = max(0, int((datetime.now(UTC) - created).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 3 * 3600:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _get(obj: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _none(value: Any) -> str:
    return str(value) if value not in (None, "", []) else "<none>"


def _ingress_hosts(obj: Obj) -> str:
    hosts = [r.get("host") for r in _get(obj, "spec", "rules") or [] if r.get("host")]
    return ",".join(hosts) if hosts else "*"


def _lb_addresses(obj: Obj) -> str:
    found = _get(obj, "status", "loadBalancer", "ingress") or []
    return ",".join(i.get("hostname") or i.get("ip") or "" for i in found)


def _ingress_ports(obj: Obj) -> str:
    return "80, 443" if _get(obj, "spec", "tls") else "80"


def _svc_ports(obj: Obj) -> str:
    out = []
    for p in _get(obj, "spec", "ports") or []:
        text = f"{p.get('port')}"
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        out.append(f"{text}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _pod_ready(obj: Obj) -> str:
    statuses = _get(obj, "status", "containerStatuses") or []
    total = len(_get(obj, "spec", "containers") or [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _node_status(obj: Obj) -> str:
    ready = [c for c in _get(obj, "status", "conditions") or [] if c.get("type") == "Ready"]
    return "Ready" if ready and ready[0].get("status") == "True" else "NotReady"


def _deploy_ready(obj: Obj) -> str:
    return f"{_get(obj, 'status', 'readyReplicas') or 0}/{_get(obj, 'spec', 'replicas') or 0}"


COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("networking.k8s.io", "ingresses"): [
        ("Class", "string", lambda o: _none(_get(o, "spec", "ingressClassName"))),
        ("Hosts", "string", _ingress_hosts),
        ("Address", "string", _lb_addresses),
        ("Ports", "string", _ingress_ports),
    ],
    ("networking.k8s.io", "ingressclasses"): [
        ("Controller", "string", lambda o: _get(o, "spec", "controller") or ""),
        ("Parameters", "string", lambda o: _none(_get(o, "spec", "parameters"))),
    ],
    ("", "services"): [
        ("Type", "string", lambda o: _get(o, "spec", "type") or "ClusterIP"),
        ("Cluster-IP", "string", lambda o: _none(_get(o, "spec", "clusterIP"))),
        ("External-IP", "string", lambda o: _lb_addresses(o) or "<none>"),
        ("Port(s)", "string", _svc_ports),
    ],
    ("", "pods"): [
        ("Ready", "string", _pod_ready),
        ("Status", "string", lambda o: _get(o, "status", "phase") or "Pending"),
        ("Restarts", "string", lambda o: "0"),
    ],
    ("apps", "deployments"): [
        ("Ready", "string", _deploy_ready),
        ("Up-to-date", "integer", lambda o: _get(o, "status", "updatedReplicas") or 0),
        ("Available", "integer", lambda o: _get(o, "status", "availableReplicas") or 0),
    ],
    ("", "nodes"): [
        ("Status", "string", _node_status),
        ("Roles", "string", lambda o: "<none>"),
    ],
    ("", "namespaces"): [("Status", "string", lambda o: _get(o, "status", "phase") or "")],
    ("", "events"): [
        ("Type", "string", lambda o: o.get("type", "")),
        ("Reason", "string", lambda o: o.get("reason", "")),
        ("Message", "string", lambda o: o.get("message", "")),
    ],
}


def _path_getter(path: list[str]) -> Callable[[Obj], Any]:
    return lambda obj: _none(_get(obj, *path))


def _custom_columns(rt: ResourceType) -> list[Column]:
    cols: list[Column] = []
    for spec in rt.printer_columns:
        path = [p for p in str(spec.get("jsonPath", "")).split(".") if p]
        cols.append((spec.get("name", ""), spec.get("type", "string"), _path_getter(path)))
    return cols


def table(rt: ResourceType, objs: list[Obj], include: str, rv: str) -> Obj:
    """A Table of these objects; `include` is the includeObject parameter."""
    cols = _custom_columns(rt) if rt.custom else COLUMNS.get(rt.key, [])
    defs = [{"name": "Name", "type": "string", "format": "name", "description": "Name",
             "priority": 0}]  # fmt: skip
    defs += [{"name": n, "type": t, "format": "", "description": n, "priority": 0}
             for n, t, _ in cols]  # fmt: skip
    defs.append({"name": "Age", "type": "string", "format": "", "description": "Age",
                 "priority": 0})  # fmt: skip
    rows = []
    for obj in objs:
        row: Obj = {"cells": [obj["metadata"]["name"], *(f(obj) for _, _, f in cols), age(obj)]}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": defs,
        "rows": rows,
    }
