"""Hosted zones: which zone holds a host's records, and the zone list cache.

The most specific zone wins (the longest zone name that is a label-wise suffix of the
host); when a public and a private zone share that name, an `internal` load balancer's
records go to the private zone and an `internet-facing` one's to the public zone. The zone
list changes rarely, so it is listed once and kept for a while (external-dns's
`--aws-zones-cache-duration`), which keeps no-op reconciles off Route 53's account-wide
request budget.

`ZoneFilters` are external-dns's filters: `--zone-id-filter`, `--aws-zone-type`,
`--aws-zone-tags` and `--domain-filter`/`--exclude-domains` choose the zones this controller
sees at all (a zone outside them is never listed for records, scanned or written, so the
most specific zone is the most specific one they keep), and the domain filters also choose
the hosts that get records.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Scheme = Literal["internal", "internet-facing"]
ZoneType = Literal["public", "private", "both"]

_ESCAPE = re.compile(r"\\(\d{3})")


def normalize_name(name: str) -> str:
    """A DNS name as we compare it: lower case, no trailing dot, `\\052` read as `*`.

    Route 53 returns names with a trailing dot and octal escapes for special characters
    (a wildcard `*.example.com` comes back as `\\052.example.com.`).
    """
    decoded = _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), name)
    return decoded.rstrip(".").lower()


@dataclass(frozen=True)
class HostedZone:
    id: str  # without the `/hostedzone/` prefix
    name: str  # normalized
    private: bool
    record_count: int = 0  # ResourceRecordSetCount when listed: picks the cheapest read


@dataclass(frozen=True)
class ZoneChoice:
    zone: HostedZone | None
    problem: str = ""  # why there is no zone, when there is none


def zone_from_api(item: dict[str, object]) -> HostedZone:
    """A `HostedZone` from one `ListHostedZones` entry."""
    config = item.get("Config")
    private = bool(config.get("PrivateZone")) if isinstance(config, dict) else False
    count = item.get("ResourceRecordSetCount")
    return HostedZone(
        id=str(item["Id"]).rsplit("/", 1)[-1],
        name=normalize_name(str(item["Name"])),
        private=private,
        record_count=count if isinstance(count, int) else 0,
    )


def _is_suffix(zone_name: str, host: str) -> bool:
    return host == zone_name or host.endswith("." + zone_name)


def pick_zone(host: str, scheme: Scheme, zones: Sequence[HostedZone]) -> ZoneChoice:
    """The zone that should hold `host`'s records for a load balancer of `scheme`."""
    matching = [zone for zone in zones if _is_suffix(zone.name, host)]
    if not matching:
        return ZoneChoice(None, f"no hosted zone matches {host}")
    longest = max(len(zone.name) for zone in matching)
    candidates = [zone for zone in matching if len(zone.name) == longest]
    want_private = scheme == "internal"
    preferred = [zone for zone in candidates if zone.private == want_private]
    pool = preferred or candidates
    if len(pool) > 1:
        ids = ", ".join(sorted(zone.id for zone in pool))
        kind = "private" if pool[0].private else "public"
        return ZoneChoice(
            None,
            f"{len(pool)} {kind} hosted zones are named {pool[0].name} ({ids}); "
            f"cannot tell which should hold {host}",
        )
    return ZoneChoice(pool[0])


def under(host: str, domain: str) -> bool:
    """Whether `host` is in `domain`, external-dns's way: `example.com` holds itself and its
    subdomains, `.example.com` (a leading dot) only its subdomains."""
    if domain.startswith("."):
        return host.endswith(domain)
    return _is_suffix(domain, host)


@dataclass(frozen=True)
class ZoneFilters:
    """Which zones and hosts the controller may touch (empty: all)."""

    domains: tuple[str, ...] = ()  # DOMAIN_FILTER: only hosts in these domains
    exclude_domains: tuple[str, ...] = ()  # EXCLUDE_DOMAINS: never hosts in these
    zone_ids: tuple[str, ...] = ()  # ZONE_ID_FILTER: only these zones
    zone_type: ZoneType = "both"  # AWS_ZONE_TYPE
    # AWS_ZONE_TAGS: a zone must have every one (key, value); a None value: any value.
    zone_tags: tuple[tuple[str, str | None], ...] = ()

    def host_problem(self, host: str) -> str | None:
        """Why the filters keep `host` from having records, if they do."""
        if self.domains and not any(under(host, domain) for domain in self.domains):
            return f"not in the domain filter (DOMAIN_FILTER: {', '.join(self.domains)})"
        excluded = [domain for domain in self.exclude_domains if under(host, domain)]
        if excluded:
            return f"in an excluded domain (EXCLUDE_DOMAINS: {excluded[0]})"
        return None

    def keeps(self, zone: HostedZone) -> bool:
        """Whether a zone passes the ID, type and domain filters (tags are apart: they take
        a call)."""
        if self.zone_ids and zone.id not in self.zone_ids:
            return False
        if self.zone_type != "both" and zone.private != (self.zone_type == "private"):
            return False
        # A zone may hold a filtered domain's hosts when it is in that domain or the domain is
        # in it (hosts of team.example.com may live in example.com); one inside an excluded
        # domain holds none.
        name = zone.name
        if self.domains and not any(
            under(name, d) or under(d.lstrip("."), name) for d in self.domains
        ):
            return False
        return not any(under(name, domain) for domain in self.exclude_domains)

    def tags_match(self, tags: Mapping[str, str]) -> bool:
        return all(
            key in tags and (value is None or tags[key] == value) for key, value in self.zone_tags
        )


class ZoneCache:
    """The account's hosted zones, listed at most once per `ttl` seconds."""

    def __init__(
        self, lister: Callable[[], list[HostedZone]], ttl: float, clock: Callable[[], float]
    ) -> None:
        self._lister = lister
        self._ttl = ttl
        self._clock = clock
        self._zones: list[HostedZone] | None = None
        self._fetched_at = 0.0

    def get(self) -> list[HostedZone]:
        now = self._clock()
        if self._zones is None or now - self._fetched_at >= self._ttl:
            self._zones = self._lister()
            self._fetched_at = now
        return self._zones

    def invalidate(self) -> None:
        self._zones = None
