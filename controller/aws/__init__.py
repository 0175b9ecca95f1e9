"""The AWS layer: makes AWS hold what a `Stack` describes (ELBv2, EC2, ACM, Route 53).

`Deployer` is the entry point the kube layer calls; `AwsClients` is the one boto3 session and
client factory (rate limits, retries and the call counter); `Route53Dns` keeps the alias
records; `AwsError` is the only exception the layer lets out for AWS failures. Only this
package (and the sandbox, which seeds moto) imports boto3; it never reads Kubernetes.
"""

from __future__ import annotations

from controller.aws.clients import AwsClients, CallCounter, WritesFencedError
from controller.aws.deployer import Deployer, DeployResult
from controller.aws.discovery import Discovery
from controller.aws.dns.zones import ZoneFilters
from controller.aws.errors import AwsError
from controller.aws.route53 import Route53Dns
from controller.aws.steps import AddOns, BackendGroup, DnsHook
from controller.aws.warnings import DeployWarning
from controller.config import Settings

__all__ = [
    "AwsClients",
    "AwsError",
    "CallCounter",
    "DeployResult",
    "DeployWarning",
    "Deployer",
    "DnsHook",
    "Route53Dns",
    "WritesFencedError",
    "build_deployer",
]


def zone_filters(settings: Settings) -> ZoneFilters:
    """The Route 53 filters of the settings (external-dns's flags)."""
    tags = []
    for tag in settings.aws_zone_tags:
        key, sep, value = tag.partition("=")
        tags.append((key.strip(), value.strip() if sep else None))
    return ZoneFilters(
        domains=tuple(settings.domain_filter),
        exclude_domains=tuple(settings.exclude_domains),
        zone_ids=tuple(settings.zone_id_filter),
        zone_type=settings.aws_zone_type,
        zone_tags=tuple(tags),
    )


def build_deployer(settings: Settings, clients: AwsClients | None = None) -> Deployer:
    """The deployer `run` uses: one client factory, DNS on unless the settings turn it off."""
    clients = clients or AwsClients(
        settings.aws_region, endpoint_url=settings.aws_endpoint_url, debug=settings.aws_debug
    )
    clients.external_tags = frozenset(settings.external_managed_tags)
    dns = (
        Route53Dns(
            clients.route53,
            settings.cluster_name,
            filters=zone_filters(settings),
            upsert_only=settings.dns_policy == "upsert-only",
        )
        if settings.manage_dns
        else None
    )
    return Deployer(
        clients,
        settings.cluster_name,
        dns=dns,
        rules_per_sg_limit=settings.rules_per_sg_limit,
        discovery=Discovery(
            clients,
            settings.cluster_name,
            allowed_authorities=settings.allowed_certificate_authority_arns,
        ),
        add_ons=AddOns(
            waf_classic=settings.enable_waf,
            wafv2=settings.enable_wafv2,
            shield=settings.enable_shield,
        ),
        max_targets_per_target_group=settings.max_targets_per_target_group,
        backend=BackendGroup(
            shared=settings.enable_backend_security_group, given=settings.backend_security_group
        ),
    )
