"""What a deploy that succeeded still has to tell the Ingress's owner.

Each warning carries its own Event reason, so `kubectl get events` can be filtered by what
happened: a record left alone because someone else owns it is not the same news as a load
balancer replaced in place. The incumbent has no reason for any of these (it neither keeps
DNS nor replaces a load balancer under a fixed name), so the names are ours, in its style.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.model import dns as model_dns

# A host's record exists and belongs to someone else (another owner's TXT, no TXT at all, or
# the host's other alias type held by someone else): left as it is.
DNS_RECORD_NOT_OWNED = "DNSRecordNotOwned"
# A host's record cannot be made or kept (`DNS_RECORD_SKIPPED`, shared with the model, which
# reports an unusable external-dns hostname under it): no hosted zone fits it, the filters
# leave it out, its ownership record's name is invalid, a CNAME holds the name, or record
# sets of the name have a routing policy ours cannot join.
DNS_RECORD_SKIPPED = model_dns.DNS_RECORD_SKIPPED
# ip targets with no node security groups given or found: the backend group cannot be let in.
NODE_SECURITY_GROUPS_UNKNOWN = "NodeSecurityGroupsUnknown"
# A scheme change under a fixed load-balancer-name: the old one had to go before the new one.
LOAD_BALANCER_REPLACED = "LoadBalancerReplaced"

# shield-advanced-protection: true in an account without a Shield Advanced subscription.
SHIELD_NOT_SUBSCRIBED = "ShieldNotSubscribed"
# customer-owned-ipv4-pool differs from the pool the load balancer was made with: AWS cannot
# change it, and (as in LBC) the load balancer is not replaced for it.
CUSTOMER_OWNED_IPV4_POOL_UNCHANGED = "CustomerOwnedIpv4PoolUnchanged"
# minimum-load-balancer-capacity: AWS could not provision the reservation in some zone.
CAPACITY_RESERVATION_FAILED = "CapacityReservationFailed"

REASONS = (
    DNS_RECORD_NOT_OWNED,
    DNS_RECORD_SKIPPED,
    NODE_SECURITY_GROUPS_UNKNOWN,
    LOAD_BALANCER_REPLACED,
    SHIELD_NOT_SUBSCRIBED,
    CUSTOMER_OWNED_IPV4_POOL_UNCHANGED,
    CAPACITY_RESERVATION_FAILED,
)


@dataclass(frozen=True)
class DeployWarning:
    """One warning: the Event reason it is reported under, and the message naming what."""

    reason: str
    message: str

    def __str__(self) -> str:
        return self.message
