"""Label and field selectors, parsed from their query-string forms as the API server accepts them.

Label selectors: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k` (exists), `!k`,
and `k>n` / `k<n`, joined by commas. Field selectors: `f=v`, `f==v`, `f!=v`, joined by commas,
over the fields each resource supports (see `resources.py`). A syntax error or an unsupported
field is a 400 BadRequest, as on a real server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.sandbox.errors import bad_request

Labels = Mapping[str, str]
_TOKEN = re.compile(r"\s*(\(|\)|,|!=|==|=|!|<|>|[^\s(),!=<>]+)")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Labels) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("gt", "lt"):
            try:
                number, bound = int(value or ""), int(self.values[0])
            except ValueError:
                return False
            return number > bound if self.op == "gt" else number < bound
        raise AssertionError(self.op)


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Labels | None) -> bool:
        return all(r.matches(labels or {}) for r in self.requirements)


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise bad_request(f"unable to parse requirement: {text!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse `?labelSelector=`; an empty selector matches everything."""
    if not text or not text.strip():
        return LabelSelector()
    toks = _tokens(text)
    reqs: list[Requirement] = []
    i = 0

    def fail() -> Exception:
        return bad_request(f"unable to parse requirement: found unexpected input in {text!r}")

    while i < len(toks):
        if toks[i] == "!":
            if i + 1 >= len(toks):
                raise fail()
            reqs.append(Requirement(toks[i + 1], "!"))
            i += 2
        else:
            key = toks[i]
            if key in "(),=<>":
                raise fail()
            nxt = toks[i + 1] if i + 1 < len(toks) else ","
            if nxt == ",":
                reqs.append(Requirement(key, "exists"))
                i += 1
            elif nxt in ("=", "==", "!="):
                value = toks[i + 2] if i + 2 < len(toks) and toks[i + 2] != "," else ""
                reqs.append(Requirement(key, "!=" if nxt == "!=" else "=", (value,)))
                i += 3 if value else 2
            elif nxt in (">", "<"):
                if i + 2 >= len(toks):
                    raise fail()
                reqs.append(Requirement(key, "gt" if nxt == ">" else "lt", (toks[i + 2],)))
                i += 3
            elif nxt in ("in", "notin"):
                if i + 2 >= len(toks) or toks[i + 2] != "(":
                    raise fail()
                j, values = i + 3, []
                while j < len(toks) and toks[j] != ")":
                    if toks[j] != ",":
                        values.append(toks[j])
                    j += 1
                if j >= len(toks):
                    raise fail()
                reqs.append(Requirement(key, nxt, tuple(values)))
                i = j + 1
            else:
                raise fail()
        if i < len(toks):
            if toks[i] != ",":
                raise fail()
            i += 1
    return LabelSelector(tuple(reqs))


@dataclass(frozen=True)
class FieldSelector:
    terms: tuple[tuple[str, bool, str], ...] = ()  # (field, equal?, value)

    def matches(
        self, obj: Mapping[str, Any], getter: Callable[[Mapping[str, Any], str], str]
    ) -> bool:
        return all((getter(obj, f) == v) == eq for f, eq, v in self.terms)

    def value_of(self, field: str) -> str | None:
        """The value required by an equality term on this field, if any."""
        for f, eq, v in self.terms:
            if f == field and eq:
                return v
        return None


def parse_field_selector(text: str | None, supported: frozenset[str], plural: str) -> FieldSelector:
    """Parse `?fieldSelector=` against the fields the resource supports."""
    if not text or not text.strip():
        return FieldSelector()
    terms = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*", part)
        if not m:
            raise bad_request(f"invalid selector: {text!r}; can't understand {part!r}")
        name, op, value = m.groups()
        if name not in supported:
            raise bad_request(f'field label not supported: {name} for "{plural}"')
        terms.append((name, op != "!=", value))
    return FieldSelector(tuple(terms))


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """A field's value as the field-selector matcher sees it (dotted path, missing = "")."""
    # events.k8s.io field names address the same stored fields as core Events do.
    path = path.replace("regarding.", "involvedObject.").replace(
        "reportingController", "reportingComponent"
    )
    if path == "source":
        return str((obj.get("source") or {}).get("component", ""))
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)
