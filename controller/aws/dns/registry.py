"""Ownership records: which Route 53 records belong to which cluster and stack.

Like external-dns's TXT registry, every record we manage has a companion TXT record whose
value names its owner. A record is ours only when that TXT record exists and names our
cluster *and* our stack; everything else (no TXT, another cluster, another stack of ours,
another tool's TXT) is never changed or deleted.

Naming: the TXT record for host `H` and type `T` is `_alb-<t>.H` (`_alb-a.app.example.com`,
`_alb-aaaa.app.example.com`), and a leading `*` label becomes `_wildcard`
(`*.example.com` -> `_alb-a._wildcard.example.com`). external-dns prefixes the first label
instead (`a-app.example.com`); we do not, because:
- `a-H` leaves the zone when `H` is the zone apex (external-dns#3895), while `_alb-a.H` is
  always inside the zone that holds `H`;
- `a-*.example.com` is not a wildcard but a name with a literal `*` that DNS tools handle
  badly, while `_wildcard` stays a valid name that no Ingress host can be (hosts are
  DNS-1123 names, which have no `_`), so it never collides with a real host's record;
- a separate name keeps our TXT records out of external-dns's way when both run on a zone.
Underscored leaf labels are the usual convention for such attribute records (RFC 8552).

Value: `"heritage=alb-ingress-controller,alb-ingress-controller/cluster=<cluster>,
alb-ingress-controller/stack=<stack>,alb-ingress-controller/resource=ingress/<ns>/<name>"`,
one line, quoted as Route 53 TXT values are, and split into 255-character strings when
longer (a TXT string holds at most 255 characters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HERITAGE = "alb-ingress-controller"
LABEL_PREFIX = "alb-ingress-controller/"
TXT_LABEL_PREFIX = "_alb-"
WILDCARD_LABEL = "_wildcard"
MAX_TXT_STRING = 255
MAX_NAME_LENGTH = 253  # characters of a name without its trailing dot
MAX_LABEL_LENGTH = 63
# Characters that would break the `k=v,k=v` value or its quoting.
_FORBIDDEN_IN_LABELS = re.compile(r'[,="\\\s]')
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Owner:
    """Who a record belongs to, as written in its ownership TXT record."""

    cluster: str
    stack: str
    resource: str = ""

    def owns(self, other: Owner | None) -> bool:
        """Same cluster and same stack (the resource may differ: it is informational)."""
        return other is not None and (other.cluster, other.stack) == (self.cluster, self.stack)

    def describe(self) -> str:
        return f"cluster {self.cluster!r}, stack {self.stack!r}"


def check_label_value(value: str, what: str) -> None:
    """Refuse a cluster name or stack ID that cannot be written into an ownership value."""
    if not value or _FORBIDDEN_IN_LABELS.search(value):
        raise ValueError(
            f"{what} {value!r} cannot be used in a Route 53 ownership record: it must be "
            "non-empty and contain no comma, '=', quote, backslash or whitespace"
        )


def txt_name(host: str, record_type: str) -> str:
    """The ownership TXT record's name for `host`'s record of `record_type`."""
    labels = host.split(".")
    if labels[0] == "*":
        labels[0] = WILDCARD_LABEL
    return ".".join([f"{TXT_LABEL_PREFIX}{record_type.lower()}", *labels])


def name_problem(name: str) -> str | None:
    """Why Route 53 would refuse `name` (too long overall or in one label), if it would."""
    if len(name) > MAX_NAME_LENGTH:
        return f"the name {name} is longer than {MAX_NAME_LENGTH} characters"
    long_labels = [label for label in name.split(".") if len(label) > MAX_LABEL_LENGTH]
    if long_labels:
        return f"the label {long_labels[0]} is longer than {MAX_LABEL_LENGTH} characters"
    return None


def txt_value(owner: Owner) -> str:
    """The ownership TXT record value, quoted (and split) the way Route 53 wants it."""
    text = ",".join(
        [
            f"heritage={HERITAGE}",
            f"{LABEL_PREFIX}cluster={owner.cluster}",
            f"{LABEL_PREFIX}stack={owner.stack}",
            f"{LABEL_PREFIX}resource={owner.resource}",
        ]
    )
    chunks = [text[i : i + MAX_TXT_STRING] for i in range(0, len(text), MAX_TXT_STRING)]
    return " ".join(f'"{chunk}"' for chunk in chunks)


def parse_txt_values(values: list[str]) -> Owner | None:
    """The owner a TXT record set names, or None when it is not one of our records.

    Each value may be one or more quoted strings (joined, as TXT readers do). A record set
    with several values is ours only if exactly one of them is an ownership value.
    """
    owners = [owner for owner in (_parse_one(value) for value in values) if owner]
    return owners[0] if len(owners) == 1 else None


def _parse_one(value: str) -> Owner | None:
    strings = _QUOTED.findall(value)
    text = "".join(strings) if strings else value
    labels: dict[str, str] = {}
    for item in text.split(","):
        key, sep, val = item.partition("=")
        if not sep:
            return None
        labels[key] = val
    if labels.get("heritage") != HERITAGE:
        return None
    cluster = labels.get(f"{LABEL_PREFIX}cluster")
    stack = labels.get(f"{LABEL_PREFIX}stack")
    if not cluster or not stack:
        return None
    return Owner(cluster=cluster, stack=stack, resource=labels.get(f"{LABEL_PREFIX}resource", ""))


def parse_txt_name(name: str) -> tuple[str, str] | None:
    """(host, record type) of an ownership TXT record's normalized name, if it is one."""
    first, sep, rest = name.partition(".")
    if not sep or not first.startswith(TXT_LABEL_PREFIX) or not rest:
        return None
    record_type = first.removeprefix(TXT_LABEL_PREFIX).upper()
    if record_type not in ("A", "AAAA"):
        return None
    labels = rest.split(".")
    if labels[0] == WILDCARD_LABEL:
        labels[0] = "*"
    return ".".join(labels), record_type
