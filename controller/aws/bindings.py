"""TargetGroupBindings' AWS side: the target group a binding names, and its targets.

A binding's target group was made elsewhere (Terraform, another cluster) and carries none of
our tags, so it is found by what the binding says: its ARN (DescribeTargetGroups by ARN) or
its name (by name). Its targets are kept equal to the desired ones by difference, as our own
target groups' are (`targets.sync_target_group`: one DescribeTargetHealth, then only the
difference registered or deregistered); with `owned` (a multi-cluster target group) only
targets the binding registered itself are ever deregistered. The inbound rules its
`networking` asks for are `binding_networking`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from controller.aws.binding_networking import BindingNetworking
from controller.aws.clients import AwsClients
from controller.aws.discovery import Discovery
from controller.aws.errors import AwsError, about, has_code
from controller.aws.live import describe_tags
from controller.aws.targets import sync_target_group
from controller.limits import DEFAULT_RULES_PER_SG
from controller.model.binding import BoundTargetGroup, Permission
from controller.model.stack import TAG_CLUSTER, TAG_STACK, Target

# How AWS answers for a target group that is not there (a malformed ARN: ValidationError).
MISSING_CODES = ("TargetGroupNotFound", "ValidationError")


class UnknownTargetGroupError(AwsError):
    """The binding's target group does not exist (or its ARN is malformed): the binding's
    owner must fix the spec, or create the target group."""


class BindingAws:
    """What the kube layer's binding reconciler asks of AWS."""

    def __init__(
        self,
        clients: AwsClients,
        cluster: str,
        *,
        discovery: Discovery | None = None,
        max_targets: int = 0,
        rules_limit: int = DEFAULT_RULES_PER_SG,
    ) -> None:
        self._clients = clients
        self._cluster = cluster
        self._max_targets = max_targets  # per target group, as for our own (0: no limit)
        self.networking = BindingNetworking(
            clients,
            cluster,
            discovery or Discovery(clients, cluster),
            rules_limit=rules_limit,
        )

    def target_group(self, arn: str | None, name: str | None) -> BoundTargetGroup:
        """The target group by ARN (preferred, as in LBC) or by name; one that does not
        exist raises `UnknownTargetGroupError`."""
        what = f"target group {arn or name}"
        elbv2: Any = self._clients.elbv2
        groups: list[Any] = []
        with about(what):
            try:
                if arn:
                    groups = elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"]
                else:
                    groups = elbv2.describe_target_groups(Names=[name or ""])["TargetGroups"]
            except ClientError as error:
                if not has_code(error, *MISSING_CODES):
                    raise
        if not groups:
            raise UnknownTargetGroupError(
                what,
                "TargetGroupNotFound",
                f"no target group {'with ARN' if arn else 'named'} {arn or name} in "
                f"{self._clients.region}",
                retryable=False,
            )
        tg = groups[0]
        tags = describe_tags(self._clients, [tg["TargetGroupArn"]]).get(tg["TargetGroupArn"], {})
        stack = tags.get(TAG_STACK) if tags.get(TAG_CLUSTER) == self._cluster else None
        return BoundTargetGroup(
            arn=str(tg["TargetGroupArn"]),
            name=str(tg.get("TargetGroupName") or ""),
            target_type=str(tg.get("TargetType") or "instance"),
            ip_address_type=str(tg.get("IpAddressType") or "ipv4"),
            vpc_id=str(tg.get("VpcId") or ""),
            protocol=str(tg["Protocol"]) if tg.get("Protocol") else None,
            stack=stack,
        )

    def sync_targets(
        self, arn: str, desired: frozenset[Target], *, owned: frozenset[Target] | None = None
    ) -> int:
        """Make the target group hold `desired`; with `owned`, deregister only those of its
        other targets. Returns the number of mutating calls."""
        return sync_target_group(
            self._clients, arn, desired, self._max_targets, deregister_only=owned
        )

    def release_targets(self, arn: str, *, owned: frozenset[Target] | None = None) -> int:
        """Deregister every target of the group (with `owned`: only those); a target group
        that is gone already has none. Returns the number of mutating calls."""
        try:
            return sync_target_group(self._clients, arn, frozenset(), deregister_only=owned)
        except AwsError as error:
            if error.code in MISSING_CODES:
                return 0
            raise

    def sync_networking(
        self,
        binding: str,
        hosts: frozenset[str],
        permissions: frozenset[Permission],
        *,
        pending: Mapping[str, frozenset[Permission]],
    ) -> int:
        """`BindingNetworking.reconcile`; returns the number of mutating calls."""
        return self.networking.reconcile(binding, hosts, permissions, pending=pending)

    def release_networking(
        self,
        binding: str,
        hosts: frozenset[str],
        *,
        pending: Mapping[str, frozenset[Permission]],
    ) -> int:
        """`BindingNetworking.release`; returns the number of mutating calls."""
        return self.networking.release(binding, hosts, pending=pending)
