"""Which Ingresses are ours (IngressClass selection) and which group each one joins.

Selection follows aws-load-balancer-controller: the legacy `kubernetes.io/ingress.class`
annotation first, then `spec.ingressClassName` naming an IngressClass whose controller is
`ingress.k8s.aws/alb`, else the cluster's default IngressClass. An Ingress that names a
class that does not exist is not ours. Group membership comes from the class's
IngressClassParams `spec.group.name` if it has one (LBC: the params win), else from the
`group.name` annotation; without either an Ingress is its own group `ns/name`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from controller.config import INGRESS_CLASS_CONTROLLER, ModelDefaults
from controller.model.annotation_reader import annotation_field, read_annotations
from controller.model.annotations import SPECS, Location
from controller.model.class_params import find_params, group_name_of
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
    return _selection(ingress, ingress_classes, defaults)[0]


def selected_class(
    ingress: Mapping[str, Any],
    ingress_classes: Sequence[Mapping[str, Any]],
    defaults: ModelDefaults,
) -> Mapping[str, Any] | None:
    """The IngressClass that makes the Ingress ours (named, or the default one); None when
    it is not ours, or is ours by the legacy annotation (which has no class, so no params,
    as in LBC)."""
    return _selection(ingress, ingress_classes, defaults)[1]


def _selection(
    ingress: Mapping[str, Any],
    ingress_classes: Sequence[Mapping[str, Any]],
    defaults: ModelDefaults,
) -> tuple[bool, Mapping[str, Any] | None]:
    """(ours, the class that made it ours)."""
    meta = metadata_of(ingress)
    legacy = (meta.annotations or {}).get(LEGACY_CLASS_ANNOTATION)
    if legacy is not None:
        return bool(legacy == defaults.ingress_class), None
    spec = ingress.get("spec")
    class_name = spec.get("ingressClassName") if isinstance(spec, Mapping) else None
    if class_name is not None:
        classes = {metadata_of(c).name: c for c in ingress_classes}
        named = classes.get(class_name) if isinstance(class_name, str) else None
        if named is not None and _controller_of(named) == INGRESS_CLASS_CONTROLLER:
            return True, named
        return False, None
    default = _default_class(ingress_classes)
    if default is not None and _controller_of(default) == INGRESS_CLASS_CONTROLLER:
        return True, default
    return False, None


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
    class_params: Sequence[Mapping[str, Any]] | None = (),
) -> GroupRef | BuildError | None:
    """None: not ours. Otherwise the Ingress's group, or an error if its group annotations
    (or its class's IngressClassParams `spec.group.name`) are bad.

    `class_params` are the cluster's IngressClassParams (None: they cannot be read).
    Deleted Ingresses (deletionTimestamp set) are classified like any other; the caller
    decides what that means.
    """
    ours, ingress_class = _selection(ingress, ingress_classes, defaults)
    if not ours:
        return None
    meta = metadata_of(ingress)
    key = f"{meta.namespace}/{meta.name}"
    imposed = _class_group_name(ingress_class, class_params)
    if isinstance(imposed, tuple):
        return BuildError(ingress=key, field=imposed[0], message=imposed[1])
    # With the params' group, the group.name annotation is not read at all (LBC); its
    # difference is reported as the params' override when the Ingress is built.
    wanted = {SPECS["group.order"].key}
    if imposed is None:
        wanted.add(SPECS["group.name"].key)
    annotations = {k: v for k, v in (meta.annotations or {}).items() if k in wanted}
    parsed = read_annotations(annotations, Location.INGRESS)
    if parsed.errors:
        where, message = parsed.errors[0]
        return BuildError(ingress=key, field=where, message=message)
    order: int = parsed.get("group.order", 0)
    name: str | None = imposed or parsed.get("group.name")
    ref = (
        GroupRef(id=key, explicit=False, order=order)
        if name is None
        else GroupRef(id=name, explicit=True, order=order)
    )
    by_annotation = ref.explicit and imposed is None
    refused = _new_use_refused(
        ingress, key, ingress_class, by_annotation=by_annotation, ref=ref, defaults=defaults
    )
    return refused or ref


def _new_use_refused(
    ingress: Mapping[str, Any],
    key: str,
    ingress_class: Mapping[str, Any] | None,
    *,
    by_annotation: bool,
    ref: GroupRef,
    defaults: ModelDefaults,
) -> BuildError | None:
    """LBC's webhook refuses new uses of the legacy class annotation and of group.name when
    its flags say so; without a webhook, the Ingress is refused here instead. One that is a
    member already (it carries LBC's or our finalizer of that group) keeps working."""
    held = held_groups(ingress)
    if defaults.disable_ingress_class_annotation and ingress_class is None and not held:
        return BuildError(
            ingress=key,
            field=f"metadata.annotations[{LEGACY_CLASS_ANNOTATION}]",
            message="new use of this annotation is disabled (DISABLE_INGRESS_CLASS_ANNOTATION); "
            "set spec.ingressClassName instead",
        )
    if defaults.disable_ingress_group_name_annotation and by_annotation and ref not in held:
        return BuildError(
            ingress=key,
            field=annotation_field(SPECS["group.name"].key),
            message="joining a group by this annotation is disabled "
            "(DISABLE_INGRESS_GROUP_NAME_ANNOTATION); an Ingress already in the group keeps "
            "it, others may use an IngressClassParams spec.group.name",
        )
    return None


def _class_group_name(
    ingress_class: Mapping[str, Any] | None, class_params: Sequence[Mapping[str, Any]] | None
) -> str | tuple[str, str] | None:
    """The group the class's params put its Ingresses in: a name, None, or (field,
    message) if it is invalid. A missing or misnamed params object is not this function's
    to report: the Ingress's build says so."""
    found = find_params(ingress_class, class_params)
    if found is None or isinstance(found, tuple):
        return None
    return group_name_of(found)


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
