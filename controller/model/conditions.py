"""Rule conditions from the Ingress spec and the `conditions.<name>` annotations.

Paths are ordered as LBC orders them (Exact, then Prefix longest first, then the rest) and
turned into path-pattern values by pathType; host and path values are checked against what
ALB accepts (length, characters) before any AWS call, so a bad one fails its Ingress alone;
the spec's host and path are ANDed with the annotation's conditions, one condition per field
where AWS allows only one.
"""

from __future__ import annotations

from controller.limits import MAX_CONDITION_VALUE_LENGTH
from controller.model.backends import FieldError
from controller.model.inputs import HTTPIngressPath
from controller.model.stack import Condition, QueryStringPair
from controller.model.values import ConditionValue

_PATH_TYPE_ORDER = {"Exact": 0, "Prefix": 1}


def ordered_paths(paths: list[HTTPIngressPath]) -> list[tuple[int, HTTPIngressPath]]:
    """Exact first, then Prefix longest first, then the rest; manifest order within each."""

    def rank(item: tuple[int, HTTPIngressPath]) -> tuple[int, int]:
        _, path = item
        kind = _PATH_TYPE_ORDER.get(path.path_type or "", 2)
        return (kind, -len(path.path or "") if kind == 1 else 0)

    return sorted(enumerate(paths), key=rank)


def path_patterns(path: HTTPIngressPath, where: str) -> list[str]:
    """The path-pattern values for one path, per its pathType (LBC's mapping)."""
    value = path.path or ""
    path_type = path.path_type or "ImplementationSpecific"
    if path_type == "ImplementationSpecific":
        return [value] if value else []
    if path_type not in ("Exact", "Prefix"):
        raise FieldError(
            f"{where}.pathType",
            f"unknown pathType {path_type!r}: use Exact, Prefix or ImplementationSpecific",
        )
    if not value.startswith("/"):
        raise FieldError(f"{where}.path", f"{_article(path_type)} path must start with '/'")
    if "*" in value or "?" in value:
        raise FieldError(
            f"{where}.path",
            f"{_article(path_type)} path may not hold wildcards; use ImplementationSpecific "
            f"for those",
        )
    if path_type == "Exact":
        return [value]
    if value == "/":
        return ["/*"]
    normalized = value.removesuffix("/")
    return [normalized, normalized + "/*"]


def check_value(value: str, allowed: frozenset[str], field: str, what: str) -> None:
    """What ALB rejects in a host-header or path-pattern value, said before any AWS call."""
    if len(value) > MAX_CONDITION_VALUE_LENGTH:
        raise FieldError(
            field,
            f"the {what} is {len(value)} characters; ALB rule conditions take at most "
            f"{MAX_CONDITION_VALUE_LENGTH}",
        )
    bad = sorted(set(value) - allowed)
    if bad:
        raise FieldError(
            field, f"ALB does not accept {''.join(bad)!r} in a {what} condition ({value!r})"
        )


def _article(path_type: str) -> str:
    return f"an {path_type}" if path_type == "Exact" else f"a {path_type}"


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def rule_conditions(
    host: str | None, patterns: list[str], extra: list[ConditionValue]
) -> tuple[Condition, ...]:
    """Host and path from the spec, ANDed with the `conditions.*` ones.

    AWS allows one condition each of host-header, path-pattern, http-request-method and
    source-ip per rule, so values of those fields are merged into one condition (as LBC does).
    """
    merged: dict[str, list[str]] = {"host-header": [host] if host else [], "path-pattern": patterns}
    repeated: list[Condition] = []
    for cond in extra:
        if cond.host_header_config is not None:
            merged["host-header"] += cond.host_header_config.values
        elif cond.path_pattern_config is not None:
            merged["path-pattern"] += cond.path_pattern_config.values
        elif cond.http_request_method_config is not None:
            merged.setdefault("http-request-method", []).extend(
                cond.http_request_method_config.values
            )
        elif cond.source_ip_config is not None:
            merged.setdefault("source-ip", []).extend(cond.source_ip_config.values)
        elif cond.http_header_config is not None:
            header = cond.http_header_config
            repeated.append(
                Condition(
                    field="http-header",
                    http_header_name=header.http_header_name,
                    values=_unique(header.values),
                )
            )
        elif cond.query_string_config is not None:
            pairs = cond.query_string_config.values
            repeated.append(
                Condition(
                    field="query-string",
                    query_string_values=tuple(
                        dict.fromkeys(QueryStringPair(key=p.key, value=p.value) for p in pairs)
                    ),
                )
            )
    conditions = [
        Condition(field=name, values=_unique(values)) for name, values in merged.items() if values
    ]
    conditions += repeated
    if not conditions:
        # AWS wants at least one condition; LBC matches everything this way.
        conditions.append(Condition(field="path-pattern", values=("/*",)))
    return tuple(conditions)
