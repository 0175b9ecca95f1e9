"""Load balancers: create with tags (never waiting for `active`), change subnets, security
groups, IP address type, attributes and tags in place only when they differ, delete.

Names are unique per region, but moto (unlike AWS) will happily make a second load balancer
with a taken name, and the tagging API may not show a load balancer made a moment ago; so
before creating, we look the name up, adopt it when it carries our tags, and refuse (naming
it) when it does not. A scheme change needs a new load balancer: that is the deployer's call.
"""

from __future__ import annotations

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
            response = self._elbv2.create_load_balancer(
                Name=lb.name,
                Subnets=list(subnets),
                SecurityGroups=list(security_groups),
                Scheme=lb.scheme,
                Type="application",
                IpAddressType=lb.ip_address_type,
                Tags=to_aws(tags),
            )
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
        with about(f"load balancer {live.data.get('LoadBalancerName')}"):
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
