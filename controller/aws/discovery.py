"""Discovery: the subnets, VPC, security groups and certificates a stack did not spell out.

Rules follow aws-load-balancer-controller, so a cluster tagged for it works unchanged:
- subnets by role tag (`kubernetes.io/role/elb` for internet-facing,
  `kubernetes.io/role/internal-elb` for internal) and the `kubernetes.io/cluster/<name>` tag:
  subnets tagged for another cluster are excluded; one subnet per AZ, preferring
  cluster-tagged ones, then the lowest ID; at least two AZs;
- subnets and security groups given by Name tag are resolved to IDs, trust stores given by
  name (`mutual-authentication`) to ARNs;
- ACM certificates by host: ISSUED certificates whose domain or SANs match the host exactly
  or by a single-label `*.` wildcard. The certificate list is cached for a TTL; a
  certificate's names never change once issued, so those are cached for longer.
Every miss is a clear, non-retryable `AwsError` naming what was looked for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from controller.aws.clients import AwsClients
from controller.aws.errors import AwsError, about, has_code
from controller.aws.live import chunks
from controller.limits import FILTER_VALUES

ROLE_TAG = {
    "internet-facing": "kubernetes.io/role/elb",
    "internal": "kubernetes.io/role/internal-elb",
}
CLUSTER_TAG_PREFIX = "kubernetes.io/cluster/"
MIN_FREE_IPS = 8


@dataclass(frozen=True)
class SubnetChoice:
    subnet_ids: tuple[str, ...]
    vpc_id: str


def _tags(resource: Mapping[str, Any]) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in resource.get("Tags") or ()}


def host_matches(host: str, name: str) -> bool:
    """Whether certificate name `name` covers `host` (exact, or one `*.` label)."""
    host, name = host.lower().rstrip("."), name.lower().rstrip(".")
    if host == name:
        return True
    if name.startswith("*.") and "." in host:
        return host.split(".", 1)[1] == name[2:]
    return False


class Discovery:
    """Looks up what a stack leaves to discovery; one per controller (the cert cache)."""

    def __init__(
        self,
        clients: AwsClients,
        cluster_name: str,
        cert_list_ttl: float = 60.0,
        cert_names_ttl: float = 36000.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        allowed_authorities: Iterable[str] = (),
    ) -> None:
        """`allowed_authorities`: when given, only certificates issued by these ACM Private
        CAs are discovered (LBC's `--allowed-certificate-authority-arns`)."""
        self._clients = clients
        self._allowed_authorities = frozenset(allowed_authorities)
        self._cluster = cluster_name
        self._cert_list_ttl = cert_list_ttl
        self._cert_names_ttl = cert_names_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cert_list: tuple[float, tuple[str, ...]] | None = None
        # ARN -> (when read, its names, its issuing private CA or "").
        self._cert_names: dict[str, tuple[float, tuple[str, ...], str]] = {}

    @property
    def _ec2(self) -> Any:
        return self._clients.ec2

    @property
    def _acm(self) -> Any:
        return self._clients.acm

    # --- subnets -------------------------------------------------------------------------

    def subnets(
        self,
        scheme: str,
        given: Sequence[str] | None,
        tags: Mapping[str, Sequence[str]] | None = None,
    ) -> SubnetChoice:
        """The load balancer's subnets: the given IDs/Name tags, or discovered among those
        with the `tags` (IngressClassParams spec.subnets.tags), else by the role tag."""
        if given:
            found = self._subnets_by_id_or_name(given)
            return self._choose(found, what="the given subnets")
        role = ROLE_TAG[scheme]
        if tags:
            filters = [
                {"Name": f"tag:{key}", "Values": list(values)}
                if values
                else {"Name": "tag-key", "Values": [key]}
                for key, values in sorted(tags.items())
            ]
            shown = ", ".join(f"{k}={'|'.join(v) or '*'}" for k, v in sorted(tags.items()))
            what = f"subnets tagged {shown} (IngressClassParams spec.subnets.tags)"
        else:
            filters = [{"Name": "tag-key", "Values": [role]}]
            what = f"subnets tagged {role} (value 1 or empty)"
        with about(f"subnet discovery ({what})"):
            pages = self._ec2.get_paginator("describe_subnets").paginate(Filters=filters)
            candidates = [s for page in pages for s in page["Subnets"]]
        eligible = [
            s
            for s in candidates
            if (tags or _tags(s).get(role) in ("", "1"))
            and not self._tagged_for_other_cluster(s)
            and int(s.get("AvailableIpAddressCount", MIN_FREE_IPS)) >= MIN_FREE_IPS
        ]
        what += f" and not tagged {CLUSTER_TAG_PREFIX}<another cluster> (cluster {self._cluster!r})"
        return self._choose(eligible, what=what)

    def _tagged_for_other_cluster(self, subnet: dict[str, Any]) -> bool:
        keys = [k for k in _tags(subnet) if k.startswith(CLUSTER_TAG_PREFIX)]
        return bool(keys) and f"{CLUSTER_TAG_PREFIX}{self._cluster}" not in keys

    def _subnets_by_id_or_name(self, given: Sequence[str]) -> list[dict[str, Any]]:
        ids = [g for g in given if g.startswith("subnet-")]
        names = [g for g in given if not g.startswith("subnet-")]
        found: list[dict[str, Any]] = []
        with about(f"subnets {', '.join(given)}"):
            if ids:
                # A filter, not SubnetIds: unknown IDs come back missing, not as an error.
                found += self._ec2.describe_subnets(Filters=[{"Name": "subnet-id", "Values": ids}])[
                    "Subnets"
                ]
            if names:
                found += self._ec2.describe_subnets(
                    Filters=[{"Name": "tag:Name", "Values": names}]
                )["Subnets"]
        seen_ids = {s["SubnetId"] for s in found}
        seen_names = {_tags(s).get("Name") for s in found}
        missing = [i for i in ids if i not in seen_ids] + [n for n in names if n not in seen_names]
        if missing:
            raise AwsError(
                "subnets",
                "SubnetNotFound",
                f"no subnet with ID or Name tag {', '.join(missing)}",
                retryable=False,
            )
        return found

    def _choose(self, subnets: list[dict[str, Any]], *, what: str) -> SubnetChoice:
        vpcs = sorted({str(s["VpcId"]) for s in subnets})
        if len(vpcs) > 1:
            # Prefer the VPC of the subnets that carry our cluster tag, as LBC's VPC setting.
            ours = sorted(
                {
                    str(s["VpcId"])
                    for s in subnets
                    if f"{CLUSTER_TAG_PREFIX}{self._cluster}" in _tags(s)
                }
            )
            if len(ours) != 1:
                raise AwsError(
                    "subnets",
                    "AmbiguousVpc",
                    f"{what} span VPCs {', '.join(vpcs)}; tag the cluster's subnets "
                    f"{CLUSTER_TAG_PREFIX}{self._cluster} or list them in the subnets annotation",
                    retryable=False,
                )
            subnets = [s for s in subnets if s["VpcId"] == ours[0]]
        by_zone: dict[str, dict[str, Any]] = {}
        cluster_key = f"{CLUSTER_TAG_PREFIX}{self._cluster}"
        for subnet in sorted(
            subnets, key=lambda s: (cluster_key not in _tags(s), str(s["SubnetId"]))
        ):
            by_zone.setdefault(str(subnet["AvailabilityZone"]), subnet)
        if len(by_zone) < 2:
            raise AwsError(
                "subnets",
                "NotEnoughSubnets",
                f"an ALB needs subnets in at least 2 availability zones; found {len(by_zone)} "
                f"among {what}",
                retryable=False,
            )
        chosen = sorted(str(s["SubnetId"]) for s in by_zone.values())
        return SubnetChoice(tuple(chosen), str(next(iter(by_zone.values()))["VpcId"]))

    # --- trust stores --------------------------------------------------------------------

    def trust_store_arns(self, names: Iterable[str]) -> dict[str, str]:
        """The ARN of each trust store named (DescribeTrustStores, one call for all)."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        with about(f"trust stores {', '.join(wanted)}"):
            try:
                pages = self._clients.elbv2.get_paginator("describe_trust_stores").paginate(
                    Names=wanted
                )
                found = {
                    str(t["Name"]): str(t["TrustStoreArn"])
                    for page in pages
                    for t in page["TrustStores"]
                }
            except ClientError as error:
                if not has_code(error, "TrustStoreNotFound"):
                    raise
                found = {}
        missing = [name for name in wanted if name not in found]
        if missing:
            raise AwsError(
                "mutual-authentication",
                "TrustStoreNotFound",
                f"no trust store named {', '.join(missing)} (create it, or give its ARN)",
                retryable=False,
            )
        return found

    # --- security groups -----------------------------------------------------------------

    def security_group_ids(self, given: Sequence[str], vpc_id: str) -> tuple[str, ...]:
        """IDs for security groups given by ID or Name tag, in the given order."""
        ids = [g for g in given if g.startswith("sg-")]
        names = [g for g in given if not g.startswith("sg-")]
        by_name: dict[str, str] = {}
        found_ids: set[str] = set()
        with about(f"security groups {', '.join(given)}"):
            if ids:
                groups = self._ec2.describe_security_groups(
                    Filters=[{"Name": "group-id", "Values": ids}]
                )["SecurityGroups"]
                found_ids = {g["GroupId"] for g in groups}
            if names:
                groups = self._ec2.describe_security_groups(
                    Filters=[
                        {"Name": "tag:Name", "Values": names},
                        {"Name": "vpc-id", "Values": [vpc_id]},
                    ]
                )["SecurityGroups"]
                by_name = {_tags(g)["Name"]: g["GroupId"] for g in groups}
        missing = [i for i in ids if i not in found_ids] + [n for n in names if n not in by_name]
        if missing:
            raise AwsError(
                "security groups",
                "InvalidGroup.NotFound",
                f"no security group with ID or Name tag {', '.join(missing)} in {vpc_id}",
                retryable=False,
            )
        return tuple(g if g.startswith("sg-") else by_name[g] for g in given)

    # --- nodes ---------------------------------------------------------------------------

    def instance_security_groups(self, instance_ids: Sequence[str]) -> tuple[str, ...]:
        """The security groups of these EC2 instances (the nodes of instance targets)."""
        by_instance = self.security_groups_by_instance(instance_ids)
        return tuple(sorted({g for groups in by_instance.values() for g in groups}))

    def security_groups_by_instance(self, instance_ids: Sequence[str]) -> dict[str, list[str]]:
        """Each of these EC2 instances' security groups (an instance not found is left out)."""
        found: dict[str, list[str]] = {}
        with about("node instances"):
            for chunk in chunks(instance_ids, FILTER_VALUES):
                pages = self._ec2.get_paginator("describe_instances").paginate(
                    Filters=[{"Name": "instance-id", "Values": list(chunk)}]
                )
                for page in pages:
                    for reservation in page["Reservations"]:
                        for instance in reservation["Instances"]:
                            groups = instance.get("SecurityGroups") or ()
                            found[instance["InstanceId"]] = [g["GroupId"] for g in groups]
        return found

    # --- certificates --------------------------------------------------------------------

    def certificates(self, hosts: Iterable[str]) -> tuple[str, ...]:
        """ARNs of the ISSUED ACM certificates covering `hosts` (sorted, deduplicated)."""
        wanted = sorted({h.lower() for h in hosts})
        names = {
            arn: found
            for arn in self._issued()
            for found, authority in [self._names(arn)]
            if not self._allowed_authorities or authority in self._allowed_authorities
        }
        matched: set[str] = set()
        unmatched: list[str] = []
        for host in wanted:
            arns = {arn for arn, ns in names.items() if any(host_matches(host, n) for n in ns)}
            if not arns:
                unmatched.append(host)
            matched |= arns
        if unmatched:
            allowed = (
                " from the allowed certificate authorities (ALLOWED_CERTIFICATE_AUTHORITY_ARNS)"
                if self._allowed_authorities
                else ""
            )
            raise AwsError(
                "certificate discovery",
                "CertificateNotFound",
                f"no ISSUED ACM certificate{allowed} covers host(s) {', '.join(unmatched)}; "
                "request or import one, or set the certificate-arn annotation",
                retryable=False,
            )
        return tuple(sorted(matched))

    def _issued(self) -> tuple[str, ...]:
        now = self._clock()
        with self._lock:
            cached = self._cert_list
        if cached is not None and now - cached[0] < self._cert_list_ttl:
            return cached[1]
        with about("ACM certificate list"):
            pages = self._acm.get_paginator("list_certificates").paginate(
                CertificateStatuses=["ISSUED"]
            )
            arns = tuple(
                c["CertificateArn"] for page in pages for c in page["CertificateSummaryList"]
            )
        with self._lock:
            self._cert_list = (now, arns)
        return arns

    def _names(self, arn: str) -> tuple[tuple[str, ...], str]:
        """The certificate's names, and the private CA that issued it ("" for none)."""
        now = self._clock()
        with self._lock:
            cached = self._cert_names.get(arn)
        if cached is not None and now - cached[0] < self._cert_names_ttl:
            return cached[1], cached[2]
        with about(f"ACM certificate {arn}"):
            cert = self._acm.describe_certificate(CertificateArn=arn)["Certificate"]
        names = tuple(
            dict.fromkeys([cert.get("DomainName", ""), *cert.get("SubjectAlternativeNames", [])])
        )
        authority = str(cert.get("CertificateAuthorityArn", ""))
        with self._lock:
            self._cert_names[arn] = (now, names, authority)
        return names, authority
