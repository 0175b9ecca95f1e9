"""The pure part of DNS: desired records and live record sets in, Route 53 changes out.

No I/O here, so every ownership rule is tested without Route 53. A record set is known by
its name, type and SetIdentifier (empty for a record without a routing policy), as Route 53
knows it, and its ownership TXT record carries the same SetIdentifier and routing policy
(as external-dns's TXT registry does), so two clusters can each own one weighted half of a
name. The plan for one zone:
- a desired record with no record set and no ownership TXT: CREATE both;
- a desired record whose ownership TXT names us (cluster and stack): CREATE it if missing,
  UPSERT it if its alias target, EvaluateTargetHealth or policy value (a weight, a region)
  differs, DELETE and CREATE it (in that order, in one batch) when its kind of routing policy
  changed, which UPSERT cannot do; the TXT likewise (its value names the Ingress);
- a record we once owned that is no longer desired: DELETE it and its TXT, with the exact
  values as listed (Route 53 rejects a DELETE whose values differ from the live record), or,
  with `upsert_only`, leave both;
- anything else (a record without our TXT, a TXT naming another cluster or stack, a CNAME in
  the way, record sets of that name with a routing policy that cannot sit beside ours): no
  change, and a warning naming the host and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from controller.aws.dns.registry import Owner, name_problem, parse_txt_values, txt_name, txt_value
from controller.aws.dns.zones import normalize_name
from controller.aws.warnings import DNS_RECORD_NOT_OWNED, DNS_RECORD_SKIPPED, DeployWarning
from controller.limits import MAX_BATCH_CHARS, MAX_BATCH_RECORDS

RRSet = dict[str, Any]  # one record set, shaped as ListResourceRecordSets returns it
RecordKey = tuple[str, str, str]  # (host, record type, SetIdentifier: "" when it has none)
Action = Literal["CREATE", "UPSERT", "DELETE"]

OWNERSHIP_TTL = 300
ALIAS_TYPES = ("A", "AAAA")
# The routing policy fields of a record set, and the kind of policy each makes.
POLICY_FIELDS = {
    "Weight": "weighted",
    "Region": "latency",
    "Failover": "failover",
    "GeoLocation": "geolocation",
    "MultiValueAnswer": "multivalue answer",
    "CidrRoutingConfig": "IP-based",
    "GeoProximityLocation": "geoproximity",
}
SIMPLE = "simple"


def set_id(rrset: RRSet) -> str:
    return str(rrset.get("SetIdentifier", ""))


def policy_kind(rrset: RRSet) -> str:
    """`simple`, or the kind of routing policy a record set has (`weighted`, `latency`, ...)."""
    if "SetIdentifier" not in rrset:
        return SIMPLE
    kinds = [kind for key, kind in POLICY_FIELDS.items() if key in rrset]
    return kinds[0] if kinds else "unknown"


@dataclass(frozen=True)
class Routing:
    """A record set's SetIdentifier and the one routing policy that goes with it."""

    set_identifier: str
    weight: int | None = None
    region: str | None = None
    failover: str | None = None
    # (ContinentCode|CountryCode|SubdivisionCode, value), in that order
    geo_location: tuple[tuple[str, str], ...] = ()

    def to_api(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"SetIdentifier": self.set_identifier}
        if self.weight is not None:
            fields["Weight"] = self.weight
        if self.region is not None:
            fields["Region"] = self.region
        if self.failover is not None:
            fields["Failover"] = self.failover
        if self.geo_location:
            fields["GeoLocation"] = dict(self.geo_location)
        return fields

    @property
    def kind(self) -> str:
        return policy_kind(self.to_api())

    def same_policy(self, rrset: RRSet) -> bool:
        """Whether a live record set has exactly this SetIdentifier and policy."""
        live = {key: rrset[key] for key in ("SetIdentifier", *POLICY_FIELDS) if key in rrset}
        return live == self.to_api()

    def describe(self) -> str:
        policy = self.to_api()
        del policy["SetIdentifier"]
        values = ", ".join(f"{key} {value}" for key, value in policy.items())
        return f"{self.kind} ({values})"


def routing_of(rrset: RRSet) -> dict[str, Any]:
    """The routing fields of a record set as the API has them (empty for a simple one)."""
    return {key: rrset[key] for key in ("SetIdentifier", *POLICY_FIELDS) if key in rrset}


@dataclass(frozen=True)
class AliasTarget:
    """Where our records point: the load balancer's DNS name and canonical hosted zone."""

    dns_name: str
    zone_id: str

    def to_api(self, evaluate_target_health: bool = True) -> dict[str, Any]:
        return {
            "HostedZoneId": self.zone_id,
            "DNSName": self.dns_name,
            "EvaluateTargetHealth": evaluate_target_health,
        }

    def matches(self, rrset: RRSet, evaluate_target_health: bool = True) -> bool:
        """Whether a live record set is already this alias (ignoring case, dot, dualstack.)."""
        live = rrset.get("AliasTarget")
        if not isinstance(live, dict) or "ResourceRecords" in rrset:
            return False
        return (
            _alias_host(str(live.get("DNSName", ""))) == _alias_host(self.dns_name)
            and live.get("HostedZoneId") == self.zone_id
            and live.get("EvaluateTargetHealth") is evaluate_target_health
        )


def _alias_host(dns_name: str) -> str:
    # `dualstack.<lb>` is the same load balancer (the console adds the prefix).
    name = normalize_name(dns_name)
    return name.removeprefix("dualstack.")


@dataclass(frozen=True)
class DesiredRecord:
    host: str  # normalized
    type: str  # A or AAAA
    resource: str  # `ingress/<ns>/<name>`, written into the ownership TXT
    routing: Routing | None = None
    evaluate_target_health: bool = True

    @property
    def key(self) -> RecordKey:
        return (self.host, self.type, self.routing.set_identifier if self.routing else "")

    def alias_rrset(self, alias: AliasTarget) -> RRSet:
        rrset: RRSet = {"Name": self.host, "Type": self.type}
        if self.routing is not None:
            rrset.update(self.routing.to_api())
        rrset["AliasTarget"] = alias.to_api(self.evaluate_target_health)
        return rrset


class LiveRecords:
    """Live record sets of one zone, looked up by (normalized name, type)."""

    def __init__(self, rrsets: Iterable[RRSet] = ()) -> None:
        self._sets: dict[tuple[str, str], list[RRSet]] = {}
        for rrset in rrsets:
            self.add(rrset)

    def add(self, rrset: RRSet) -> None:
        key = (normalize_name(str(rrset["Name"])), str(rrset["Type"]))
        self._sets.setdefault(key, []).append(rrset)

    def get(self, name: str, record_type: str) -> list[RRSet]:
        return self._sets.get((name, record_type), [])

    def one(self, name: str, record_type: str, identifier: str) -> RRSet | None:
        """The record set with this name, type and SetIdentifier ("": none), if any."""
        return next((r for r in self.get(name, record_type) if set_id(r) == identifier), None)

    def all(self) -> list[RRSet]:
        return [rrset for sets in self._sets.values() for rrset in sets]

    def without(self, keys: Iterable[RecordKey]) -> LiveRecords:
        """These record sets as they will be once the records of `keys` and their ownership
        TXT records are gone."""
        gone = set()
        for host, rtype, identifier in keys:
            gone.add((host, rtype, identifier))
            gone.add((txt_name(host, rtype), "TXT", identifier))
        return LiveRecords(
            r
            for r in self.all()
            if (normalize_name(str(r["Name"])), str(r["Type"]), set_id(r)) not in gone
        )


@dataclass(frozen=True)
class Change:
    action: Action
    rrset: RRSet
    host: str  # the host this change is for, for error messages and batch grouping

    def to_api(self) -> dict[str, Any]:
        return {"Action": self.action, "ResourceRecordSet": self.rrset}

    def cost(self) -> tuple[int, int]:
        """(record count, characters) this change adds to a batch, as Route 53 counts them."""
        records = self.rrset.get("ResourceRecords")
        if records:
            count, chars = len(records), sum(len(str(r.get("Value", ""))) for r in records)
        else:
            count, chars = 1, len(str(self.rrset.get("AliasTarget", {}).get("DNSName", "")))
        factor = 2 if self.action == "UPSERT" else 1
        return count * factor, chars * factor


@dataclass
class ZonePlan:
    changes: list[Change] = field(default_factory=list)
    warnings: list[DeployWarning] = field(default_factory=list)
    # The keys that are ours once the changes apply (or stay ours if they cannot be removed).
    owned: set[RecordKey] = field(default_factory=set)
    # Desired keys another stack of our cluster holds: theirs until that stack lets them go
    # (an Ingress moving between groups), so worth trying again, unlike other owners'.
    contested: set[RecordKey] = field(default_factory=set)

    def warn(self, reason: str, message: str) -> None:
        self.warnings.append(DeployWarning(reason, message))


def names_to_read(keys: Iterable[RecordKey]) -> set[str]:
    """Every name whose record sets the plan looks at for these keys."""
    names: set[str] = set()
    for host, _, _ in keys:
        names.add(host)
        # Both types' owners: a host another owner holds in one type is not ours in any.
        names.update(txt_name(host, record_type) for record_type in ALIAS_TYPES)
    return names


def ownership_rrset(
    host: str, record_type: str, owner: Owner, routing: Routing | None = None
) -> RRSet:
    rrset: RRSet = {"Name": txt_name(host, record_type), "Type": "TXT"}
    if routing is not None:
        rrset.update(routing.to_api())
    rrset["TTL"] = OWNERSHIP_TTL
    rrset["ResourceRecords"] = [{"Value": txt_value(owner)}]
    return rrset


def _txt_values(rrset: RRSet) -> list[str]:
    return [str(r.get("Value", "")) for r in rrset.get("ResourceRecords", [])]


def _owner_of(txt: RRSet | None) -> Owner | None:
    return parse_txt_values(_txt_values(txt)) if txt is not None else None


def _with_set(identifier: str) -> str:
    return f" set {identifier!r}" if identifier else ""


def plan_zone(
    zone_name: str,
    desired: Sequence[DesiredRecord],
    previously_owned: Iterable[RecordKey],
    live: LiveRecords,
    *,
    cluster: str,
    stack: str,
    alias: AliasTarget | None,
    upsert_only: bool = False,
) -> ZonePlan:
    """The changes that make one zone hold `desired` for `stack`, touching only our records.

    `previously_owned` are keys this stack may own in the zone (from earlier syncs or the
    ownership scan); those not desired any more are deleted if their TXT still names us
    (never with `upsert_only`: they are left as they are, and no longer counted as ours).
    `alias` may be None only when nothing is desired (deleting a stack).
    """
    plan = ZonePlan()
    us = Owner(cluster, stack)
    wanted = {record.key for record in desired}
    leaving = sorted(set(previously_owned) - wanted)
    removing = [
        key
        for key in leaving
        if not upsert_only and us.owns(_owner_of(live.one(txt_name(key[0], key[1]), "TXT", key[2])))
    ]
    # Desired records are planned against the zone as it will be after our removals, which
    # go first in each host's batch (`split_batches`): a weighted record may replace our
    # simple one of the same name, or a record its old set identifier.
    context = _Zone(zone_name, live.without(removing), upsert_only)
    for record in desired:
        if alias is None:
            raise ValueError("an alias target is needed to plan desired records")
        owner = Owner(cluster, stack, record.resource)
        _plan_desired(plan, context, _Wanted(record, owner, alias))
    for key in removing:
        _plan_removal(plan, key, live)
    return plan


@dataclass(frozen=True)
class _Zone:
    name: str
    live: LiveRecords  # without the record sets this plan removes
    upsert_only: bool


@dataclass(frozen=True)
class _Wanted:
    """One record the stack wants, with who it is for and where it should point."""

    record: DesiredRecord
    owner: Owner
    alias: AliasTarget

    def where(self, zone: _Zone) -> str:
        """`host (type[ set 'id'] in hosted zone zone)`, for warnings."""
        host, rtype, identifier = self.record.key
        return f"{host} ({rtype}{_with_set(identifier)} in hosted zone {zone.name})"


def _plan_desired(plan: ZonePlan, zone: _Zone, wanted: _Wanted) -> None:
    host, rtype, identifier = wanted.record.key
    owner_name = txt_name(host, rtype)
    problem = name_problem(owner_name)
    if problem:
        plan.warn(
            DNS_RECORD_SKIPPED,
            f"{wanted.where(zone)}: not managed: its ownership record cannot be made: {problem}",
        )
        return
    txt = zone.live.one(owner_name, "TXT", identifier)
    if txt is not None:
        _plan_owned(plan, zone, wanted, txt)
    else:
        _plan_unowned(plan, zone, wanted)


def _plan_owned(plan: ZonePlan, zone: _Zone, wanted: _Wanted, txt: RRSet) -> None:
    """The host has an ownership record: ours to keep in step, or someone else's to leave."""
    record, owner, alias = wanted.record, wanted.owner, wanted.alias
    where = wanted.where(zone)
    host, rtype, identifier = record.key
    current_owner = _owner_of(txt)
    if not owner.owns(current_owner):
        who = current_owner.describe() if current_owner else "something else (not this controller)"
        plan.warn(
            DNS_RECORD_NOT_OWNED,
            f"{where}: left unchanged: its ownership record {txt_name(host, rtype)}"
            f"{_with_set(identifier)} names {who}, not cluster {owner.cluster!r}, "
            f"stack {owner.stack!r}",
        )
        if current_owner is not None and current_owner.cluster == owner.cluster:
            plan.contested.add(record.key)
        return
    plan.owned.add(record.key)
    live = zone.live.one(host, rtype, identifier)
    clash = _policy_clash(zone, record, owner)
    if zone.live.get(host, "CNAME"):
        plan.warn(DNS_RECORD_SKIPPED, f"{where}: not created: a CNAME record has that name")
    elif clash is not None:
        plan.warn(clash[0], f"{where}: left unchanged: {clash[1]}")
    elif live is None:
        plan.changes.append(Change("CREATE", record.alias_rrset(alias), host))
    else:
        _keep_in_step(plan, live, record.alias_rrset(alias), host)
    _keep_in_step(plan, txt, ownership_rrset(host, rtype, owner, record.routing), host)


def _keep_in_step(plan: ZonePlan, live: RRSet, wanted: RRSet, host: str) -> None:
    """UPSERT `live` into `wanted`, or DELETE and CREATE it when its kind of routing policy
    changes (Route 53 does not convert a record set from one kind to another)."""
    if policy_kind(live) != policy_kind(wanted):
        plan.changes += [Change("DELETE", live, host), Change("CREATE", wanted, host)]
        return
    if "AliasTarget" in wanted:
        alias = wanted["AliasTarget"]
        target = AliasTarget(alias["DNSName"], alias["HostedZoneId"])
        same = target.matches(live, alias["EvaluateTargetHealth"])
    else:
        same = _txt_values(live) == _txt_values(wanted)
    if not same or routing_of(live) != routing_of(wanted):
        plan.changes.append(Change("UPSERT", wanted, host))


def _plan_unowned(plan: ZonePlan, zone: _Zone, wanted: _Wanted) -> None:
    """No ownership record: create the host's records if nobody else holds the name."""
    record, owner, alias = wanted.record, wanted.owner, wanted.alias
    where = wanted.where(zone)
    host, rtype, identifier = record.key
    # A record without a routing policy is alone with its name and type: any record set
    # there is in its way. One with a policy only meets its own set identifier here.
    taken = zone.live.get(host, rtype) if not identifier else []
    exact = zone.live.one(host, rtype, identifier)
    cnames = zone.live.get(host, "CNAME")
    owner_name = txt_name(host, rtype)
    if (
        taken
        and not cnames
        and all(owner.owns(_owner_of(zone.live.one(owner_name, "TXT", set_id(r)))) for r in taken)
    ):
        # Ours, with a set identifier this record no longer has: only upsert-only keeps them.
        ids = ", ".join(repr(set_id(r)) for r in taken)
        plan.warn(
            DNS_RECORD_SKIPPED,
            f"{where}: not created: our record sets of that name (set identifiers {ids}) are "
            "not deleted to make room for one without a routing policy (DNS_POLICY "
            "upsert-only): delete them by hand",
        )
        return
    if taken or exact is not None or cnames:
        kind = rtype if taken or exact is not None else "CNAME"
        plan.warn(
            DNS_RECORD_NOT_OWNED,
            f"{where}: left unchanged: a {kind} record{_with_set(identifier)} already exists "
            f"without an ownership record ({txt_name(host, rtype)}), so it is not ours"
            f"{_external_dns_note(zone.live, host)}",
        )
        return
    clash = _policy_clash(zone, record, owner)
    if clash is not None:
        plan.warn(clash[0], f"{where}: not created: {clash[1]}")
        return
    claim = _other_claim(zone.live, record.key, owner)
    if claim:
        message, ours = claim
        plan.warn(DNS_RECORD_NOT_OWNED, f"{where}: not created: {message}")
        if ours:
            plan.contested.add(record.key)
        return
    plan.changes.append(Change("CREATE", record.alias_rrset(alias), host))
    plan.changes.append(Change("CREATE", ownership_rrset(host, rtype, owner, record.routing), host))
    plan.owned.add(record.key)


def _external_dns_note(live: LiveRecords, host: str) -> str:
    """external-dns's TXT beside the host names its owner: say so, and where to read on."""
    for rrset in live.get(host, "TXT"):
        text = "".join(_txt_values(rrset)).replace('"', "")
        if "heritage=external-dns" in text:
            labels = dict(item.partition("=")[::2] for item in text.split(","))
            who = labels.get("external-dns/owner", "?")
            return (
                f"; external-dns (owner {who}) manages it: stop it and hand the name over "
                "(README: moving from external-dns)"
            )
    return ""


def _policy_clash(zone: _Zone, record: DesiredRecord, owner: Owner) -> tuple[str, str] | None:
    """Why Route 53 would refuse our record set beside the others of its name and type.

    Route 53 keeps one kind of routing policy per name and type (a record without one is
    alone there), one latency record set per region, one failover record set per role and
    one geolocation record set per location. Our own record sets there count too: one whose
    kind changed is removed first only when it is not desired (and not with upsert-only).
    """
    host, rtype, identifier = record.key
    others = [r for r in zone.live.get(host, rtype) if set_id(r) != identifier]
    if not others:
        return None
    mine = record.routing
    if mine is None:
        kinds = sorted({policy_kind(r) for r in others})
        ids = ", ".join(repr(set_id(r)) for r in others)
        return (
            DNS_RECORD_SKIPPED,
            f"the name has {'/'.join(kinds)} record sets (set identifiers {ids}), which this "
            "controller does not manage; a record without a routing policy cannot sit beside "
            "them (give the Ingress dns-set-identifier and a policy to join them)",
        )
    if any(policy_kind(r) == SIMPLE for r in others):
        return _beside_simple(zone, record, owner, mine)
    kinds = sorted({policy_kind(r) for r in others} - {mine.kind})
    if kinds:
        return (
            DNS_RECORD_SKIPPED,
            f"the name's other record sets use {'/'.join(kinds)} routing, not {mine.kind}; "
            "Route 53 allows one kind of routing policy per name and type",
        )
    return _taken_slot(others, mine)


def _beside_simple(
    zone: _Zone, record: DesiredRecord, owner: Owner, mine: Routing
) -> tuple[str, str]:
    """A record set with a policy cannot join a name whose record has none."""
    host, rtype, _ = record.key
    txt = zone.live.one(txt_name(host, rtype), "TXT", "")
    if owner.owns(_owner_of(txt)) and zone.upsert_only:
        return (
            DNS_RECORD_SKIPPED,
            f"our {rtype} record without a routing policy has that name, and with "
            "DNS_POLICY upsert-only it is not deleted to make room: delete it by hand",
        )
    return (
        DNS_RECORD_NOT_OWNED,
        f"a {rtype} record without a routing policy has that name and is not ours; "
        f"Route 53 does not mix it with {mine.kind} record sets",
    )


def _taken_slot(others: list[RRSet], mine: Routing) -> tuple[str, str] | None:
    """A region, failover role or location another record set of the name already has."""
    wanted = mine.to_api()
    for key in ("Region", "Failover", "GeoLocation"):
        taken = [r for r in others if key in wanted and r.get(key) == wanted[key]]
        if taken:
            return (
                DNS_RECORD_SKIPPED,
                f"set {set_id(taken[0])!r} of that name already has {key} {wanted[key]}, and "
                f"Route 53 allows one {mine.kind} record set per {key.lower()}",
            )
    return None


def _other_claim(live: LiveRecords, key: RecordKey, owner: Owner) -> tuple[str, bool] | None:
    """Why the host belongs to someone else in its other alias type, if it does, and whether
    that is another stack of our cluster.

    Adding our AAAA next to someone else's A (or the reverse) would take over part of
    their name's traffic, so a host is only ours to add to when no one else holds it. A
    record with a set identifier shares its name with the other record sets of its group
    by design, so only the other type's record set of the same set identifier, or one
    without a routing policy, stands in its way.
    """
    host, rtype, identifier = key
    for other in ALIAS_TYPES:
        if other == rtype:
            continue
        txts = live.get(txt_name(host, other), "TXT")
        records = live.get(host, other)
        found = sorted({set_id(r) for r in (*txts, *records)})
        relevant = found if not identifier else [x for x in found if x in (identifier, "")]
        for x in relevant:
            txt = next((r for r in txts if set_id(r) == x), None)
            other_owner = _owner_of(txt)
            if txt is not None and not owner.owns(other_owner):
                who = other_owner.describe() if other_owner else "something else"
                same_cluster = other_owner is not None and other_owner.cluster == owner.cluster
                return f"its {other} record{_with_set(x)} is owned by {who}", same_cluster
            if txt is None:
                return (
                    f"an {other} record{_with_set(x)} without an ownership record has that name",
                    False,
                )
    return None


def _plan_removal(plan: ZonePlan, key: RecordKey, live: LiveRecords) -> None:
    host, rtype, identifier = key
    txt = live.one(txt_name(host, rtype), "TXT", identifier)
    record = live.one(host, rtype, identifier)
    # Exactly as listed: Route 53 deletes only a record set whose values all match.
    if record is not None:
        plan.changes.append(Change("DELETE", record, host))
    if txt is not None:
        plan.changes.append(Change("DELETE", txt, host))


def split_batches(
    changes: Sequence[Change],
    max_records: int = MAX_BATCH_RECORDS,
    max_chars: int = MAX_BATCH_CHARS,
) -> list[list[Change]]:
    """Changes in as few requests as Route 53's limits allow.

    A host's changes (its record and its ownership TXT) stay in the same request, so a
    record never exists without its owner, nor an owner without its record; its DELETEs go
    first, since Route 53 applies a batch in order and a record set may only replace another
    (a new set identifier, a new kind of policy) once that one is gone.
    """
    groups: dict[str, list[Change]] = {}
    for change in changes:
        groups.setdefault(change.host, []).append(change)
    batches: list[list[Change]] = []
    current: list[Change] = []
    records = chars = 0
    for group in groups.values():
        group.sort(key=lambda change: change.action != "DELETE")
        group_records = sum(change.cost()[0] for change in group)
        group_chars = sum(change.cost()[1] for change in group)
        if current and (records + group_records > max_records or chars + group_chars > max_chars):
            batches.append(current)
            current, records, chars = [], 0, 0
        current.extend(group)
        records += group_records
        chars += group_chars
    if current:
        batches.append(current)
    return batches
