"""The README's generated tables: annotations from `controller.model.ANNOTATIONS`, settings from
`controller.config.Settings`, the metric names from `controller.kube.metrics`, and the
IngressClassParams fields from `controller.model.class_params.FIELDS`.

Each table lives in README.md between `<!-- NAME:start -->` and `<!-- NAME:end -->` markers;
`python -m controller.docs` (`make docs`) rewrites them in place, and
tests/unit/test_docs.py fails when the README differs from what this module renders, so
the tables cannot drift from the code. Setting descriptions are here rather than in
`config.py` because they are user documentation; a test requires one for every field.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import AliasChoices

from controller.config import Settings
from controller.kube.metrics import Metrics
from controller.model import ANNOTATIONS
from controller.model.annotations import PREFIX, Scope
from controller.model.class_params import FIELDS

README = Path(__file__).resolve().parent.parent / "README.md"

SCOPE_TEXT = {
    Scope.EXCLUSIVE: "one per ALB: members of a group must agree",
    Scope.MERGE: "merged across the group",
    Scope.INGRESS: "this Ingress only",
    Scope.TARGET_GROUP: "per target group; the Service's wins",
    Scope.RULE: "per rule; the Service's wins for its backends",
}

SETTING_DOCS: dict[str, str] = {
    "cluster_name": "Value of the `elbv2.k8s.aws/cluster` tag and part of generated names; "
    "must equal aws-load-balancer-controller's `--cluster-name` when migrating.",
    "aws_region": "AWS region of the cluster's VPC.",
    "aws_endpoint_url": "Send every AWS call here instead (moto, LocalStack).",
    "aws_debug": "Log each AWS call with its parameters (never credentials).",
    "ingress_class": "The IngressClass name that selects this controller.",
    "default_scheme": "Scheme when an Ingress group sets none.",
    "default_target_type": "Target type when neither Ingress nor Service sets one.",
    "default_ssl_policy": "TLS policy of HTTPS listeners when none is set.",
    "default_tags": 'Tags on every AWS resource, JSON (`{"team": "web"}`); they win over '
    "the `tags` annotation.",
    "manage_dns": "Keep Route 53 alias records for rule hosts (`run --no-dns` turns it off).",
    "domain_filter": "Only hosts in these domains get records, JSON list (external-dns's "
    "`--domain-filter`; `run --domain-filter`, repeatable): `example.com` holds itself and its "
    "subdomains, `.example.com` only subdomains; others get a `DNSRecordSkipped` Warning. "
    "Empty: every host.",
    "exclude_domains": "Hosts in these domains never get records, JSON list "
    "(`--exclude-domains`, repeatable).",
    "zone_id_filter": "Only these hosted zone IDs are read or written, JSON list "
    "(`--zone-id-filter`, repeatable). Empty: every zone.",
    "aws_zone_type": "public, private or both: the kinds of hosted zones used (`--aws-zone-type`).",
    "aws_zone_tags": "Only hosted zones with every one of these tags, JSON list of `key=value` "
    "(`key` alone: any value; `--aws-zone-tags`, repeatable); needs "
    "`route53:ListTagsForResources`.",
    "dns_policy": "sync (create, update and delete our records) or upsert-only (never delete: "
    "records of removed hosts and deleted Ingresses stay; external-dns's `--policy`; "
    "`run --dns-policy`).",
    "watch_namespaces": "Namespaces to watch, JSON list; empty watches all "
    "(`run --namespace`, repeatable).",
    "resync_seconds": "Period of the drift sweep: one account-wide read of the load balancers' "
    "and target groups' ARNs, tags and settings; a group found changed by someone else gets "
    "a drift check (read everything, repair).",
    "full_resync_seconds": "Period of the drift check of every group (listeners, rules, "
    "security group rules, attributes and DNS records are not in the sweep); "
    "`RESYNC_SECONDS` or less: every period.",
    "ignore_incumbent": "Start even while aws-load-balancer-controller's leader Lease is fresh.",
    "metrics_port": "Port of the Prometheus `/metrics` endpoint.",
    "workers": "Groups reconciled at the same time.",
    "rules_per_sg_limit": "Inbound rules per security group (AWS's quota); the controller "
    "counts its node-group rules against it before any call.",
    "rules_per_alb_limit": "Rules per ALB (AWS's adjustable quota); an Ingress whose rules "
    "would exceed it is left out with an error naming it.",
    "target_groups_per_alb_limit": "Target groups per ALB (AWS's adjustable quota), checked "
    "the same way.",
    "listeners_per_alb_limit": "Listeners per ALB (AWS's adjustable quota), checked the same way.",
    "certificates_per_alb_limit": "Certificates per ALB besides the default ones (AWS's "
    "adjustable quota), checked the same way.",
    "leader_elect": "Elect one active replica on a Lease (`run --leader-elect`).",
    "leader_namespace": "Namespace of the leader Lease (`LEADER_NAMESPACE`, else `POD_NAMESPACE`).",
    "external_managed_tags": "Tag keys another tool manages on our resources, JSON list "
    "(LBC's `--external-managed-tags`): never set, changed or removed; a `tags` annotation "
    "naming one is an error.",
    "allowed_certificate_authority_arns": "Certificate discovery only finds certificates "
    "issued by these ACM Private CAs, JSON list (LBC's flag of that name); empty: any.",
    "enable_waf": "Manage WAF Classic associations (`waf-acl-id`); false leaves them to "
    "another tool such as Firewall Manager (LBC's `--enable-waf`).",
    "enable_wafv2": "Manage WAFv2 associations (`wafv2-acl-arn`, `wafv2-acl-name`); false "
    "leaves them to another tool (LBC's `--enable-wafv2`).",
    "enable_shield": "Manage Shield Advanced protections (`shield-advanced-protection`); "
    "false leaves them to another tool (LBC's `--enable-shield`).",
    "endpoints_fail_open": "ip targets: when none of a Service's endpoints is ready, keep "
    "those that are not ready only because their Node's status is Unknown (LBC's "
    "EndpointsFailOpen feature gate).",
    "max_targets_per_target_group": "At most this many targets in each target group "
    "(0: no limit); the ones registered already are kept first (LBC's flag of that name).",
    "backend_security_group": "Your security group (`sg-...`) to use as the shared backend "
    "group instead of one made here; never deleted (LBC's `--backend-security-group`).",
    "disable_ingress_class_annotation": "No new use of `kubernetes.io/ingress.class: alb`: an "
    "Ingress selected by it gets an error unless it is a member already (carries our "
    "finalizer). LBC enforces this in its webhook.",
    "disable_ingress_group_name_annotation": "No new use of `group.name`: an Ingress gets an "
    "error unless it is already in that group (carries its finalizer); IngressClassParams "
    "`spec.group.name` still works. LBC enforces this in its webhook.",
    "enable_backend_security_group": "Load balancers reach the nodes through one shared "
    "backend group; false opens the nodes to each load balancer's managed group instead "
    "(LBC's `--enable-backend-security-group`).",
    "enable_pod_readiness_gate_inject": "Serve the mutating webhook that adds a "
    "`target-health.elbv2.k8s.aws/<target group>` readiness gate to new pods of namespaces "
    "labelled `elbv2.k8s.aws/pod-readiness-gate-inject: enabled` (LBC's flag of that name); "
    "conditions of pods that carry gates are set either way.",
    "webhook_port": "HTTPS port of the pod readiness gate webhook (the webhook Service's "
    "targetPort).",
    "webhook_cert_dir": "Serve `tls.crt` and `tls.key` of this directory (a mounted "
    "cert-manager Secret), reloaded when they change; unset: the controller makes, keeps and "
    "rotates its own (below).",
    "webhook_secret_name": "Secret in `POD_NAMESPACE` holding the webhook's own CA and "
    "certificate (made and rotated by the leader, read by every replica).",
    "webhook_configuration_name": "MutatingWebhookConfiguration whose `caBundle` the leader "
    "keeps equal to its CA (without `WEBHOOK_CERT_DIR`).",
    "webhook_service_name": "Service the API server reaches the webhook through: the "
    "certificate is made for its DNS names in `POD_NAMESPACE`.",
    "webhook_cert_hosts": "More DNS names or IP addresses for the certificate, JSON list "
    '(`["127.0.0.1"]` for a webhook URL on loopback).',
    "webhook_cert_validity_days": "Lifetime of the CA and certificate made; new ones are made "
    "once less than a third of it is left.",
    "webhook_cert_check_seconds": "How often each replica reads the webhook certificate (the "
    "leader renews it when due, the others load what it wrote).",
    "readiness_gate_poll_seconds": "DescribeTargetHealth of each target group that has pods "
    "whose readiness gate is not True yet, this often; nothing is polled while none waits.",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def annotation_table() -> str:
    lines = [
        "| Annotation | On | In a group | Default | Meaning |",
        "|---|---|---|---|---|",
    ]
    for spec in ANNOTATIONS:
        lines.append(
            "| "
            + " | ".join(
                [
                    f"`{PREFIX}{spec.name}`",
                    ", ".join(location.value for location in spec.locations),
                    SCOPE_TEXT[spec.scope],
                    _cell(f"`{spec.default}`" if spec.default is not None else "none"),
                    _cell(spec.doc),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def _env_names(name: str) -> str:
    alias = Settings.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return ", ".join(f"`{choice}`" for choice in alias.choices if isinstance(choice, str))
    return f"`{name.upper()}`"


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, dict | list):
        return f"`{value!r}`".replace("'", '"') if value else "empty"
    return f"`{value}`"


def settings_table() -> str:
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name in Settings.model_fields:
        lines.append(f"| {_env_names(name)} | {_default(name)} | {_cell(SETTING_DOCS[name])} |")
    return "\n".join(lines)


def metrics_table() -> str:
    lines = ["| Metric | Type | Labels | Meaning |", "|---|---|---|---|"]
    for name, kind, labels, documentation in Metrics().describe():
        shown = ", ".join(f"`{label}`" for label in labels) or "none"
        lines.append(f"| `{name}` | {kind} | {shown} | {_cell(documentation)} |")
    return "\n".join(lines)


def class_params_table() -> str:
    lines = ["| Field | Annotation it stands for | Here |", "|---|---|---|"]
    for field in FIELDS:
        annotation = f"`{field.setting}`" if field.setting else "none"
        lines.append(f"| `{field.path}` | {annotation} | {_cell(field.effect)} |")
    return "\n".join(lines)


TABLES: dict[str, Callable[[], str]] = {
    "annotations": annotation_table,
    "settings": settings_table,
    "metrics": metrics_table,
    "class-params": class_params_table,
}


def render(readme: str) -> str:
    """`readme` with every generated table replaced by its current rendering."""
    for name, table in TABLES.items():
        pattern = re.compile(
            rf"(<!-- {name}:start -->\n)(?:.*?\n)?(<!-- {name}:end -->)", flags=re.DOTALL
        )
        if not pattern.search(readme):
            raise ValueError(f"README.md has no <!-- {name}:start --> ... end --> markers")
        rendered = table()

        def fill(match: re.Match[str], rendered: str = rendered) -> str:
            return match.group(1) + rendered + "\n" + match.group(2)

        readme = pattern.sub(fill, readme)
    return readme


def main() -> int:
    current = README.read_text()
    updated = render(current)
    if updated != current:
        README.write_text(updated)
        print(f"updated {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
