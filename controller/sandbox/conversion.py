"""Conversion between a resource's stored form and the form served at one group/version.

Two cases need it. `events.k8s.io/v1` Events are stored with core `v1` Events (as in a real
cluster, where both APIs read the same objects), so an Event a controller posts through either
API shows in `kubectl describe`; the field names differ (`regarding` is `involvedObject`,
`note` is `message`, ...). Custom resources served at several versions carry the requested
`apiVersion` (the CRD conversion strategy `None`).
"""

from __future__ import annotations

import copy
from typing import Any

from controller.sandbox.resources import ResourceType

Obj = dict[str, Any]

# events.k8s.io/v1 field -> core v1 field.
_EVENT_FIELDS = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_CORE_FIELDS = {v: k for k, v in _EVENT_FIELDS.items()}


def _rename(obj: Obj, names: dict[str, str]) -> Obj:
    return {names.get(k, k): copy.deepcopy(v) for k, v in obj.items()}


def to_served(rt: ResourceType, obj: Obj) -> Obj:
    """A stored object as this resource version serves it."""
    if rt.storage == ("", "events"):
        out = _rename(obj, _CORE_FIELDS)
    elif rt.custom:
        out = copy.deepcopy(obj)
    else:
        return obj
    out["apiVersion"] = rt.api_version
    out["kind"] = rt.kind
    return out


def to_stored(rt: ResourceType, obj: Obj) -> Obj:
    """A request body for this resource version, in the stored form."""
    if rt.storage == ("", "events"):
        out = _rename(obj, _EVENT_FIELDS)
        out["apiVersion"], out["kind"] = "v1", "Event"
        return out
    return obj


def storage_type(rt: ResourceType, core_event: ResourceType) -> ResourceType:
    """The resource type the store keeps these objects under."""
    return core_event if rt.storage == ("", "events") else rt
