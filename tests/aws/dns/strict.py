"""A Route 53 client for tests that refuses what real Route 53 refuses and moto accepts.

moto applies a change batch change by change (a failing second change leaves the first
applied), deletes a record set by name and type whatever values the DELETE carries, lets a
CREATE add a second record set with a taken name and type, and accepts an alias to any
target. `StrictRoute53` wraps a moto-backed client and checks each `ChangeResourceRecordSets`
request the way Route 53 does *before* moto sees it: the whole batch is validated against
the live records (so it applies entirely or not at all), a DELETE must carry the live
values exactly, a CREATE must not find the record set, CNAMEs may not share a name, names
must be inside the zone, TXT strings must be quoted and at most 255 characters, the batch
must be within 1000 records / 32000 characters (UPSERT counted twice), and (when told the
load balancers that exist) an alias must point to one of them. Routing policies as Route 53
has them: a SetIdentifier (1..128 characters) goes with exactly one of Weight (0..255),
Region, Failover, GeoLocation, and none of them without one; the record sets of one name and
type are one without a SetIdentifier, or any number with the same kind of policy (one per
region, failover role or location); an UPSERT does not turn a record set into another kind.
ListTagsForResources takes at most 10 resources.

moto itself gets the sandbox's corrections (`sandbox.motofixes`, installed by the fixture):
its DELETE of a record set with a SetIdentifier removed every record set of that identifier.

It also injects failures for the interrupt tests: before the change is applied (Route 53
refused it) or after (the change applied but the answer was lost).

Its own reads use a second client, so they never show in the call counter of the client
under test.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from botocore.exceptions import ClientError

_TXT_VALUE = re.compile(r'^"(?:[^"\\]|\\.){0,255}"(?: "(?:[^"\\]|\\.){0,255}")*$')


def client_error(code: str, message: str, operation: str, status: int = 400) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


def _name(name: str) -> str:
    return name.replace("\\052", "*").rstrip(".").lower()


def _key(rrset: dict[str, Any]) -> tuple[str, str, str]:
    return (_name(rrset["Name"]), rrset["Type"], str(rrset.get("SetIdentifier", "")))


def _comparable(rrset: dict[str, Any]) -> dict[str, Any]:
    """The values Route 53 compares when deleting: everything but the name's spelling."""
    data = {k: v for k, v in rrset.items() if k != "Name"}
    if "ResourceRecords" in data:
        data["ResourceRecords"] = sorted(r["Value"] for r in data["ResourceRecords"])
    if "AliasTarget" in data:
        alias = dict(data["AliasTarget"])
        alias["DNSName"] = _name(alias["DNSName"])
        data["AliasTarget"] = alias
    return data


def _cost(change: dict[str, Any]) -> tuple[int, int]:
    rrset = change["ResourceRecordSet"]
    values = [r["Value"] for r in rrset.get("ResourceRecords", [])]
    if not values and "AliasTarget" in rrset:
        values = [rrset["AliasTarget"]["DNSName"]]
    factor = 2 if change["Action"] == "UPSERT" else 1
    return len(values) * factor, sum(len(v) for v in values) * factor


@dataclass
class StrictRoute53:
    """Wraps `client` (counted) and validates changes with `checker` (not counted)."""

    client: Any
    checker: Any
    # (normalized DNS name, hosted zone ID) of load balancers that exist; empty: not checked.
    alias_targets: set[tuple[str, str]] = field(default_factory=set)
    # Errors to raise on the next change calls: ("before"|"after", ClientError).
    failures: list[tuple[str, ClientError | None]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    # Run before each change is validated: another writer racing us.
    on_change: Callable[[], None] | None = None
    # Every batch that reached moto: (zone ID, [(action, type, name)]).
    sent: list[tuple[str, list[tuple[str, str, str]]]] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def change_resource_record_sets(self, **kwargs: Any) -> Any:
        when, error = self.failures.pop(0) if self.failures else ("", None)
        if error is not None and when == "before":
            raise error
        if self.on_change is not None:
            self.on_change()
        try:
            self.validate(kwargs["HostedZoneId"], kwargs["ChangeBatch"]["Changes"])
        except ClientError as refused:
            self.rejected.append(str(refused))
            raise
        # Validated, so a CREATE cannot clash; moto's own duplicate check is wrong (it refuses
        # a CREATE identical to an earlier one whenever any record sorts after it), so moto
        # gets it as an UPSERT.
        forwarded = {
            **kwargs,
            "ChangeBatch": {
                **kwargs["ChangeBatch"],
                "Changes": [
                    {**c, "Action": "UPSERT" if c["Action"] == "CREATE" else c["Action"]}
                    for c in kwargs["ChangeBatch"]["Changes"]
                ],
            },
        }
        response = self.client.change_resource_record_sets(**forwarded)
        summary = [
            (c["Action"], c["ResourceRecordSet"]["Type"], _name(c["ResourceRecordSet"]["Name"]))
            for c in kwargs["ChangeBatch"]["Changes"]
        ]
        self.sent.append((kwargs["HostedZoneId"], summary))
        if error is not None:
            raise error
        return response

    def list_tags_for_resources(self, **kwargs: Any) -> Any:
        if len(kwargs.get("ResourceIds", [])) > 10:
            raise client_error(
                "InvalidInput", "ResourceIds: at most 10 items", "ListTagsForResources"
            )
        return self.client.list_tags_for_resources(**kwargs)

    def live(self, zone_id: str) -> list[dict[str, Any]]:
        pages = self.checker.get_paginator("list_resource_record_sets").paginate(
            HostedZoneId=zone_id
        )
        return [rrset for page in pages for rrset in page["ResourceRecordSets"]]

    def validate(self, zone_id: str, changes: list[dict[str, Any]]) -> None:
        zone_name = _name(self.checker.get_hosted_zone(Id=zone_id)["HostedZone"]["Name"])
        _check_batch_size(changes)
        state = {_key(rrset): rrset for rrset in self.live(zone_id)}
        for change in changes:
            action, rrset = change["Action"], change["ResourceRecordSet"]
            self._check_record(zone_name, action, rrset)
            _check_routing(rrset)
            _apply(state, action, rrset)
        _check_policies(state)

    def _check_record(self, zone_name: str, action: str, rrset: dict[str, Any]) -> None:
        """Refuse a record set outside the zone, an unquoted or long TXT string, or an alias
        to a load balancer that does not exist."""
        name = _key(rrset)[0]
        if name != zone_name and not name.endswith("." + zone_name):
            _refuse(f"RRSet with DNS name {name} is not permitted in zone {zone_name}")
        if rrset["Type"] == "TXT":
            for record in rrset.get("ResourceRecords", []):
                if not _TXT_VALUE.match(record["Value"]):
                    _refuse(f"Invalid Resource Record: TXT value {record['Value']!r}")
        if "AliasTarget" in rrset and self.alias_targets and action != "DELETE":
            alias = rrset["AliasTarget"]
            if (_name(alias["DNSName"]), alias["HostedZoneId"]) not in self.alias_targets:
                _refuse(
                    f"Tried to create an alias that targets {alias['DNSName']}, "
                    "which does not exist"
                )


def _refuse(message: str) -> NoReturn:
    raise client_error("InvalidChangeBatch", message, "ChangeResourceRecordSets")


def _check_batch_size(changes: list[dict[str, Any]]) -> None:
    """Refuse a batch over 1000 records or 32000 characters (UPSERT counted twice)."""
    records, chars = (sum(c) for c in zip(*(_cost(ch) for ch in changes), strict=True))
    if records > 1000 or chars > 32000:
        _refuse(f"batch too big: {records} records, {chars} characters")


POLICY_KEYS = ("Weight", "Region", "Failover", "GeoLocation", "MultiValueAnswer")


def _kind(rrset: dict[str, Any]) -> str:
    return next((key for key in POLICY_KEYS if key in rrset), "simple")


def _check_routing(rrset: dict[str, Any]) -> None:
    """A SetIdentifier with exactly one routing policy, none without; AWS's ranges."""
    where = f"[Name={rrset['Name']}, Type={rrset['Type']}]"
    policies = [key for key in POLICY_KEYS if key in rrset]
    identifier = rrset.get("SetIdentifier")
    if identifier is None and policies:
        _refuse(f"Invalid request: Missing field 'SetIdentifier' in Change with {where}")
    if identifier is not None and len(policies) != 1:
        _refuse(
            "Invalid request: Expected exactly one of [Weight, Region, Failover, GeoLocation, "
            f"MultiValueAnswer, ...], but found {len(policies)} in Change with {where}"
        )
    if identifier is not None and not 1 <= len(str(identifier)) <= 128:
        _refuse(f"Invalid request: SetIdentifier of length {len(str(identifier))} in {where}")
    if "Weight" in rrset and not 0 <= int(rrset["Weight"]) <= 255:
        _refuse(f"Invalid request: Weight {rrset['Weight']} in {where}")


def _check_policies(state: dict[tuple[str, str, str], dict[str, Any]]) -> None:
    """The record sets of each name and type after the batch: Route 53's combinations."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (name, rtype, _), rrset in state.items():
        groups.setdefault((name, rtype), []).append(rrset)
    for (name, rtype), rrsets in groups.items():
        kinds = {_kind(r) for r in rrsets}
        if len(kinds) > 1:
            _refuse(
                f"RRSet with DNS name {name}, type {rtype} cannot be created: record sets "
                f"with different routing policies ({', '.join(sorted(kinds))}) have that name"
            )
        for key in ("Region", "Failover", "GeoLocation"):
            values = [json.dumps(r[key], sort_keys=True) for r in rrsets if key in r]
            if len(values) != len(set(values)):
                _refuse(f"RRSet with DNS name {name}, type {rtype}: duplicate {key}")


def _apply(
    state: dict[tuple[str, str, str], dict[str, Any]], action: str, rrset: dict[str, Any]
) -> None:
    """Apply one change to `state` (the zone's record sets as the batch goes), refusing a
    DELETE of what is not there as given, a CREATE of what is, and a clash with a CNAME."""
    key = _key(rrset)
    name = key[0]
    if action == "DELETE":
        if key not in state:
            _refuse(f"Tried to delete resource record set {key} but it was not found")
        if _comparable(state[key]) != _comparable(rrset):
            _refuse(
                f"Tried to delete resource record set {key} but the values provided "
                "do not match the current values"
            )
        del state[key]
        return
    if action == "CREATE" and key in state:
        _refuse(f"Tried to create resource record set {key} but it already exists")
    if action == "UPSERT" and key in state and _kind(state[key]) != _kind(rrset):
        _refuse(
            f"RRSet {key} cannot be converted from {_kind(state[key])} to {_kind(rrset)} "
            "routing; delete it and create it again"
        )
    types_here = Counter(k[1] for k in state if k[0] == name and k != key)
    if (rrset["Type"] == "CNAME" and types_here) or (
        rrset["Type"] != "CNAME" and types_here["CNAME"]
    ):
        _refuse(f"RRSet of type {rrset['Type']} with DNS name {name} conflicts with a CNAME")
    state[key] = rrset
