"""The `Stack` of one assembled group: load balancer, managed security group, target groups,
listeners with their rules, and DNS records.

`assemble` decides which members are in and merges their settings (`GroupSettings`) and
their rules (`Contribution`s); this module turns those into the stack, with LBC's defaults
where nothing was set: a 404 fixed response when no member owns the default backend, the
managed security group open to the listener ports from `inbound-cidrs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from controller.config import ModelDefaults
from controller.model.backends import stack_tags
from controller.model.dns import group_dns_records
from controller.model.ingress import ParsedIngress, RouteRule
from controller.model.mtls import MutualAuthEntry
from controller.model.names import load_balancer_name, security_group_name
from controller.model.redirects import omit_pointless_rules
from controller.model.stack import (
    LOAD_BALANCER_RESOURCE_ID,
    MANAGED_SG_RESOURCE_ID,
    Action,
    BuildError,
    DnsRecord,
    FixedResponseAction,
    FixedResponseConfig,
    IpamPools,
    Listener,
    LoadBalancer,
    ManagedSecurityGroup,
    MinimumLoadBalancerCapacity,
    ModelError,
    MutualAuthentication,
    RedirectAction,
    RedirectConfig,
    Rule,
    SecurityGroupIngress,
    SecurityGroupPrefixListIngress,
    ShieldProtection,
    Stack,
    TargetGroup,
    WafClassicAssociation,
    WebAclAssociation,
)
from controller.model.values import NONE, SubnetTagFilter

MANAGED_SG_DESCRIPTION = "[k8s] Managed SecurityGroup for LoadBalancer"
NOT_FOUND = FixedResponseAction(
    fixed_response_config=FixedResponseConfig(status_code="404", content_type="text/plain")
)


@dataclass
class GroupSettings:
    """Group-wide settings merged from the members accepted so far, with who set what."""

    exclusive: dict[str, tuple[Any, str]] = field(default_factory=dict)
    tags: dict[str, tuple[str, str]] = field(default_factory=dict)
    ports: dict[int, tuple[str, str]] = field(default_factory=dict)  # port -> (protocol, owner)
    certificates: dict[int, list[str]] = field(default_factory=dict)
    default_backend: str | None = None
    # listener-attributes by port: key -> (value, owner)
    listener_attributes: dict[int, dict[str, tuple[str, str]]] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.exclusive[name][0] if name in self.exclusive else default

    def sni_certificate_count(self) -> int:
        return sum(max(0, len(certs) - 1) for certs in self.certificates.values())


@dataclass(frozen=True)
class Contribution:
    """What one accepted member puts on the listeners, given the group's settings."""

    member: ParsedIngress
    rules: dict[int, tuple[RouteRule, ...]]  # by port
    default_actions: dict[int, tuple[Action, ...]]  # by port, if it owns the default backend
    target_groups: tuple[str, ...]  # ids its rules and default actions reference


def group_stack(
    *,
    stack_id: str,
    explicit: bool,
    settings: GroupSettings,
    accepted: list[ParsedIngress],
    contributions: list[Contribution],
    defaults: ModelDefaults,
) -> Stack:
    scheme: str = settings.get("scheme", defaults.scheme)
    ip_type: str = settings.get("ip-address-type", defaults.ip_address_type)
    user_tags = {tag: value for tag, (value, _) in settings.tags.items()}
    security_groups: tuple[str, ...] | None = settings.get("security-groups")
    subnets = settings.get("subnets")
    by_tags = subnets if isinstance(subnets, SubnetTagFilter) else None
    try:
        return Stack(
            id=stack_id,
            ingresses=tuple(m.key for m in accepted),
            load_balancer=LoadBalancer(
                name=settings.get("load-balancer-name")
                or load_balancer_name(defaults.cluster_name, stack_id, explicit, scheme),
                scheme=scheme,
                ip_address_type=ip_type,
                subnets=None if by_tags else subnets,
                subnet_tags=by_tags.as_dict() if by_tags else None,
                security_groups=security_groups,
                attributes=settings.get("load-balancer-attributes", {}),
                tags=stack_tags(defaults, stack_id, LOAD_BALANCER_RESOURCE_ID, user_tags),
                **_add_ons(settings),
                **_addresses_and_capacity(settings),
            ),
            security_group=None
            if security_groups is not None
            else _managed_security_group(
                stack_id=stack_id,
                explicit=explicit,
                settings=settings,
                ip_type=ip_type,
                user_tags=user_tags,
                defaults=defaults,
            ),
            backend_security_group=security_groups is None
            or bool(settings.get("manage-backend-security-group-rules", False)),
            target_groups=_target_groups(contributions),
            listeners=_listeners(settings, contributions, defaults),
            dns_records=_dns_records(accepted, ip_type) if defaults.manage_dns else (),
        )
    except ValidationError as err:  # a builder bug, not bad input: say so, precisely
        raise ModelError(
            [BuildError(ingress=stack_id, field="(stack)", message=f"internal error: {err}")]
        ) from err


def _add_ons(settings: GroupSettings) -> dict[str, Any]:
    """WAF and Shield, each only when a member asks (`none`/`false` to remove): a load
    balancer whose Ingresses say nothing keeps what was set on it by hand or by LBC."""
    add_ons: dict[str, Any] = {}
    arn, name = settings.get("wafv2-acl-arn"), settings.get("wafv2-acl-name")
    wafv2 = arn or name  # LBC: the ARN wins
    if wafv2 is not None:
        add_ons["wafv2"] = (
            WebAclAssociation()
            if wafv2 == NONE
            else WebAclAssociation(arn=arn)
            if arn
            else WebAclAssociation(name=name)
        )
    classic = settings.get("waf-acl-id") or settings.get("web-acl-id")
    if classic is not None:
        add_ons["waf_classic"] = WafClassicAssociation(
            web_acl_id=None if classic == NONE else classic
        )
    shield = settings.get("shield-advanced-protection")
    if shield is not None:
        add_ons["shield_advanced"] = ShieldProtection(enabled=shield)
    return add_ons


def _addresses_and_capacity(settings: GroupSettings) -> dict[str, Any]:
    """The customer-owned and IPAM address pools and the LCU reservation, when asked for."""
    found: dict[str, Any] = {}
    coip = settings.get("customer-owned-ipv4-pool")
    if coip is not None:
        found["customer_owned_ipv4_pool"] = coip
    ipam = settings.get("ipam-ipv4-pool-id")
    if ipam is not None:
        found["ipam_pools"] = IpamPools(ipv4_ipam_pool_id=ipam)
    units = settings.get("minimum-load-balancer-capacity")
    if units is not None:
        found["minimum_load_balancer_capacity"] = MinimumLoadBalancerCapacity(capacity_units=units)
    return found


def _managed_security_group(
    *,
    stack_id: str,
    explicit: bool,
    settings: GroupSettings,
    ip_type: str,
    user_tags: dict[str, str],
    defaults: ModelDefaults,
) -> ManagedSecurityGroup:
    prefix_lists: tuple[str, ...] = settings.get("security-group-prefix-lists", ())
    default_cidrs = ("0.0.0.0/0", "::/0") if ip_type.startswith("dualstack") else ("0.0.0.0/0",)
    # As LBC: with prefix lists and no inbound-cidrs, no CIDR is opened (not 0.0.0.0/0).
    cidrs: tuple[str, ...] = settings.get("inbound-cidrs", () if prefix_lists else default_cidrs)
    return ManagedSecurityGroup(
        name=security_group_name(defaults.cluster_name, stack_id, explicit),
        description=MANAGED_SG_DESCRIPTION,
        ingress=tuple(
            SecurityGroupIngress(port=port, cidr=cidr)
            for port in sorted(settings.ports)
            for cidr in cidrs
        ),
        tags=stack_tags(defaults, stack_id, MANAGED_SG_RESOURCE_ID, user_tags),
        prefix_list_ingress=tuple(
            SecurityGroupPrefixListIngress(port=port, prefix_list_id=prefix_list)
            for port in sorted(settings.ports)
            for prefix_list in prefix_lists
        ),
    )


def _target_groups(contributions: list[Contribution]) -> tuple[TargetGroup, ...]:
    found: dict[str, TargetGroup] = {}
    for part in contributions:
        for tg_id in part.target_groups:
            found.setdefault(tg_id, part.member.target_groups[tg_id])
    return tuple(found.values())


def _listeners(
    settings: GroupSettings, contributions: list[Contribution], defaults: ModelDefaults
) -> tuple[Listener, ...]:
    redirect_port: int | None = settings.get("ssl-redirect")
    listeners: list[Listener] = []
    for port, (protocol, _) in sorted(settings.ports.items()):
        # Redirecting listeners keep their attributes too, as in LBC.
        attributes = {
            key: value
            for key, (value, _) in sorted(settings.listener_attributes.get(port, {}).items())
        }
        if protocol == "HTTP" and redirect_port is not None:
            listeners.append(
                Listener(
                    port=port,
                    protocol="HTTP",
                    default_actions=(
                        RedirectAction(
                            redirect_config=RedirectConfig(
                                protocol="HTTPS", port=str(redirect_port), status_code="HTTP_301"
                            )
                        ),
                    ),
                    attributes=attributes,
                )
            )
            continue
        on_port = [c for c in contributions if port in c.rules]
        placed = [(c.member.key, r) for c in on_port for r in c.rules[port]]
        rules = [
            Rule(
                priority=priority,
                conditions=rule.conditions,
                actions=rule.actions,
                ingress=member_key,
                transforms=rule.transforms,
            )
            for priority, (member_key, rule) in enumerate(
                omit_pointless_rules(port, protocol, placed), start=1
            )
        ]
        default_actions = next(
            (c.default_actions[port] for c in on_port if port in c.default_actions), (NOT_FOUND,)
        )
        https = protocol == "HTTPS"
        certificates = tuple(settings.certificates.get(port, ())) if https else ()
        # As LBC: each member without certificate-arn has the certificates of its own rule
        # and TLS hosts discovered, whatever the other members set.
        hosts_of: dict[str, tuple[str, ...]] = {}
        if https:
            hosts_of = {
                c.member.key: tuple(sorted({*c.member.rule_hosts, *c.member.tls_hosts}))
                for c in on_port
                if not c.member.certificates
            }
            hosts_of = {key: hosts for key, hosts in sorted(hosts_of.items()) if hosts}
        listeners.append(
            Listener(
                port=port,
                protocol=protocol,
                ssl_policy=settings.get("ssl-policy", defaults.ssl_policy) if https else None,
                certificates=certificates,
                certificate_hosts=tuple(sorted({h for hs in hosts_of.values() for h in hs})),
                certificate_hosts_of=hosts_of,
                default_actions=default_actions,
                rules=tuple(rules),
                attributes=attributes,
                mutual_authentication=_mutual_authentication(settings, port) if https else None,
            )
        )
    return tuple(listeners)


def _mutual_authentication(settings: GroupSettings, port: int) -> MutualAuthentication | None:
    """The listener's mTLS when the group's mutual-authentication names its port."""
    entry: MutualAuthEntry | None = (settings.get("mutual-authentication") or {}).get(port)
    if entry is None:
        return None
    return MutualAuthentication(
        mode=entry.mode,
        trust_store=entry.trust_store,
        ignore_client_certificate_expiry=entry.ignore_client_certificate_expiry,
        advertise_trust_store_ca_names=entry.advertise_trust_store_ca_names,
    )


def _dns_records(accepted: list[ParsedIngress], ip_type: str) -> tuple[DnsRecord, ...]:
    # Rule hosts and external-dns hostnames, with their routing (`controller.model.dns`); the
    # builder reports the warnings of the same layout.
    records, _ = group_dns_records(accepted, ip_type)
    return records
