"""Target groups: create with tags, modify health checks, attributes and tags in place, and
say when a change needs a new target group.

Target type, protocol, protocol version, IP address type and target control port cannot
change on AWS (LBC replaces the target group for the first three and the control port, and
so do we, for all five; ModifyTargetGroup has no TargetControlPort). Attributes are a
map diff over the keys the model specifies (as LBC: removing a key does not reset it), so a
target group without attributes costs no DescribeTargetGroupAttributes call at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping
from typing import Any

from botocore.exceptions import ClientError

from controller.aws.clients import AwsClients
from controller.aws.errors import about, has_code, translate
from controller.aws.live import LiveTargetGroup, describe_target_groups
from controller.aws.retry import delete_waiting
from controller.aws.tags import (
    carries_stack_tags,
    changed_attributes,
    from_aws,
    sync_elbv2_tags,
    to_aws,
)
from controller.model.stack import TAG_RESOURCE, TargetGroup

# Fields AWS will not modify in place.
IMMUTABLE = ("TargetType", "Protocol", "ProtocolVersion", "IpAddressType")


def health_check(tg: TargetGroup) -> dict[str, Any]:
    """The health check settings in CreateTargetGroup/ModifyTargetGroup shape."""
    check = tg.health_check
    matcher = (
        {"GrpcCode": check.matcher}
        if tg.protocol_version == "GRPC"
        else {"HttpCode": check.matcher}
    )
    return {
        "HealthCheckEnabled": True,
        "HealthCheckProtocol": check.protocol,
        "HealthCheckPort": check.port,
        "HealthCheckPath": check.path,
        "HealthCheckIntervalSeconds": check.interval_seconds,
        "HealthCheckTimeoutSeconds": check.timeout_seconds,
        "HealthyThresholdCount": check.healthy_threshold_count,
        "UnhealthyThresholdCount": check.unhealthy_threshold_count,
        "Matcher": matcher,
    }


def immutable_props(tg: TargetGroup) -> dict[str, str]:
    return {
        "TargetType": tg.target_type,
        "Protocol": tg.protocol,
        "ProtocolVersion": tg.protocol_version,
        "IpAddressType": tg.ip_address_type,
    }


def matches_immutable(tg: TargetGroup, live: Mapping[str, Any]) -> bool:
    """Whether a live target group can become `tg` without being replaced."""
    want = immutable_props(tg)
    return (
        all(
            str(live.get(key, want[key] if key == "IpAddressType" else "")) == want[key]
            for key in IMMUTABLE
        )
        and live.get("TargetControlPort") == tg.target_control_port
    )


def fresh_name(name: str, taken: Collection[str]) -> str:
    """`name`, or a stable alternative when a target group being replaced still holds it.

    A replacement target group must exist beside the one it replaces (rules move over before
    the old one goes), and names are unique per region.
    """
    if name not in taken:
        return name
    suffix = hashlib.sha256(f"{name}/replacement".encode()).hexdigest()[:10]
    alternative = f"{name[: max(1, len(name) - 11)].rstrip('-')}-{suffix}"
    return alternative if alternative not in taken else f"{alternative[:-1]}x"


class TargetGroups:
    def __init__(
        self, clients: AwsClients, cluster: str, stack_id: str, sleep: Callable[[float], None]
    ) -> None:
        self._clients = clients
        self._cluster = cluster
        self._stack_id = stack_id
        self._sleep = sleep

    @property
    def _elbv2(self) -> Any:
        return self._clients.elbv2

    def create(self, tg: TargetGroup, name: str, vpc_id: str, tags: dict[str, str]) -> str:
        what = f"target group {name} ({tg.id})"
        params: dict[str, Any] = {
            "Name": name,
            "Protocol": tg.protocol,
            "ProtocolVersion": tg.protocol_version,
            "Port": tg.port,
            "VpcId": vpc_id,
            "TargetType": tg.target_type,
            "IpAddressType": tg.ip_address_type,
            **health_check(tg),
            "Tags": to_aws(tags),
        }
        if tg.target_control_port is not None:
            params["TargetControlPort"] = tg.target_control_port
        with about(what):
            try:
                arn = str(
                    self._elbv2.create_target_group(**params)["TargetGroups"][0]["TargetGroupArn"]
                )
            except ClientError as error:
                if not has_code(error, "DuplicateTargetGroupName"):
                    raise
                # Ours if it carries our tags (the tag lookup missed it, or a create whose
                # reply was lost made it); else not ours to touch. Adopted, it gets what a
                # create would have set: the deploy that follows counts as done.
                live = self._adopt_by_name(name, error, what)
                self.update(tg, live, tags)
                return live.arn
            if tg.attributes:
                self._elbv2.modify_target_group_attributes(
                    TargetGroupArn=arn,
                    Attributes=[{"Key": k, "Value": v} for k, v in sorted(tg.attributes.items())],
                )
        return arn

    def _adopt_by_name(self, name: str, error: ClientError, what: str) -> LiveTargetGroup:
        found = self._elbv2.describe_target_groups(Names=[name])["TargetGroups"]
        tags = (
            from_aws(
                self._elbv2.describe_tags(ResourceArns=[found[0]["TargetGroupArn"]])[
                    "TagDescriptions"
                ][0].get("Tags")
            )
            if found
            else {}
        )
        if not found or not carries_stack_tags(tags, self._cluster, self._stack_id):
            raise translate(error, what) from error
        return LiveTargetGroup(dict(found[0]), tags)

    def update(self, tg: TargetGroup, live: LiveTargetGroup, tags: dict[str, str]) -> None:
        """Bring health check, attributes and tags in line; no call when they already are."""
        arn = live.arn
        with about(f"target group {live.data.get('TargetGroupName')} ({tg.id})"):
            want = health_check(tg)
            if any(live.data.get(key) != value for key, value in want.items()):
                self._elbv2.modify_target_group(TargetGroupArn=arn, **want)
            if tg.attributes:
                current = self._elbv2.describe_target_group_attributes(TargetGroupArn=arn)
                changed = changed_attributes(current["Attributes"], tg.attributes)
                if changed:
                    self._elbv2.modify_target_group_attributes(
                        TargetGroupArn=arn, Attributes=changed
                    )
            sync_elbv2_tags(self._elbv2, arn, live.tags, tags, self._clients.external_tags)

    def delete(self, arn: str, timeout: float = 120.0) -> None:
        """Delete a target group; gone is fine; `ResourceInUse` (an LB still letting go) waits."""
        delete_waiting(
            lambda: self._elbv2.delete_target_group(TargetGroupArn=arn),
            what=f"target group {arn}",
            gone="TargetGroupNotFound",
            busy="ResourceInUse",
            timeout=timeout,
            sleep=self._sleep,
            first=1.0,
        )

    def describe(self, arns: list[str]) -> list[dict[str, Any]]:
        return describe_target_groups(self._clients, arns)


def arn_by_name(clients: AwsClients, name: str) -> str:
    """The ARN of a target group an Ingress names (`targetGroupName` in an action)."""
    with about(f"target group {name}"):
        found = clients.elbv2.describe_target_groups(Names=[name])["TargetGroups"]
    return str(found[0]["TargetGroupArn"])


def resource_id(live: LiveTargetGroup) -> str:
    return live.tags.get(TAG_RESOURCE, "")
