"""The pure part of DNS: desired records and live record sets in, Route 53 changes out.

No I/O here, so every ownership rule is tested without Route 53. The plan for one zone:
- a desired record with no record and no ownership TXT: CREATE both;
- a desired record whose ownership TXT names us (cluster and stack): CREATE it if missing,
  UPSERT it if its alias target differs (e.g. the load balancer was replaced), UPSERT the
  TXT if its value differs (the host moved to another Ingress of the group);
- a record we once owned that is no longer desired: DELETE it and its TXT, with the exact
  values as listed (Route 53 rejects a DELETE whose values differ from the live record);
- anything else (a record without our TXT, a TXT naming another cluster or stack, a CNAME in
  the way, a weighted record set): no change, and a warning naming the host and why.
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
RecordKey = tuple[str, str]  # (host, record type)
Action = Literal["CREATE", "UPSERT", "DELETE"]

OWNERSHIP_TTL = 300
ALIAS_TYPES = ("A", "AAAA")
# ChangeResourceRecordSets limits per request (UPSERT counts twice towards both).


@dataclass(frozen=True)
class AliasTarget:
    """Where our records point: the load balancer's DNS name and canonical hosted zone."""

    dns_name: str
    zone_id: str

    def to_api(self) -> dict[str, Any]:
        return {
            "HostedZoneId": self.zone_id,
            "DNSName": self.dns_name,
            "EvaluateTargetHealth": True,
        }

    def matches(self, rrset: RRSet) -> bool:
        """Whether a live record set is already this alias (ignoring case, dot, dualstack.)."""
        live = rrset.get("AliasTarget")
        if not isinstance(live, dict) or "ResourceRecords" in rrset:
            return False
        return (
            _alias_host(str(live.get("DNSName", ""))) == _alias_host(self.dns_name)
            and live.get("HostedZoneId") == self.zone_id
            and live.get("EvaluateTargetHealth") is True
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

    @property
    def key(self) -> RecordKey:
        return (self.host, self.type)


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

    def all(self) -> list[RRSet]:
        return [rrset for sets in self._sets.values() for rrset in sets]


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
    for host, _ in keys:
        names.add(host)
        # Both types' owners: a host another owner holds in one type is not ours in any.
        names.update(txt_name(host, record_type) for record_type in ALIAS_TYPES)
    return names


def ownership_rrset(host: str, record_type: str, owner: Owner) -> RRSet:
    return {
        "Name": txt_name(host, record_type),
        "Type": "TXT",
        "TTL": OWNERSHIP_TTL,
        "ResourceRecords": [{"Value": txt_value(owner)}],
    }


def _txt_values(rrset: RRSet) -> list[str]:
    return [str(r.get("Value", "")) for r in rrset.get("ResourceRecords", [])]


def _owner_of(txts: list[RRSet]) -> Owner | None:
    if len(txts) != 1 or "SetIdentifier" in txts[0]:
        return None
    return parse_txt_values(_txt_values(txts[0]))


def _is_simple(records: list[RRSet]) -> bool:
    return len(records) == 1 and "SetIdentifier" not in records[0]


def plan_zone(
    zone_name: str,
    desired: Sequence[DesiredRecord],
    previously_owned: Iterable[RecordKey],
    live: LiveRecords,
    *,
    cluster: str,
    stack: str,
    alias: AliasTarget | None,
) -> ZonePlan:
    """The changes that make one zone hold `desired` for `stack`, touching only our records.

    `previously_owned` are keys this stack may own in the zone (from earlier syncs or the
    ownership scan); those not desired any more are deleted if their TXT still names us.
    `alias` may be None only when nothing is desired (deleting a stack).
    """
    plan = ZonePlan()
    wanted = {record.key for record in desired}
    for record in desired:
        if alias is None:
            raise ValueError("an alias target is needed to plan desired records")
        owner = Owner(cluster, stack, record.resource)
        _plan_desired(plan, zone_name, record, live, owner=owner, alias=alias)
    for key in sorted(set(previously_owned) - wanted):
        _plan_removal(plan, zone_name, key, live, Owner(cluster, stack))
    return plan


def _plan_desired(
    plan: ZonePlan,
    zone_name: str,
    record: DesiredRecord,
    live: LiveRecords,
    *,
    owner: Owner,
    alias: AliasTarget,
) -> None:
    host, rtype = record.key
    where = f"{host} ({rtype} in hosted zone {zone_name})"
    owner_name = txt_name(host, rtype)
    problem = name_problem(owner_name)
    if problem:
        plan.warn(
            DNS_RECORD_SKIPPED,
            f"{where}: not managed: its ownership record cannot be made: {problem}",
        )
        return
    wanted = _Wanted(where, record, owner, alias)
    txts = live.get(owner_name, "TXT")
    if txts:
        _plan_owned(plan, wanted, live, txts)
    else:
        _plan_unowned(plan, wanted, live)


@dataclass(frozen=True)
class _Wanted:
    """One record the stack wants, with who it is for and where it should point."""

    where: str  # `host (type in hosted zone zone)`, for warnings
    record: DesiredRecord
    owner: Owner
    alias: AliasTarget


def _plan_owned(plan: ZonePlan, wanted: _Wanted, live: LiveRecords, txts: list[RRSet]) -> None:
    """The host has an ownership record: ours to keep in step, or someone else's to leave."""
    where, record, owner, alias = wanted.where, wanted.record, wanted.owner, wanted.alias
    host, rtype = record.key
    current_owner = _owner_of(txts)
    if not owner.owns(current_owner):
        who = current_owner.describe() if current_owner else "something else (not this controller)"
        plan.warn(
            DNS_RECORD_NOT_OWNED,
            f"{where}: left unchanged: its ownership record {txt_name(host, rtype)} names "
            f"{who}, not cluster {owner.cluster!r}, stack {owner.stack!r}",
        )
        if current_owner is not None and current_owner.cluster == owner.cluster:
            plan.contested.add(record.key)
        return
    plan.owned.add(record.key)
    records = live.get(host, rtype)
    alias_rrset = {"Name": host, "Type": rtype, "AliasTarget": alias.to_api()}
    if live.get(host, "CNAME"):
        plan.warn(DNS_RECORD_SKIPPED, f"{where}: not created: a CNAME record has that name")
    elif not records:
        plan.changes.append(Change("CREATE", alias_rrset, host))
    elif not _is_simple(records):
        plan.warn(
            DNS_RECORD_SKIPPED,
            f"{where}: left unchanged: it has several record sets (weighted or other "
            "routing policy), which this controller does not manage",
        )
    elif not alias.matches(records[0]):
        plan.changes.append(Change("UPSERT", alias_rrset, host))
    wanted_txt = ownership_rrset(host, rtype, owner)
    if _txt_values(txts[0]) != _txt_values(wanted_txt):
        plan.changes.append(Change("UPSERT", wanted_txt, host))


def _plan_unowned(plan: ZonePlan, wanted: _Wanted, live: LiveRecords) -> None:
    """No ownership record: create the host's records if nobody else holds the name."""
    where, record, owner, alias = wanted.where, wanted.record, wanted.owner, wanted.alias
    host, rtype = record.key
    records = live.get(host, rtype)
    cnames = live.get(host, "CNAME")
    if records or cnames:
        kind = rtype if records else "CNAME"
        plan.warn(
            DNS_RECORD_NOT_OWNED,
            f"{where}: left unchanged: a {kind} record already exists without an ownership "
            f"record ({txt_name(host, rtype)}), so it is not ours",
        )
        return
    alias_rrset = {"Name": host, "Type": rtype, "AliasTarget": alias.to_api()}
    claim = _other_claim(host, rtype, live, owner)
    if claim:
        message, ours = claim
        plan.warn(DNS_RECORD_NOT_OWNED, f"{where}: not created: {message}")
        if ours:
            plan.contested.add(record.key)
        return
    plan.changes.append(Change("CREATE", alias_rrset, host))
    plan.changes.append(Change("CREATE", ownership_rrset(host, rtype, owner), host))
    plan.owned.add(record.key)


def _other_claim(host: str, rtype: str, live: LiveRecords, owner: Owner) -> tuple[str, bool] | None:
    """Why the host belongs to someone else in its other alias type, if it does, and whether
    that is another stack of our cluster.

    Adding our AAAA next to someone else's A (or the reverse) would take over part of
    their name's traffic, so a host is only ours to add to when no one else holds it.
    """
    for other in ALIAS_TYPES:
        if other == rtype:
            continue
        other_txts = live.get(txt_name(host, other), "TXT")
        other_owner = _owner_of(other_txts)
        if other_txts and not owner.owns(other_owner):
            who = other_owner.describe() if other_owner else "something else"
            same_cluster = other_owner is not None and other_owner.cluster == owner.cluster
            return f"its {other} record is owned by {who}", same_cluster
        if live.get(host, other) and not other_txts:
            return f"an {other} record without an ownership record has that name", False
    return None


def _plan_removal(
    plan: ZonePlan, zone_name: str, key: RecordKey, live: LiveRecords, owner: Owner
) -> None:
    host, rtype = key
    txts = live.get(txt_name(host, rtype), "TXT")
    if not owner.owns(_owner_of(txts)):
        return  # not ours (any more): nothing to remove
    records = live.get(host, rtype)
    if records and not _is_simple(records):
        plan.warn(
            DNS_RECORD_SKIPPED,
            f"{host} ({rtype} in hosted zone {zone_name}): not deleted: it has several record "
            "sets (weighted or other routing policy), which this controller does not manage",
        )
        plan.owned.add(key)
        return
    # Exactly as listed: Route 53 deletes only a record set whose values all match.
    plan.changes.extend(Change("DELETE", rrset, host) for rrset in records)
    plan.changes.append(Change("DELETE", txts[0], host))


def split_batches(
    changes: Sequence[Change],
    max_records: int = MAX_BATCH_RECORDS,
    max_chars: int = MAX_BATCH_CHARS,
) -> list[list[Change]]:
    """Changes in as few requests as Route 53's limits allow.

    A host's changes (its record and its ownership TXT) stay in the same request, so a
    record never exists without its owner, nor an owner without its record.
    """
    groups: dict[str, list[Change]] = {}
    for change in changes:
        groups.setdefault(change.host, []).append(change)
    batches: list[list[Change]] = []
    current: list[Change] = []
    records = chars = 0
    for group in groups.values():
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
