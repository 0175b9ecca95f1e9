"""Load balancers: create with tags (never waiting for `active`), change subnets, security
groups, IP address type, IPAM pool, attributes and tags in place only when they differ, and
the LCU reservation (`CapacityReservations`); delete.

A customer-owned IPv4 pool (Outposts) is given when the load balancer is made; AWS cannot
change it later, and LBC neither replaces the load balancer for it: the deployer warns. The
IPAM pool is removed before any other change and set after them all, as LBC does (a pool
must go before the IP address type may change).

Names are unique per region, but moto (unlike AWS) will happily make a second load balancer
with a taken name, and the tagging API may not show a load balancer made a moment ago; so
before creating, we look the name up, adopt it when it carries our tags, and refuse (naming
it) when it does not. A scheme change needs a new load balancer: that is the deployer's call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from controller.aws.clients import AwsClients
from controller.aws.errors import about, has_code
from controller.aws.live import LiveLoadBalancer, describe_tags
from controller.aws.tags import changed_attributes, sync_elbv2_tags, to_aws
from controller.model.stack import LoadBalancer


class LoadBalancers:
    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    @property
    def _elbv2(self) -> Any:
        return self._clients.elbv2

    def find_by_name(self, name: str) -> LiveLoadBalancer | None:
        with about(f"load balancer {name}"):
            try:
                found = self._elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
            except ClientError as error:
                if has_code(error, "LoadBalancerNotFound"):
                    return None
                raise
            if not found:
                return None
            data = dict(found[0])
            tags = describe_tags(self._clients, [data["LoadBalancerArn"]]).get(
                data["LoadBalancerArn"], {}
            )
        return LiveLoadBalancer(data, tags)

    def create(
        self,
        lb: LoadBalancer,
        subnets: tuple[str, ...],
        security_groups: tuple[str, ...],
        tags: dict[str, str],
    ) -> LiveLoadBalancer:
        """A new load balancer; the deployer has checked the name is free."""
        what = f"load balancer {lb.name}"
        with about(what):
            params: dict[str, Any] = {
                "Name": lb.name,
                "Subnets": list(subnets),
                "SecurityGroups": list(security_groups),
                "Scheme": lb.scheme,
                "Type": "application",
                "IpAddressType": lb.ip_address_type,
                "Tags": to_aws(tags),
            }
            if lb.customer_owned_ipv4_pool is not None:
                params["CustomerOwnedIpv4Pool"] = lb.customer_owned_ipv4_pool
            if lb.ipam_pools is not None:
                params["IpamPools"] = {"Ipv4IpamPoolId": lb.ipam_pools.ipv4_ipam_pool_id}
            response = self._elbv2.create_load_balancer(**params)
            data = dict(response["LoadBalancers"][0])
            if lb.attributes:
                self._elbv2.modify_load_balancer_attributes(
                    LoadBalancerArn=data["LoadBalancerArn"],
                    Attributes=[{"Key": k, "Value": v} for k, v in sorted(lb.attributes.items())],
                )
        return LiveLoadBalancer(data, dict(tags))

    def update(
        self,
        lb: LoadBalancer,
        live: LiveLoadBalancer,
        subnets: tuple[str, ...],
        security_groups: tuple[str, ...],
        tags: dict[str, str],
    ) -> None:
        arn = live.arn
        have_pool = ipam_pool_of(live.data)
        want_pool = lb.ipam_pools.ipv4_ipam_pool_id if lb.ipam_pools is not None else None
        with about(f"load balancer {live.data.get('LoadBalancerName')}"):
            if have_pool is not None and want_pool is None:
                self._elbv2.modify_ip_pools(LoadBalancerArn=arn, RemoveIpamPools=["ipv4"])
            have_subnets = {z["SubnetId"] for z in live.data.get("AvailabilityZones") or ()}
            if have_subnets != set(subnets):
                self._elbv2.set_subnets(LoadBalancerArn=arn, Subnets=list(subnets))
            if set(live.data.get("SecurityGroups") or ()) != set(security_groups):
                self._elbv2.set_security_groups(
                    LoadBalancerArn=arn, SecurityGroups=list(security_groups)
                )
            if live.data.get("IpAddressType") != lb.ip_address_type:
                self._elbv2.set_ip_address_type(
                    LoadBalancerArn=arn, IpAddressType=lb.ip_address_type
                )
            if lb.attributes:
                current = self._elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)
                changed = changed_attributes(current["Attributes"], lb.attributes)
                if changed:
                    self._elbv2.modify_load_balancer_attributes(
                        LoadBalancerArn=arn, Attributes=changed
                    )
            sync_elbv2_tags(self._elbv2, arn, live.tags, tags, self._clients.external_tags)
            if want_pool is not None and want_pool != have_pool:
                self._elbv2.modify_ip_pools(
                    LoadBalancerArn=arn, IpamPools={"Ipv4IpamPoolId": want_pool}
                )

    def delete(self, arn: str) -> None:
        """Delete (its listeners and rules go with it); turns deletion protection off first
        if AWS refuses for that reason, as LBC does once the Ingress no longer asks for it."""
        with about(f"load balancer {arn}"):
            try:
                self._elbv2.delete_load_balancer(LoadBalancerArn=arn)
            except ClientError as error:
                if has_code(error, "LoadBalancerNotFound"):
                    return
                if not has_code(error, "OperationNotPermitted"):
                    raise
                self._elbv2.modify_load_balancer_attributes(
                    LoadBalancerArn=arn,
                    Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}],
                )
                self._elbv2.delete_load_balancer(LoadBalancerArn=arn)


def ipam_pool_of(data: Mapping[str, Any]) -> str | None:
    """The IPv4 IPAM pool of a described load balancer, if it has one."""
    pool = (data.get("IpamPools") or {}).get("Ipv4IpamPoolId")
    return str(pool) if pool else None


@dataclass(frozen=True)
class Reservation:
    """A load balancer's LCU reservation as DescribeCapacityReservation gives it."""

    units: int | None  # None: no reservation
    pending: bool  # a change is still being provisioned: AWS refuses another until it ends
    failed: tuple[str, ...]  # zones whose reservation failed, with AWS's reason


class CapacityReservations:
    """The LCU reservation of a load balancer (`minimum-load-balancer-capacity`)."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    def current(self, arn: str) -> Reservation:
        with about(f"capacity reservation of {arn}"):
            reply = self._clients.elbv2.describe_capacity_reservation(LoadBalancerArn=arn)
        zones = reply.get("CapacityReservationState") or ()
        minimum = reply.get("MinimumLoadBalancerCapacity")
        units = None
        if minimum is not None and minimum.get("CapacityUnits") is not None:
            units = int(minimum["CapacityUnits"])
        codes = [(z.get("AvailabilityZone", "?"), z.get("State") or {}) for z in zones]
        return Reservation(
            units=units or None,  # 0 or absent: none (LBC reads it so too)
            pending=any(state.get("Code") == "pending" for _, state in codes),
            failed=tuple(
                f"{zone}: {state.get('Reason') or 'failed'}"
                for zone, state in codes
                if state.get("Code") == "failed"
            ),
        )

    def reserve(self, arn: str, units: int) -> None:
        with about(f"capacity reservation of {arn}"):
            self._clients.elbv2.modify_capacity_reservation(
                LoadBalancerArn=arn, MinimumLoadBalancerCapacity={"CapacityUnits": units}
            )

    def reset(self, arn: str) -> None:
        with about(f"capacity reservation of {arn}"):
            self._clients.elbv2.modify_capacity_reservation(
                LoadBalancerArn=arn, ResetCapacityReservation=True
            )
