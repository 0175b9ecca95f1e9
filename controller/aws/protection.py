"""The load balancer's add-ons: WAFv2 and WAF Classic web ACL associations, and Shield
Advanced protection, as raw AWS calls.

Each is read once per deploy that manages it (GetWebACLForResource, DescribeProtection) and
changed only when it differs. Shield protections are recognised as ours by their name, which
is LBC's, so a cluster that rolls back to LBC still owns them; one named otherwise was made by
someone else and is never deleted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from controller.aws.clients import AwsClients
from controller.aws.errors import AwsError, about, has_code

# LBC's names for the protections it makes, current and legacy; we make the current one.
SHIELD_PROTECTION_NAME = "managed by aws-load-balancer-controller"
MANAGED_PROTECTION_NAMES = frozenset(
    {SHIELD_PROTECTION_NAME, "managed by aws-alb-ingress-controller"}
)
# How long a web ACL's name -> ARN and the Shield subscription state are trusted (LBC caches
# both too); neither changes under a running cluster more than rarely.
CACHE_SECONDS = 300.0


class WebAcls:
    """WAFv2 (regional) associations of load balancers."""

    def __init__(self, clients: AwsClients, clock: Callable[[], float] = time.monotonic) -> None:
        self._clients = clients
        self._clock = clock
        self._arn_of: dict[str, tuple[str, float]] = {}

    def associated(self, lb_arn: str) -> str | None:
        """The ARN of the web ACL the load balancer is associated with, if any."""
        with about(f"WAFv2 association of {lb_arn}"):
            try:
                reply = self._clients.wafv2.get_web_acl_for_resource(ResourceArn=lb_arn)
            except ClientError as error:
                if has_code(error, "WAFNonexistentItemException"):
                    return None
                raise
        acl = reply.get("WebACL")
        return str(acl["ARN"]) if acl else None

    def associate(self, lb_arn: str, acl_arn: str) -> None:
        """Associate (replacing any other web ACL: AWS allows one per load balancer)."""
        with about(f"WAFv2 web ACL {acl_arn} on {lb_arn}"):
            self._clients.wafv2.associate_web_acl(WebACLArn=acl_arn, ResourceArn=lb_arn)

    def disassociate(self, lb_arn: str) -> None:
        with about(f"WAFv2 association of {lb_arn}"):
            self._clients.wafv2.disassociate_web_acl(ResourceArn=lb_arn)

    def arn_of(self, name: str) -> str:
        """The ARN of the regional web ACL named `name` (cached for `CACHE_SECONDS`)."""
        cached = self._arn_of.get(name)
        if cached is not None and self._clock() - cached[1] < CACHE_SECONDS:
            return cached[0]
        found: str | None = None
        params: dict[str, Any] = {"Scope": "REGIONAL", "Limit": 100}
        with about(f"WAFv2 web ACL {name}"):
            while found is None:
                reply = self._clients.wafv2.list_web_acls(**params)
                found = next(
                    (str(acl["ARN"]) for acl in reply.get("WebACLs", []) if acl["Name"] == name),
                    None,
                )
                if not reply.get("NextMarker"):
                    break
                params["NextMarker"] = reply["NextMarker"]
        if found is None:
            raise AwsError(
                f"WAFv2 web ACL {name}",
                "WAFNonexistentItemException",
                "no regional web ACL of this name in the region (wafv2-acl-name)",
                retryable=False,
            )
        self._arn_of[name] = (found, self._clock())
        return found


class WafClassicAcls:
    """WAF Classic (regional) associations of load balancers."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    def associated(self, lb_arn: str) -> str | None:
        """The ID of the WAF Classic web ACL the load balancer is associated with, if any."""
        with about(f"WAF Classic association of {lb_arn}"):
            reply = self._clients.wafregional.get_web_acl_for_resource(ResourceArn=lb_arn)
        summary = reply.get("WebACLSummary")
        return str(summary["WebACLId"]) if summary else None

    def associate(self, lb_arn: str, acl_id: str) -> None:
        with about(f"WAF Classic web ACL {acl_id} on {lb_arn}"):
            self._clients.wafregional.associate_web_acl(WebACLId=acl_id, ResourceArn=lb_arn)

    def disassociate(self, lb_arn: str) -> None:
        with about(f"WAF Classic association of {lb_arn}"):
            self._clients.wafregional.disassociate_web_acl(ResourceArn=lb_arn)


class ShieldProtections:
    """Shield Advanced protections of load balancers; only with a subscription."""

    def __init__(self, clients: AwsClients, clock: Callable[[], float] = time.monotonic) -> None:
        self._clients = clients
        self._clock = clock
        self._subscribed: tuple[bool, float] | None = None

    def subscribed(self) -> bool:
        """Whether the account has Shield Advanced (cached for `CACHE_SECONDS`)."""
        if self._subscribed is not None and self._clock() - self._subscribed[1] < CACHE_SECONDS:
            return self._subscribed[0]
        with about("Shield Advanced subscription"):
            state = self._clients.shield.get_subscription_state()["SubscriptionState"]
        self._subscribed = (state == "ACTIVE", self._clock())
        return state == "ACTIVE"

    def assume_unsubscribed(self) -> None:
        """Take the account as unsubscribed for `CACHE_SECONDS` (its state is unreadable)."""
        self._subscribed = (False, self._clock())

    def protection(self, lb_arn: str) -> tuple[str, str] | None:
        """The (ID, name) of the load balancer's protection, if it has one."""
        with about(f"Shield protection of {lb_arn}"):
            try:
                found = self._clients.shield.describe_protection(ResourceArn=lb_arn)
            except ClientError as error:
                if has_code(error, "ResourceNotFoundException"):
                    return None
                raise
        protection = found["Protection"]
        return str(protection["Id"]), str(protection.get("Name", ""))

    def protect(self, lb_arn: str) -> None:
        with about(f"Shield protection of {lb_arn}"):
            try:
                self._clients.shield.create_protection(
                    Name=SHIELD_PROTECTION_NAME, ResourceArn=lb_arn
                )
            except ClientError as error:
                # Made by an earlier attempt whose reply was lost: it is there, as wanted.
                if not has_code(error, "ResourceAlreadyExistsException"):
                    raise

    def unprotect(self, protection_id: str, lb_arn: str) -> None:
        with about(f"Shield protection of {lb_arn}"):
            try:
                self._clients.shield.delete_protection(ProtectionId=protection_id)
            except ClientError as error:
                if not has_code(error, "ResourceNotFoundException"):
                    raise
