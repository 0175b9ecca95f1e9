"""What an Ingress asks of Route 53: its routing policy, extra hosts, and the group's records.

Three things, all pure:
- `dns_options` reads the `dns-*` annotations of one Ingress into `DnsOptions` and checks
  what only the set as a whole can get wrong, as Route 53 does: a SetIdentifier goes with
  exactly one routing policy (weighted, latency, failover, geolocation) and a policy with a
  SetIdentifier; a geolocation is a continent or a country (with, optionally, one of its
  subdivisions). Each error names the annotation at fault.
- `external_dns_hosts` reads external-dns's `external-dns.alpha.kubernetes.io/hostname`
  (comma-separated, as external-dns reads it), so a cluster retiring external-dns keeps its
  names. A malformed name there is a `DNSRecordSkipped` warning, not an error: a DNS-only
  annotation another tool also reads must not take the Ingress's rules off its ALB.
- `group_dns_records` lays out the records of a group: one per distinct host (rule hosts,
  then external-dns hostnames) and alias type, owned by the first member declaring the host
  and routed by the first member that sets DNS options for it. A later member asking for
  other options for the same host is told so (one name has one record set per ALB).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from controller.model.annotation_reader import AnnotationValues, annotation_field
from controller.model.annotations import PREFIX
from controller.model.stack import BuildWarning, DnsRecord, GeoLocation

if TYPE_CHECKING:  # ingress.py imports this module
    from controller.model.ingress import ParsedIngress

EXTERNAL_DNS_HOSTNAME = "external-dns.alpha.kubernetes.io/hostname"
# The Event reason of a host whose record is not made as asked; the AWS layer's
# `DNSRecordSkipped` warnings (`controller.aws.warnings`) use the same one.
DNS_RECORD_SKIPPED = "DNSRecordSkipped"

SET_IDENTIFIER = "dns-set-identifier"
EVALUATE_TARGET_HEALTH = "dns-evaluate-target-health"
GEO_ANNOTATIONS = (
    "dns-geolocation-continent-code",
    "dns-geolocation-country-code",
    "dns-geolocation-subdivision-code",
)
# Each routing policy and the annotations that set it, in the order errors name them.
POLICY_ANNOTATIONS: dict[str, tuple[str, ...]] = {
    "weighted": ("dns-weight",),
    "latency": ("dns-region",),
    "failover": ("dns-failover",),
    "geolocation": GEO_ANNOTATIONS,
}

MAX_HOST_LENGTH = 253
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def _field(name: str) -> str:
    return annotation_field(PREFIX + name)


@dataclass(frozen=True)
class DnsOptions:
    """One Ingress's `dns-*` annotations, checked; all None: a simple record, as before."""

    set_identifier: str | None = None
    weight: int | None = None
    region: str | None = None
    failover: str | None = None
    geo_location: GeoLocation | None = None
    # False only when the annotation turns it off: true is the default, and a plan that says
    # nothing keeps the digest it had before the annotation existed.
    evaluate_target_health: bool | None = None

    @property
    def is_default(self) -> bool:
        return self == DnsOptions()

    def record_fields(self) -> dict[str, Any]:
        """The `DnsRecord` fields these options set."""
        fields = {
            "set_identifier": self.set_identifier,
            "weight": self.weight,
            "region": self.region,
            "failover": self.failover,
            "geo_location": self.geo_location,
            "evaluate_target_health": self.evaluate_target_health,
        }
        return {key: value for key, value in fields.items() if value is not None}

    def describe(self) -> str:
        """The options as the annotations that set them: `dns-set-identifier=blue, ...`."""
        if self.is_default:
            return "no routing policy"
        geo = self.geo_location
        given = {
            SET_IDENTIFIER: self.set_identifier,
            "dns-weight": self.weight,
            "dns-region": self.region,
            "dns-failover": self.failover,
            GEO_ANNOTATIONS[0]: geo.continent_code if geo else None,
            GEO_ANNOTATIONS[1]: geo.country_code if geo else None,
            GEO_ANNOTATIONS[2]: geo.subdivision_code if geo else None,
            EVALUATE_TARGET_HEALTH: "false" if self.evaluate_target_health is False else None,
        }
        return ", ".join(f"{name}={value}" for name, value in given.items() if value is not None)

    @property
    def annotation(self) -> str:
        """The field a message about these options names: the one that is always set."""
        return _field(SET_IDENTIFIER if self.set_identifier else EVALUATE_TARGET_HEALTH)


def dns_options(values: AnnotationValues) -> tuple[DnsOptions, list[tuple[str, str]]]:
    """The Ingress's DNS options and the (field, message) errors of their combination.

    Values that did not parse are already errors of their own and count as absent here, so
    one mistake is reported once.
    """
    ours = {_field(name) for name in (SET_IDENTIFIER, EVALUATE_TARGET_HEALTH)}
    ours |= {_field(name) for names in POLICY_ANNOTATIONS.values() for name in names}
    if any(where in ours for where, _ in values.errors):
        return DnsOptions(), []  # the Ingress is left out for that error already
    errors: list[tuple[str, str]] = []
    set_identifier: str | None = values.get(SET_IDENTIFIER)
    policies = [
        (policy, [name for name in names if values.get(name) is not None])
        for policy, names in POLICY_ANNOTATIONS.items()
    ]
    chosen = [(policy, names) for policy, names in policies if names]
    if len(chosen) > 1:
        first = chosen[0][1][0]
        for _, names in chosen[1:]:
            errors.append(
                (
                    _field(names[0]),
                    f"a record has one routing policy, and {first} already sets one; "
                    "remove one of them",
                )
            )
    if set_identifier is not None and not chosen:
        errors.append(
            (
                _field(SET_IDENTIFIER),
                "needs exactly one routing policy: dns-weight, dns-region, dns-failover or "
                "dns-geolocation-*",
            )
        )
    if set_identifier is None:
        errors += [
            (
                _field(names[0]),
                f"needs {SET_IDENTIFIER}: Route 53 tells the record sets of one name apart by it",
            )
            for _, names in chosen
        ]
    geo, geo_errors = _geo_location(values)
    errors += geo_errors
    options = DnsOptions(
        set_identifier=set_identifier,
        weight=values.get("dns-weight"),
        region=values.get("dns-region"),
        failover=values.get("dns-failover"),
        geo_location=geo,
        evaluate_target_health=False if values.get(EVALUATE_TARGET_HEALTH) is False else None,
    )
    return (DnsOptions(), errors) if errors else (options, [])


def _geo_location(values: AnnotationValues) -> tuple[GeoLocation | None, list[tuple[str, str]]]:
    continent, country, subdivision = (values.get(name) for name in GEO_ANNOTATIONS)
    errors: list[tuple[str, str]] = []
    if continent is not None and (country is not None or subdivision is not None):
        other = GEO_ANNOTATIONS[1] if country is not None else GEO_ANNOTATIONS[2]
        message = f"a location is a continent or a country, and {GEO_ANNOTATIONS[0]} is set"
        errors.append((_field(other), message))
    if subdivision is not None and country is None and continent is None:
        errors.append((_field(GEO_ANNOTATIONS[2]), f"needs {GEO_ANNOTATIONS[1]} (e.g. US)"))
    if subdivision is not None and country == "*":
        errors.append((_field(GEO_ANNOTATIONS[2]), "the default location (*) has no subdivisions"))
    if continent is None and country is None and subdivision is None:
        return None, errors
    return GeoLocation(
        continent_code=continent, country_code=country, subdivision_code=subdivision
    ), errors


def normalize_host(host: str) -> str:
    return host.strip().rstrip(".").lower()


def host_problem(host: str) -> str | None:
    """Why `host` is not a DNS name a record can have, if it is not (a leading `*.` is a
    wildcard)."""
    if not host:
        return "an empty name"
    if len(host) > MAX_HOST_LENGTH:
        return f"longer than {MAX_HOST_LENGTH} characters"
    labels = host.split(".")
    if labels[0] == "*":
        labels = labels[1:]
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return "not a DNS name (letters, digits and hyphens in dot-separated labels)"
    return None


def external_dns_hosts(
    annotations: Mapping[str, Any] | None,
) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    """external-dns's hostname annotation: its hosts, and (field, message) for the names that
    cannot have a record (left out)."""
    raw = (annotations or {}).get(EXTERNAL_DNS_HOSTNAME)
    where = annotation_field(EXTERNAL_DNS_HOSTNAME)
    if raw is None:
        return (), []
    if not isinstance(raw, str):
        return (), [(where, "annotation values must be strings (quote it in YAML); ignored")]
    hosts: list[str] = []
    skipped: list[tuple[str, str]] = []
    for item in raw.split(","):
        host = normalize_host(item)
        if not item.strip():
            continue
        problem = host_problem(host)
        if problem:
            skipped.append((where, f"{item.strip()!r}: no record made: {problem}"))
        elif host not in hosts:
            hosts.append(host)
    return tuple(hosts), skipped


@dataclass
class _Host:
    owner: str  # the first member declaring the host: its ownership record names it
    options: DnsOptions = field(default_factory=DnsOptions)
    setter: str | None = None  # the member whose options the host takes


def group_dns_records(
    members: Sequence[ParsedIngress], ip_type: str
) -> tuple[tuple[DnsRecord, ...], tuple[BuildWarning, ...]]:
    """The group's records (sorted by host, A before AAAA) and the warnings of members whose
    DNS options for a host lost to an earlier member's."""
    hosts: dict[str, _Host] = {}
    warnings: list[BuildWarning] = []
    for member in members:
        for raw in (*member.rule_hosts, *member.dns_hosts):
            host = normalize_host(raw)
            entry = hosts.setdefault(host, _Host(owner=member.key))
            if member.dns.is_default or entry.setter == member.key:
                continue
            if entry.setter is None:
                entry.options, entry.setter = member.dns, member.key
            elif entry.options != member.dns:
                warnings.append(
                    BuildWarning(
                        ingress=member.key,
                        field=member.dns.annotation,
                        message=f"host {host}: its record keeps {entry.options.describe()} "
                        f"from Ingress {entry.setter}, earlier in the group, not "
                        f"{member.dns.describe()}: one name has one record set per ALB",
                        reason=DNS_RECORD_SKIPPED,
                    )
                )
    types = ("A", "AAAA") if ip_type.startswith("dualstack") else ("A",)
    records = tuple(
        DnsRecord(name=host, type=record_type, ingress=entry.owner, **entry.options.record_fields())
        for host, entry in sorted(hosts.items())
        for record_type in types
    )
    return records, tuple(dict.fromkeys(warnings))
