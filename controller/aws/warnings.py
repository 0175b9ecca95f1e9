"""What a deploy that succeeded still has to tell the Ingress's owner.

Each warning carries its own Event reason, so `kubectl get events` can be filtered by what
happened: a record left alone because someone else owns it is not the same news as a load
balancer replaced in place. The incumbent has no reason for any of these (it neither keeps
DNS nor replaces a load balancer under a fixed name), so the names are ours, in its style.
"""

from __future__ import annotations

from dataclasses import dataclass

# A host's record exists and belongs to someone else (another owner's TXT, no TXT at all, or
# the host's other alias type held by someone else): left as it is.
DNS_RECORD_NOT_OWNED = "DNSRecordNotOwned"
# A host's record cannot be made or kept: no hosted zone fits it, its ownership record's name
# is invalid, a CNAME holds the name, or it has a routing policy we do not manage.
DNS_RECORD_SKIPPED = "DNSRecordSkipped"
# ip targets with no node security groups given or found: the backend group cannot be let in.
NODE_SECURITY_GROUPS_UNKNOWN = "NodeSecurityGroupsUnknown"
# A scheme change under a fixed load-balancer-name: the old one had to go before the new one.
LOAD_BALANCER_REPLACED = "LoadBalancerReplaced"

# shield-advanced-protection: true in an account without a Shield Advanced subscription.
SHIELD_NOT_SUBSCRIBED = "ShieldNotSubscribed"

REASONS = (
    DNS_RECORD_NOT_OWNED,
    DNS_RECORD_SKIPPED,
    NODE_SECURITY_GROUPS_UNKNOWN,
    LOAD_BALANCER_REPLACED,
    SHIELD_NOT_SUBSCRIBED,
)


@dataclass(frozen=True)
class DeployWarning:
    """One warning: the Event reason it is reported under, and the message naming what."""

    reason: str
    message: str

    def __str__(self) -> str:
        return self.message
