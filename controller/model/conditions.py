"""Rule conditions from the Ingress spec and the `conditions.<name>` annotations.

Paths are ordered as LBC orders them (Exact, then Prefix longest first, then the rest) and
turned into path-pattern values by pathType; with `use-regex-path-match`, ImplementationSpecific
paths are regular expressions instead (RegexValues, the leading `/` Kubernetes requires
dropped, as LBC does). Host and path values are checked against what ALB accepts (length,
characters, regex features) before any AWS call, so a bad one fails its Ingress alone; the
spec's host and path are ANDed with the annotation's conditions, one condition per field
where AWS allows only one, and that one matches by values or by regexValues, never both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.limits import MAX_CONDITION_VALUE_LENGTH, MAX_REGEX_VALUE_LENGTH
from controller.model.backends import FieldError
from controller.model.inputs import HTTPIngressPath
from controller.model.regexes import unsupported_feature
from controller.model.stack import Condition, ConditionField, QueryStringPair
from controller.model.values import ConditionValue

_PATH_TYPE_ORDER = {"Exact": 0, "Prefix": 1}


def ordered_paths(paths: list[HTTPIngressPath]) -> list[tuple[int, HTTPIngressPath]]:
    """Exact first, then Prefix longest first, then the rest; manifest order within each."""

    def rank(item: tuple[int, HTTPIngressPath]) -> tuple[int, int]:
        _, path = item
        kind = _PATH_TYPE_ORDER.get(path.path_type or "", 2)
        return (kind, -len(path.path or "") if kind == 1 else 0)

    return sorted(enumerate(paths), key=rank)


@dataclass
class PathPatterns:
    """One path's path-pattern condition values: globs, or regular expressions."""

    values: list[str] = field(default_factory=list)
    regex_values: list[str] = field(default_factory=list)


def path_patterns(path: HTTPIngressPath, where: str, *, regex: bool = False) -> PathPatterns:
    """The path-pattern values for one path, per its pathType (LBC's mapping); `regex`
    (`use-regex-path-match`) makes an ImplementationSpecific path a regular expression."""
    value = path.path or ""
    path_type = path.path_type or "ImplementationSpecific"
    if path_type == "ImplementationSpecific":
        if not value:
            return PathPatterns()
        if regex:
            # Kubernetes wants every path to start with `/`; a regex need not (LBC drops it).
            return PathPatterns(regex_values=[value.removeprefix("/")])
        return PathPatterns(values=[value])
    return PathPatterns(values=_glob_patterns(value, path_type, where))


def _glob_patterns(value: str, path_type: str, where: str) -> list[str]:
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


def check_regex_value(value: str, field: str, what: str) -> None:
    """What ALB rejects in a host-header or path-pattern regular expression."""
    if not value or len(value) > MAX_REGEX_VALUE_LENGTH:
        raise FieldError(
            field,
            f"the {what} regular expression is {len(value)} characters; ALB takes 1 to "
            f"{MAX_REGEX_VALUE_LENGTH}",
        )
    found = unsupported_feature(value)
    if found is not None:
        raise FieldError(
            field, f"the {what} {value!r} uses {found}, which ALB's regular expressions lack"
        )


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


# The fields AWS allows once per rule, whose values from the spec and the annotation merge.
_MERGED: tuple[ConditionField, ...] = ("host-header", "path-pattern")
_WHAT = {"host-header": "host", "path-pattern": "path"}


def rule_conditions(
    host: str | None,
    patterns: PathPatterns,
    extra: list[ConditionValue],
    *,
    field: str = "",
) -> tuple[Condition, ...]:
    """Host and path from the spec, ANDed with the `conditions.*` ones (`field`: that
    annotation, which a conflict between the two always involves).

    AWS allows one condition each of host-header, path-pattern, http-request-method and
    source-ip per rule, so values of those fields are merged into one condition (as LBC does).
    A host or path condition matches by values or by regexValues: getting both (a glob path
    and a regexValues pathPatternConfig, say) is a `FieldError`, as in LBC, rather than
    AWS's ValidationError for the whole group.
    """
    merged: dict[str, list[str]] = {
        "host-header": [host] if host else [],
        "path-pattern": list(patterns.values),
    }
    regex: dict[str, list[str]] = {"host-header": [], "path-pattern": list(patterns.regex_values)}
    repeated: list[Condition] = []
    for cond in extra:
        _fold(cond, merged, regex, repeated)
    for kind in _MERGED:
        if merged[kind] and regex[kind]:
            raise FieldError(
                field,
                f"the rule's {_WHAT[kind]} condition must use values or regexValues, not both: "
                f"values {merged[kind]} and regexValues {regex[kind]}",
            )
    conditions: list[Condition] = []
    for name, values in merged.items():
        if values:
            conditions.append(Condition(field=name, values=_unique(values)))
        elif regex.get(name):
            conditions.append(Condition(field=name, regex_values=_unique(regex[name])))
    conditions += repeated
    if not conditions:
        # AWS wants at least one condition; LBC matches everything this way.
        conditions.append(Condition(field="path-pattern", values=("/*",)))
    return tuple(conditions)


def _fold(
    cond: ConditionValue,
    merged: dict[str, list[str]],
    regex: dict[str, list[str]],
    repeated: list[Condition],
) -> None:
    """One annotation condition into the merged fields or the repeated conditions."""
    for name, config in (
        ("host-header", cond.host_header_config),
        ("path-pattern", cond.path_pattern_config),
    ):
        if config is not None:
            merged[name] += config.values or []
            regex[name] += config.regex_values or []
    if cond.http_request_method_config is not None:
        merged.setdefault("http-request-method", []).extend(cond.http_request_method_config.values)
    if cond.source_ip_config is not None:
        merged.setdefault("source-ip", []).extend(cond.source_ip_config.values)
    if cond.http_header_config is not None:
        header = cond.http_header_config
        repeated.append(
            Condition(
                field="http-header",
                http_header_name=header.http_header_name,
                values=_unique(header.values) if header.values is not None else None,
                regex_values=_unique(header.regex_values)
                if header.regex_values is not None
                else None,
            )
        )
    if cond.query_string_config is not None:
        pairs = cond.query_string_config.values
        repeated.append(
            Condition(
                field="query-string",
                query_string_values=tuple(
                    dict.fromkeys(QueryStringPair(key=p.key, value=p.value) for p in pairs)
                ),
            )
        )
