"""Which Ingresses are ours (IngressClass selection) and which group each one joins.

Selection follows aws-load-balancer-controller: the legacy `kubernetes.io/ingress.class`
annotation first, then `spec.ingressClassName` naming an IngressClass whose controller is
`ingress.k8s.aws/alb`, else the cluster's default IngressClass. An Ingress that names a
class that does not exist is not ours. Group membership comes from `group.name`; without it
an Ingress is its own group `ns/name`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from controller.config import INGRESS_CLASS_CONTROLLER, ModelDefaults
from controller.model.annotation_reader import read_annotations
from controller.model.annotations import SPECS, Location
from controller.model.inputs import IngressClassSpec, key_of, metadata_of, spec_of
from controller.model.stack import BuildError

LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
IMPLICIT_FINALIZER = "ingress.k8s.aws/resources"
EXPLICIT_FINALIZER_PREFIX = "group.ingress.k8s.aws/"


@dataclass(frozen=True, order=True)
class GroupRef:
    """The group an Ingress belongs to: a `group.name`, or the Ingress itself (`ns/name`).

    A group is its id and kind; `order` is the member's own `group.order`, carried along for
    sorting members and left out of comparisons, so every member's ref is the same group.
    """

    id: str
    explicit: bool
    order: int = field(default=0, compare=False)

    @property
    def finalizer(self) -> str:
        """The finalizer LBC puts on members of this group (kept identical for adoption)."""
        if self.explicit:
            return EXPLICIT_FINALIZER_PREFIX + self.id
        return IMPLICIT_FINALIZER


def is_our_class(
    ingress: Mapping[str, Any],
    ingress_classes: Sequence[Mapping[str, Any]],
    defaults: ModelDefaults,
) -> bool:
    """Whether this controller handles the Ingress at all (see the module docstring)."""
    meta = metadata_of(ingress)
    legacy = (meta.annotations or {}).get(LEGACY_CLASS_ANNOTATION)
    if legacy is not None:
        return bool(legacy == defaults.ingress_class)
    spec = ingress.get("spec")
    class_name = spec.get("ingressClassName") if isinstance(spec, Mapping) else None
    if class_name is not None:
        classes = {metadata_of(c).name: c for c in ingress_classes}
        named = classes.get(class_name) if isinstance(class_name, str) else None
        return named is not None and _controller_of(named) == INGRESS_CLASS_CONTROLLER
    default = _default_class(ingress_classes)
    return default is not None and _controller_of(default) == INGRESS_CLASS_CONTROLLER


def held_groups(ingress: Mapping[str, Any]) -> frozenset[GroupRef]:
    """The groups whose finalizer the Ingress carries (it may have left one and still hold
    it until that group's resources are gone)."""
    meta = ingress.get("metadata")
    finalizers = meta.get("finalizers") if isinstance(meta, Mapping) else None
    held: set[GroupRef] = set()
    for finalizer in finalizers if isinstance(finalizers, list) else ():
        if finalizer == IMPLICIT_FINALIZER:
            held.add(GroupRef(id=key_of(ingress), explicit=False))
        elif isinstance(finalizer, str) and finalizer.startswith(EXPLICIT_FINALIZER_PREFIX):
            held.add(GroupRef(id=finalizer.removeprefix(EXPLICIT_FINALIZER_PREFIX), explicit=True))
    return frozenset(held)


def group_of(
    ingress: Mapping[str, Any],
    ingress_classes: Sequence[Mapping[str, Any]],
    defaults: ModelDefaults,
) -> GroupRef | BuildError | None:
    """None: not ours. Otherwise the Ingress's group, or an error if its group annotations are bad.

    Deleted Ingresses (deletionTimestamp set) are classified like any other; the caller
    decides what that means.
    """
    if not is_our_class(ingress, ingress_classes, defaults):
        return None
    meta = metadata_of(ingress)
    key = f"{meta.namespace}/{meta.name}"
    annotations = {
        k: v
        for k, v in (meta.annotations or {}).items()
        if k in (SPECS["group.name"].key, SPECS["group.order"].key)
    }
    parsed = read_annotations(annotations, Location.INGRESS)
    if parsed.errors:
        where, message = parsed.errors[0]
        return BuildError(ingress=key, field=where, message=message)
    order: int = parsed.get("group.order", 0)
    name: str | None = parsed.get("group.name")
    if name is None:
        return GroupRef(id=key, explicit=False, order=order)
    return GroupRef(id=name, explicit=True, order=order)


def _controller_of(ingress_class: Mapping[str, Any]) -> str | None:
    try:
        return spec_of(ingress_class, IngressClassSpec).controller
    except ValidationError:
        return None


def _default_class(ingress_classes: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The default IngressClass; with several, the newest wins, as the API server does."""
    defaults = [
        c
        for c in ingress_classes
        if (metadata_of(c).annotations or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"
    ]
    if not defaults:
        return None
    return max(
        defaults,
        key=lambda c: (metadata_of(c).creation_timestamp or "", metadata_of(c).name),
    )
