"""Reading annotations off one object: the parsed values, and errors naming each field.

`read_annotations` looks every `alb.ingress.kubernetes.io/*` key up in the table of
`annotations.py`, keeps those allowed where the object is (Ingress or Service), and parses
each value into its typed form. A bad value does not stop the others: it becomes an error
whose field is `metadata.annotations[<key>]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.model.annotations import (
    PREFIX,
    SPECS,
    TEMPLATED,
    AnnotationSpec,
    Location,
    lbc_only,
)
from controller.model.values import ActionValue


def annotation_field(key: str, owner: str = "") -> str:
    """The `field` of a BuildError about annotation `key` (`owner`: e.g. `service/foo.`)."""
    return f"{owner}metadata.annotations[{key}]"


@dataclass(frozen=True)
class AnnotationValues:
    """The supported annotations of one object, parsed; bad ones are in `errors` instead."""

    values: dict[str, Any] = field(default_factory=dict)  # by spec name
    actions: dict[str, ActionValue] = field(default_factory=dict)  # by ${name}
    conditions: dict[str, list[Any]] = field(default_factory=dict)  # by ${name}
    errors: tuple[tuple[str, str], ...] = ()  # (field, message)
    # Keys with our prefix that are not read here: unknown, not supported yet, or not
    # allowed on this kind of object. (field, message); the builder turns them into warnings.
    ignored: tuple[tuple[str, str], ...] = ()
    # listener-attributes.${Protocol}-${Port}, by (protocol, port)
    listener_attributes: dict[tuple[str, int], dict[str, str]] = field(default_factory=dict)
    # The other templated annotations, by spec name and then what stands for the template
    # (`transforms.${name}` by service name, `target-control-port...` by `<svc>.<port>`).
    templated: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def templated_value(self, spec_name: str, name: str) -> Any:
        """The value of a templated annotation for `name`, or None."""
        return self.templated.get(spec_name, {}).get(name)


def read_annotations(
    annotations: Mapping[str, Any] | None, location: Location, owner: str = ""
) -> AnnotationValues:
    """Parse the supported annotations that may sit on `location`; others are ignored."""
    values: dict[str, Any] = {}
    actions: dict[str, ActionValue] = {}
    conditions: dict[str, list[Any]] = {}
    listener_attributes: dict[tuple[str, int], dict[str, str]] = {}
    templated: dict[str, dict[str, Any]] = {}
    named: dict[str, dict[str, Any]] = {
        "actions.${name}": actions,
        "conditions.${name}": conditions,
    }
    errors: list[tuple[str, str]] = []
    ignored: list[tuple[str, str]] = []
    for key in sorted(annotations or {}, key=str):
        if not isinstance(key, str) or not key.startswith(PREFIX):
            continue
        suffix = key[len(PREFIX) :]
        spec, name = _spec_for(suffix)
        where = annotation_field(key, owner)
        if spec is None or location not in spec.locations:
            ignored.append((where, _why_ignored(suffix, spec, location)))
            continue
        listener = _listener_of(name) if spec.name == LISTENER_ATTRIBUTES else None
        if spec.name == LISTENER_ATTRIBUTES and listener is None:
            # LBC reads only the exact `<HTTP|HTTPS>-<port>` keys and ignores the rest.
            prefix = spec.template_prefix
            ignored.append(
                (
                    where,
                    f"ignored: names no listener; expected {prefix}<HTTP|HTTPS>-<port>, "
                    f"e.g. {prefix}HTTPS-443",
                )
            )
            continue
        raw = (annotations or {})[key]
        if not isinstance(raw, str):
            errors.append((where, "annotation values must be strings (quote it in YAML)"))
            continue
        try:
            parsed = spec.parse(raw)
        except ValueError as err:
            errors.append((where, f"invalid value {_shorten(raw)}: {err}"))
            continue
        if listener is not None:
            listener_attributes[listener] = parsed
        elif spec.templated:
            store = named[spec.name] if spec.name in named else templated.setdefault(spec.name, {})
            store[name] = parsed
        else:
            values[spec.name] = parsed
    return AnnotationValues(
        values,
        actions,
        conditions,
        tuple(errors),
        tuple(ignored),
        listener_attributes=listener_attributes,
        templated=templated,
    )


LISTENER_ATTRIBUTES = "listener-attributes.${Protocol}-${Port}"
_LISTENER = re.compile(r"(HTTPS?)-([1-9][0-9]{0,4})")


def _listener_of(name: str) -> tuple[str, int] | None:
    """`HTTPS-443` -> ("HTTPS", 443); anything else (LBC's spelling is exact) -> None."""
    match = _LISTENER.fullmatch(name)
    if match is None or int(match.group(2)) > 65535:
        return None
    return match.group(1), int(match.group(2))


def external_tag_errors(
    values: AnnotationValues, external: Iterable[str], owner: str = ""
) -> list[tuple[str, str]]:
    """(field, message) when the `tags` annotation sets a key another tool manages
    (EXTERNAL_MANAGED_TAGS): LBC refuses it, as the two would fight over the value."""
    clash = sorted(set(values.get("tags") or {}) & set(external))
    if not clash:
        return []
    return [
        (
            annotation_field(SPECS["tags"].key, owner),
            f"tag {', '.join(clash)} is managed outside this controller "
            "(EXTERNAL_MANAGED_TAGS); remove it from the annotation",
        )
    ]


def _why_ignored(suffix: str, spec: AnnotationSpec | None, location: Location) -> str:
    if spec is not None:
        places = " or ".join(place.value for place in spec.locations)
        return f"ignored: this annotation goes on the {places}, not on the {location.value}"
    if lbc_only(suffix):
        return (
            "ignored: an aws-load-balancer-controller annotation this controller does not "
            "support yet (README: annotations not yet supported)"
        )
    return "ignored: not an annotation this controller knows (a typo?)"


def _spec_for(suffix: str) -> tuple[AnnotationSpec | None, str]:
    if suffix in SPECS:
        return SPECS[suffix], ""
    for spec in TEMPLATED:
        prefix = spec.template_prefix
        if suffix.startswith(prefix) and len(suffix) > len(prefix):
            return spec, suffix[len(prefix) :]
    return None, ""


def _shorten(raw: str, limit: int = 80) -> str:
    text = raw if len(raw) <= limit else raw[: limit - 3] + "..."
    return repr(text)
