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
load balancers that exist) an alias must point to one of them.

It also injects failures for the interrupt tests: before the change is applied (Route 53
refused it) or after (the change applied but the answer was lost).

Its own reads use a second client, so they never show in the call counter of the client
under test.
"""

from __future__ import annotations

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
            _apply(state, action, rrset)

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
    types_here = Counter(k[1] for k in state if k[0] == name and k != key)
    if (rrset["Type"] == "CNAME" and types_here) or (
        rrset["Type"] != "CNAME" and types_here["CNAME"]
    ):
        _refuse(f"RRSet of type {rrset['Type']} with DNS name {name} conflicts with a CNAME")
    state[key] = rrset
