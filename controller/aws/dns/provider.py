"""The Route 53 calls: list zones, read record sets, submit change batches.

Every call goes through `_call`, which turns botocore errors into `DnsError`s naming the
zone and hosts. Reads pick the cheaper of two ways to see the names a plan needs: list the
whole zone (one call per 300 record sets) or read each name on its own (one call per name,
starting at that name: Route 53 returns a name's record sets together, from
`StartRecordName`). A small zone is listed; a big one is read name by name, so a host in a
200,000-record zone costs a few calls, not hundreds. Nothing here waits for INSYNC. Zone tags
(for a tag filter) are read ten zones a call, the most ListTagsForResources takes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from controller.aws.dns.errors import from_exception
from controller.aws.dns.plan import Change, LiveRecords, RRSet, split_batches
from controller.aws.dns.zones import HostedZone, normalize_name, zone_from_api
from controller.limits import ZONE_TAGS_CHUNK

LIST_PAGE_SIZE = 300  # the most ListResourceRecordSets returns per call
NAME_PAGE_SIZE = 20  # enough for every record set of one name in one call, as a rule
MAX_COMMENT = 256  # ChangeBatch.Comment limit

T = TypeVar("T")


class Route53Provider:
    """Route 53 API calls for the DNS code, on a boto3 route53 client made elsewhere."""

    def __init__(self, client: Any, comment: str = "") -> None:
        self._client = client
        self._comment = comment

    def _call(self, action: str, zone: str, hosts: Iterable[str], fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (ClientError, BotoCoreError) as error:
            raise from_exception(error, action=action, zone=zone, hosts=list(hosts)) from error

    def list_zones(self) -> list[HostedZone]:
        def run() -> list[HostedZone]:
            pages = self._client.get_paginator("list_hosted_zones").paginate()
            return [zone_from_api(item) for page in pages for item in page["HostedZones"]]

        return self._call("listing hosted zones", "", (), run)

    def zone_tags(self, zone_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """The tags of these hosted zones, by zone ID."""

        def run() -> dict[str, dict[str, str]]:
            found: dict[str, dict[str, str]] = {}
            for start in range(0, len(zone_ids), ZONE_TAGS_CHUNK):
                chunk = list(zone_ids[start : start + ZONE_TAGS_CHUNK])
                reply = self._client.list_tags_for_resources(
                    ResourceType="hostedzone", ResourceIds=chunk
                )
                for tag_set in reply["ResourceTagSets"]:
                    zone_id = str(tag_set["ResourceId"]).rsplit("/", 1)[-1]
                    found[zone_id] = {t["Key"]: t["Value"] for t in tag_set.get("Tags", [])}
            return found

        return self._call("reading hosted zone tags", "", (), run)

    def list_zone(self, zone: HostedZone) -> list[RRSet]:
        """Every record set of a zone."""

        def run() -> list[RRSet]:
            pages = self._client.get_paginator("list_resource_record_sets").paginate(
                HostedZoneId=zone.id, PaginationConfig={"PageSize": LIST_PAGE_SIZE}
            )
            return [rrset for page in pages for rrset in page["ResourceRecordSets"]]

        return self._call("listing records", zone.name, (), run)

    def read_name(self, zone: HostedZone, name: str) -> list[RRSet]:
        """The record sets named `name` (normalized), read from that name onwards."""

        def run() -> list[RRSet]:
            found: list[RRSet] = []
            kwargs: dict[str, Any] = {
                "HostedZoneId": zone.id,
                "StartRecordName": name,
                "MaxItems": str(NAME_PAGE_SIZE),
            }
            while True:
                page = self._client.list_resource_record_sets(**kwargs)
                for rrset in page["ResourceRecordSets"]:
                    if normalize_name(str(rrset["Name"])) != name:
                        return found
                    found.append(rrset)
                if not page.get("IsTruncated"):
                    return found
                kwargs["StartRecordName"] = page["NextRecordName"]
                kwargs["StartRecordType"] = page["NextRecordType"]
                if page.get("NextRecordIdentifier"):
                    kwargs["StartRecordIdentifier"] = page["NextRecordIdentifier"]

        return self._call("reading records", zone.name, (name,), run)

    def read(
        self, zone: HostedZone, names: set[str], listed: dict[str, list[RRSet]]
    ) -> LiveRecords:
        """The live record sets with these names, by the cheaper way (see module doc).

        `listed` holds whole-zone listings already made during this sync (by the ownership
        scan); they are reused, and a listing made here is added to it.
        """
        if not names:
            return LiveRecords()
        if zone.id not in listed:
            whole_zone_calls = max(1, math.ceil(zone.record_count / LIST_PAGE_SIZE))
            if whole_zone_calls > len(names):
                found = [rrset for name in sorted(names) for rrset in self.read_name(zone, name)]
                return LiveRecords(found)
            listed[zone.id] = self.list_zone(zone)
        return LiveRecords(r for r in listed[zone.id] if normalize_name(str(r["Name"])) in names)

    def submit(self, zone: HostedZone, changes: Sequence[Change]) -> int:
        """Send the changes: one request per zone unless Route 53's limits force more.

        Returns the number of requests made. Does not wait for the change to be INSYNC.
        """
        batches = split_batches(changes)
        for batch in batches:
            request: dict[str, Any] = {"Changes": [change.to_api() for change in batch]}
            if self._comment:
                request["Comment"] = self._comment[:MAX_COMMENT]
            hosts = [change.host for change in batch]
            send = partial(
                self._client.change_resource_record_sets, HostedZoneId=zone.id, ChangeBatch=request
            )
            self._call("changing records", zone.name, hosts, send)
        return len(batches)
