"""Route 53 alias records for a stack's rule hosts: the deployer's DNS hook.

`Route53Dns.sync` makes Route 53 hold, for every `DnsRecord` of a stack, an alias to the
load balancer plus its ownership TXT record (see `controller.aws.dns.registry`), and
removes the records the stack owned but no longer wants; `delete` removes everything the
stack owns. Records we do not own are never changed: each one gives a warning instead,
which the kube layer turns into a Warning Event.

What it reads, and why. external-dns lists every record of every zone on every loop, which
is what runs accounts into Route 53's shared 5-10 requests/second budget. Here:
- zones are listed once per `zone_cache_seconds`;
- per stack we remember what the last successful sync left (the records it owns) and a
  fingerprint of its inputs (desired records, zones chosen, alias target). A sync with the
  same fingerprint within `zone_cache_seconds` of the last verification makes **no call at
  all**. When the inputs change, or the memory is older than that, the names involved (the
  desired ones and the ones we owned) are read again from Route 53 before planning, so
  changes are always computed from live values (exact values for DELETE, ownership checked
  on the live TXT record), never from the memory alone. Reads are narrowed to those names
  when that is cheaper than listing the zone (see `controller.aws.dns.provider`);
- the first time a stack is seen by this process (so after every restart), we cannot know
  which records it owned but no longer wants (a host removed while we were down), so all
  zones are scanned once for our ownership records; that scan is shared by every stack
  seen within `zone_cache_seconds` and its listings are reused by the same sync.
The memory is only trusted because this controller is the only writer of its own
ownership records (one leader per cluster). A failed sync forgets the fingerprint, so the
next sync reads again and heals whatever the failure left.

What it may touch (external-dns's options, `ZoneFilters`): only the hosted zones the
filters keep (zone IDs, public or private, tags, and the domains) are listed, scanned and
written, and only hosts inside the domain filter (and outside the excluded domains) get
records; a host outside is a `DNSRecordSkipped` warning naming the filter, and records we
own outside are left as they are, neither kept in step nor deleted. With `upsert_only`
(external-dns's `--policy=upsert-only`) nothing is ever deleted: records of removed hosts,
and every record of a deleted stack, stay in Route 53 (teardown makes no Route 53 call).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from controller.aws.dns.errors import DnsError
from controller.aws.dns.plan import (
    AliasTarget,
    DesiredRecord,
    Routing,
    RRSet,
    names_to_read,
    plan_zone,
)
from controller.aws.dns.provider import Route53Provider
from controller.aws.dns.registry import check_label_value, parse_txt_name, parse_txt_values
from controller.aws.dns.zones import (
    HostedZone,
    ZoneCache,
    ZoneFilters,
    normalize_name,
    pick_zone,
)
from controller.aws.warnings import DNS_RECORD_SKIPPED, DeployWarning
from controller.model.stack import DnsRecord, Stack

__all__ = ["DnsError", "Route53Dns"]

OwnedKey = tuple[str, str, str, str]  # (zone ID, host, record type, SetIdentifier or "")


@dataclass(frozen=True)
class _StackMemory:
    """What the last sync of a stack left behind (see module doc)."""

    fingerprint: str | None  # None after a failure: the next sync must read again
    verified_at: float
    owned: frozenset[OwnedKey]
    warnings: tuple[DeployWarning, ...]


@dataclass
class _Outcome:
    warnings: list[DeployWarning]
    owned: set[OwnedKey]
    errors: list[DnsError]
    contested: set[OwnedKey] = field(default_factory=set)


class Route53Dns:
    """Keeps every stack's alias and ownership records in Route 53 (the deployer's DnsHook)."""

    def __init__(
        self,
        route53: Any,
        cluster_name: str,
        zone_cache_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        filters: ZoneFilters | None = None,
        upsert_only: bool = False,
    ) -> None:
        check_label_value(cluster_name, "cluster name")
        self._cluster = cluster_name
        self._provider = Route53Provider(route53, comment=f"alb-ingress-controller {cluster_name}")
        self._ttl = zone_cache_seconds
        self._clock = clock
        self._filters = filters or ZoneFilters()
        self._upsert_only = upsert_only
        # The zones the filters keep, tags read along (only with a tag filter), cached alike.
        self._zones = ZoneCache(self._list_zones, zone_cache_seconds, clock)
        self._memory: dict[str, _StackMemory] = {}
        # Our cluster's ownership records found by the last scan, by stack ID.
        self._index: dict[str, set[OwnedKey]] | None = None
        self._index_at = 0.0
        # kopf runs sync handlers in threads: stacks seen together share one scan.
        self._scan_lock = threading.Lock()
        # Stacks whose last sync left a host that another stack of this cluster holds.
        self._contested: set[str] = set()

    # --- the DnsHook protocol ----------------------------------------------------------

    def sync(
        self, stack: Stack, alias_dns_name: str, alias_zone_id: str
    ) -> tuple[DeployWarning, ...]:
        """Make Route 53 hold the stack's records; returns warnings for Events.

        Raises `DnsError` when Route 53 fails (`retryable` says whether to back off and retry).
        """
        _check_label(stack.id, "stack ID")
        zones = self._zones.get()
        desired, warnings = self._desired(stack, zones)
        alias = AliasTarget(alias_dns_name, alias_zone_id)
        fingerprint = _fingerprint(stack.id, desired, alias, warnings)
        memory = self._memory.get(stack.id)
        now = self._clock()
        if memory and memory.fingerprint == fingerprint and now - memory.verified_at < self._ttl:
            return memory.warnings
        listed: dict[str, list[RRSet]] = {}
        owned = memory.owned if memory else self._scanned(stack.id, zones, listed)
        outcome = self._apply(stack.id, desired, self._in_scope(owned), alias, zones=zones,
                              listed=listed)  # fmt: skip
        all_warnings = tuple(warnings + outcome.warnings)
        # A host another stack of ours holds is read again next time, not remembered: that
        # stack lets it go when it next reconciles (an Ingress moving between groups).
        if outcome.contested:
            self._contested.add(stack.id)
        else:
            self._contested.discard(stack.id)
        self._memory[stack.id] = _StackMemory(
            fingerprint=None if outcome.errors or outcome.contested else fingerprint,
            verified_at=now,
            owned=frozenset(outcome.owned),
            warnings=all_warnings,
        )
        _raise_if_failed(outcome.errors, all_warnings)
        return all_warnings

    def contested(self, stack_id: str) -> bool:
        """Whether the stack's last sync left a host that another stack of this cluster
        holds (and so is worth syncing again once that stack has let it go)."""
        return stack_id in self._contested

    def delete(self, stack_id: str) -> tuple[DeployWarning, ...]:
        """Remove every record (and ownership record) this cluster's stack owns.

        With upsert-only nothing is removed, so nothing is read either: the stack is
        forgotten at once and its records stay.
        """
        self._contested.discard(stack_id)
        _check_label(stack_id, "stack ID")
        if self._upsert_only:
            self._memory.pop(stack_id, None)
            return ()
        zones = self._zones.get()
        listed: dict[str, list[RRSet]] = {}
        memory = self._memory.get(stack_id)
        owned = memory.owned if memory else self._scanned(stack_id, zones, listed)
        outcome = self._apply(stack_id, {}, self._in_scope(owned), None, zones=zones, listed=listed)
        warnings = tuple(outcome.warnings)
        if outcome.errors or outcome.owned:
            # Keep what is left to remove, and read it again next time.
            self._memory[stack_id] = _StackMemory(
                None, self._clock(), frozenset(outcome.owned), warnings
            )
        else:
            self._memory.pop(stack_id, None)
            if self._index is not None:
                self._index.pop(stack_id, None)
        _raise_if_failed(outcome.errors, warnings)
        return warnings

    # --- steps -------------------------------------------------------------------------

    def _desired(
        self, stack: Stack, zones: list[HostedZone]
    ) -> tuple[dict[str, list[DesiredRecord]], list[DeployWarning]]:
        """The stack's records grouped by the zone that should hold them, and zone warnings."""
        by_zone: dict[str, list[DesiredRecord]] = {}
        warnings: list[DeployWarning] = []
        seen: set[tuple[str, str]] = set()
        for record in stack.dns_records:
            host = normalize_name(record.name)
            if (host, record.type) in seen:
                continue
            seen.add((host, record.type))
            outside = self._filters.host_problem(host)
            if outside:
                message = f"{host}: no {record.type} record made: {outside}"
                warnings.append(DeployWarning(DNS_RECORD_SKIPPED, message))
                continue
            choice = pick_zone(host, stack.load_balancer.scheme, zones)
            if choice.zone is None:
                message = f"{host}: no {record.type} record made: {choice.problem}"
                warnings.append(DeployWarning(DNS_RECORD_SKIPPED, message))
                continue
            ingress = record.ingress or (stack.ingresses[0] if stack.ingresses else "")
            resource = f"ingress/{ingress}"
            _check_label(resource, f"stack {stack.id}: DNS record {host}: resource")
            by_zone.setdefault(choice.zone.id, []).append(
                DesiredRecord(
                    host=host,
                    type=record.type,
                    resource=resource,
                    routing=_routing(record),
                    evaluate_target_health=record.evaluate_target_health is not False,
                )
            )
        return by_zone, warnings

    def _list_zones(self) -> list[HostedZone]:
        """The account's hosted zones the filters keep; tags are read only for a tag filter,
        and only for the zones the other filters keep."""
        zones = [zone for zone in self._provider.list_zones() if self._filters.keeps(zone)]
        if not self._filters.zone_tags:
            return zones
        tags = self._provider.zone_tags([zone.id for zone in zones])
        return [zone for zone in zones if self._filters.tags_match(tags.get(zone.id, {}))]

    def _in_scope(self, owned: Iterable[OwnedKey]) -> frozenset[OwnedKey]:
        """The owned records the filters still let us touch (the others are left alone)."""
        return frozenset(key for key in owned if self._filters.host_problem(key[1]) is None)

    def _scanned(
        self, stack_id: str, zones: list[HostedZone], listed: dict[str, list[RRSet]]
    ) -> frozenset[OwnedKey]:
        """The records our ownership records give to this stack, scanning zones if stale."""
        with self._scan_lock:
            now = self._clock()
            if self._index is None or now - self._index_at >= self._ttl:
                index: dict[str, set[OwnedKey]] = {}
                for zone in zones:
                    listed[zone.id] = self._provider.list_zone(zone)
                    for stack, key in self._ours(zone, listed[zone.id]):
                        index.setdefault(stack, set()).add(key)
                self._index, self._index_at = index, now
            return frozenset(self._index.get(stack_id, ()))

    def _ours(self, zone: HostedZone, rrsets: Iterable[RRSet]) -> Iterable[tuple[str, OwnedKey]]:
        for rrset in rrsets:
            if rrset.get("Type") != "TXT":
                continue
            parsed = parse_txt_name(normalize_name(str(rrset["Name"])))
            owner = parse_txt_values([str(r["Value"]) for r in rrset.get("ResourceRecords", [])])
            if parsed and owner and owner.cluster == self._cluster:
                yield owner.stack, (zone.id, *parsed, str(rrset.get("SetIdentifier", "")))

    def _apply(
        self,
        stack_id: str,
        desired: dict[str, list[DesiredRecord]],
        owned: Iterable[OwnedKey],
        alias: AliasTarget | None,
        *,
        zones: list[HostedZone],
        listed: dict[str, list[RRSet]],
    ) -> _Outcome:
        """Read, plan and submit zone by zone; a failing zone does not stop the others."""
        zones_by_id = {zone.id: zone for zone in zones}
        owned_by_zone: dict[str, set[tuple[str, str, str]]] = {}
        for zone_id, host, record_type, identifier in owned:
            # A deleted zone took its records with it; one the filters drop is left alone.
            if zone_id in zones_by_id:
                owned_by_zone.setdefault(zone_id, set()).add((host, record_type, identifier))
        outcome = _Outcome([], set(), [])
        for zone_id in sorted(set(desired) | set(owned_by_zone)):
            zone = zones_by_id[zone_id]
            wanted = desired.get(zone_id, [])
            before = owned_by_zone.get(zone_id, set())
            keys = {record.key for record in wanted} | before
            try:
                live = self._provider.read(zone, names_to_read(keys), listed)
                plan = plan_zone(
                    zone.name,
                    wanted,
                    before,
                    live,
                    cluster=self._cluster,
                    stack=stack_id,
                    alias=alias,
                    upsert_only=self._upsert_only,
                )
                outcome.warnings.extend(plan.warnings)
                self._provider.submit(zone, plan.changes)
            except DnsError as error:
                if error.code == "NoSuchHostedZone":
                    self._zones.invalidate()
                outcome.errors.append(error)
                # The outcome is unknown: everything involved stays a candidate to check.
                outcome.owned.update((zone_id, *key) for key in keys)
                continue
            outcome.owned.update((zone_id, *key) for key in plan.owned)
            outcome.contested.update((zone_id, *key) for key in plan.contested)
        return outcome


def _check_label(value: str, what: str) -> None:
    """Bad model input is a permanent error for the deployer, not a crash."""
    try:
        check_label_value(value, what)
    except ValueError as error:
        raise DnsError(str(error), retryable=False) from error


def _fingerprint(
    stack_id: str,
    desired: dict[str, list[DesiredRecord]],
    alias: AliasTarget,
    warnings: list[DeployWarning],
) -> str:
    data = {
        "stack": stack_id,
        "records": sorted(
            [zone_id, r.host, r.type, r.resource, repr(r.routing), r.evaluate_target_health]
            for zone_id, rs in desired.items()
            for r in rs
        ),
        "alias": [normalize_name(alias.dns_name), alias.zone_id],
        "warnings": [[w.reason, w.message] for w in warnings],
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _routing(record: DnsRecord) -> Routing | None:
    """The record's SetIdentifier and policy as Route 53 has them (None: a simple record)."""
    if record.set_identifier is None:
        return None
    geo = record.geo_location
    return Routing(
        set_identifier=record.set_identifier,
        weight=record.weight,
        region=record.region,
        failover=record.failover,
        geo_location=tuple(
            (key, value)
            for key, value in (
                ("ContinentCode", geo.continent_code if geo else None),
                ("CountryCode", geo.country_code if geo else None),
                ("SubdivisionCode", geo.subdivision_code if geo else None),
            )
            if value is not None
        ),
    )


def _raise_if_failed(errors: list[DnsError], warnings: tuple[DeployWarning, ...]) -> None:
    if not errors:
        return
    # Retry when any part can succeed later; a permanent error alone waits for a change.
    raise DnsError(
        "; ".join(str(e) for e in errors),
        retryable=any(e.retryable for e in errors),
        code=errors[0].code,
        warnings=warnings,
    )
