"""Settings from the environment (and `run` flags), with aws-load-balancer-controller's defaults.

Read once at start-up with pydantic-settings; nothing here does I/O beyond reading the
environment. The model builder gets the small `ModelDefaults` part, so it stays pure.
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from controller.limits import (
    DEFAULT_CERTIFICATES_PER_ALB,
    DEFAULT_LISTENERS_PER_ALB,
    DEFAULT_RULES_PER_ALB,
    DEFAULT_RULES_PER_SG,
    DEFAULT_TARGET_GROUPS_PER_ALB,
)

INGRESS_CLASS_CONTROLLER = "ingress.k8s.aws/alb"


class ModelDefaults(BaseModel):
    """What the model builder needs to know about the controller's configuration."""

    model_config = ConfigDict(frozen=True)

    cluster_name: str = "default"
    ingress_class: str = "alb"
    scheme: Literal["internal", "internet-facing"] = "internal"
    target_type: Literal["instance", "ip"] = "instance"
    ssl_policy: str = "ELBSecurityPolicy-2016-08"
    ip_address_type: Literal["ipv4", "dualstack", "dualstack-without-public-ipv4"] = "ipv4"
    # Extra tags on every resource; they win over the `tags` annotation, as in LBC.
    default_tags: dict[str, str] = Field(default_factory=dict)
    # Tag keys another tool manages: an Ingress or Service may not set them.
    external_managed_tags: tuple[str, ...] = ()
    # LBC's webhook checks, as build errors: no new use of the legacy class annotation or of
    # group.name (Ingresses that already carry a finalizer of ours keep working).
    disable_ingress_class_annotation: bool = False
    disable_ingress_group_name_annotation: bool = False
    manage_dns: bool = True
    # ip targets: endpoints on Nodes whose status is Unknown stay targets when none is ready.
    endpoints_fail_open: bool = True
    # AWS's adjustable per-ALB quotas, as this account has them.
    rules_per_alb: int = DEFAULT_RULES_PER_ALB
    target_groups_per_alb: int = DEFAULT_TARGET_GROUPS_PER_ALB
    listeners_per_alb: int = DEFAULT_LISTENERS_PER_ALB
    certificates_per_alb: int = DEFAULT_CERTIFICATES_PER_ALB


class Settings(BaseSettings):
    """The controller's settings; every field is also an environment variable."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    cluster_name: str = "default"
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None
    aws_debug: bool = False
    ingress_class: str = "alb"
    default_scheme: Literal["internal", "internet-facing"] = "internal"
    default_target_type: Literal["instance", "ip"] = "instance"
    default_ssl_policy: str = "ELBSecurityPolicy-2016-08"
    default_tags: dict[str, str] = Field(default_factory=dict)
    # Route 53 alias records for rule hosts; off leaves DNS to another tool.
    manage_dns: bool = True
    # external-dns's Route 53 options, by its flag names: which zones and hosts are ours to
    # touch, and whether records are ever deleted.
    domain_filter: list[str] = Field(default_factory=list)
    exclude_domains: list[str] = Field(default_factory=list)
    zone_id_filter: list[str] = Field(default_factory=list)
    aws_zone_type: Literal["public", "private", "both"] = "both"
    aws_zone_tags: list[str] = Field(default_factory=list)
    dns_policy: Literal["sync", "upsert-only"] = "sync"
    # Namespaces to watch; empty means all.
    watch_namespaces: list[str] = Field(default_factory=list)
    # The drift sweep this often (seconds): one account-wide read, a drift check only of the
    # groups it finds changed (`kube/drift.py`).
    resync_seconds: float = 600.0
    # A drift check of every group this often (seconds; at most every `resync_seconds`).
    full_resync_seconds: float = 3600.0
    # Start even while aws-load-balancer-controller's leader Lease is fresh.
    ignore_incumbent: bool = False
    metrics_port: int = 8081
    # Reconciles of distinct groups that may run at once (AWS calls are rate-limited anyway).
    workers: int = 4
    # Inbound rules a security group may hold (AWS's default quota; accounts can raise it).
    rules_per_sg_limit: int = Field(default=DEFAULT_RULES_PER_SG, ge=1)
    # AWS's adjustable per-ALB quotas; raise them with the account's (Service Quotas).
    rules_per_alb_limit: int = Field(default=DEFAULT_RULES_PER_ALB, ge=1)
    target_groups_per_alb_limit: int = Field(default=DEFAULT_TARGET_GROUPS_PER_ALB, ge=1)
    listeners_per_alb_limit: int = Field(default=DEFAULT_LISTENERS_PER_ALB, ge=1)
    certificates_per_alb_limit: int = Field(default=DEFAULT_CERTIFICATES_PER_ALB, ge=1)
    # Two or more replicas: elect one active controller on a Lease in this namespace.
    leader_elect: bool = False
    leader_namespace: str = Field(
        default="kube-system", validation_alias=AliasChoices("LEADER_NAMESPACE", "POD_NAMESPACE")
    )
    # aws-load-balancer-controller's flags that change what Ingresses do, with its defaults.
    external_managed_tags: list[str] = Field(default_factory=list)
    allowed_certificate_authority_arns: list[str] = Field(default_factory=list)
    enable_waf: bool = True
    enable_wafv2: bool = True
    enable_shield: bool = True
    max_targets_per_target_group: int = Field(default=0, ge=0)
    endpoints_fail_open: bool = True
    backend_security_group: str | None = Field(default=None, pattern=r"^sg-[0-9a-f]+$")
    enable_backend_security_group: bool = True
    disable_ingress_class_annotation: bool = False
    disable_ingress_group_name_annotation: bool = False
    # Pod readiness gates (LBC's --enable-pod-readiness-gate-inject): a mutating webhook adds
    # target-health.elbv2.k8s.aws/<target group> gates to new pods of labelled namespaces.
    enable_pod_readiness_gate_inject: bool = True
    # The webhook's HTTPS port (the webhook Service's targetPort).
    webhook_port: int = Field(default=9443, ge=1, le=65535)
    # A directory with tls.crt and tls.key to serve (a mounted cert-manager Secret): read,
    # reloaded when it changes, never written. Unset: the controller makes its own CA and
    # certificate, keeps them in WEBHOOK_SECRET_NAME (in POD_NAMESPACE), rotates them and
    # writes the CA into WEBHOOK_CONFIGURATION_NAME's caBundle.
    webhook_cert_dir: str | None = None
    webhook_secret_name: str = "alb-ingress-controller-webhook-tls"
    webhook_configuration_name: str = "alb-ingress-controller-webhook"
    # The Service the API server calls the webhook through: the certificate's DNS names.
    webhook_service_name: str = "alb-ingress-controller-webhook-service"
    # More names (or IP addresses) for the certificate, e.g. 127.0.0.1 for a webhook URL.
    webhook_cert_hosts: list[str] = Field(default_factory=list)
    # Lifetime of the certificate made; a new one is made once less than a third is left.
    webhook_cert_validity_days: int = Field(default=365, ge=1)
    # How often every replica reads the certificate (and the leader renews it if due).
    webhook_cert_check_seconds: float = Field(default=60.0, gt=0)
    # DescribeTargetHealth of target groups with pods whose readiness gate is not True yet,
    # this often; nothing is polled while no pod waits.
    readiness_gate_poll_seconds: float = Field(default=2.0, gt=0)

    @field_validator("domain_filter", "exclude_domains")
    @classmethod
    def _domains(cls, domains: list[str]) -> list[str]:
        # As hosts are compared: lower case, no trailing dot (a leading dot means subdomains).
        cleaned = [domain.strip().rstrip(".").lower() for domain in domains]
        if any(not domain.lstrip(".") for domain in cleaned):
            raise ValueError("a domain may not be empty")
        return cleaned

    @field_validator("zone_id_filter")
    @classmethod
    def _zone_ids(cls, zone_ids: list[str]) -> list[str]:
        return [zone_id.strip().rsplit("/", 1)[-1] for zone_id in zone_ids]

    @field_validator("aws_zone_tags")
    @classmethod
    def _zone_tags(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not tag.partition("=")[0].strip():
                raise ValueError(f"{tag!r} is not key=value (or key, for any value)")
        return [tag.strip() for tag in tags]

    @model_validator(mode="after")
    def _default_tags_are_ours(self) -> Settings:
        clash = sorted(set(self.default_tags) & set(self.external_managed_tags))
        if clash:
            raise ValueError(
                f"DEFAULT_TAGS sets {', '.join(clash)}, which EXTERNAL_MANAGED_TAGS leaves to "
                "another tool; drop it from one of them"
            )
        if self.backend_security_group and not self.enable_backend_security_group:
            raise ValueError(
                "BACKEND_SECURITY_GROUP is set but ENABLE_BACKEND_SECURITY_GROUP is false; "
                "unset one of them"
            )
        return self

    def model_defaults(self) -> ModelDefaults:
        return ModelDefaults(
            cluster_name=self.cluster_name,
            ingress_class=self.ingress_class,
            scheme=self.default_scheme,
            target_type=self.default_target_type,
            ssl_policy=self.default_ssl_policy,
            default_tags=self.default_tags,
            external_managed_tags=tuple(self.external_managed_tags),
            disable_ingress_class_annotation=self.disable_ingress_class_annotation,
            disable_ingress_group_name_annotation=self.disable_ingress_group_name_annotation,
            manage_dns=self.manage_dns,
            endpoints_fail_open=self.endpoints_fail_open,
            rules_per_alb=self.rules_per_alb_limit,
            target_groups_per_alb=self.target_groups_per_alb_limit,
            listeners_per_alb=self.listeners_per_alb_limit,
            certificates_per_alb=self.certificates_per_alb_limit,
        )
