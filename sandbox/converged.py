"""Does AWS hold exactly what the cluster asks for? A check independent of the controller.

`check(api, endpoint_url, defaults)` reads the cluster as the admin (Ingresses, Services,
EndpointSlices, Nodes, IngressClasses, as the plain JSON the API serves, which is what the
controller's watches deliver); `compare` takes that `ClusterState` directly. It builds every
group's desired `Stack` and targets with the controller's pure model builder
(`controller.model.build`, `build_targets`: what `plan` prints), then reads AWS with boto3
straight from the endpoint given (moto, not through the proxy the controller uses, and not
through `controller.aws`), and compares:

- per stack: exactly one load balancer tagged for it (scheme, IP address type, name,
  subnets chosen by role tags, security groups, the attributes the model sets, tags); its
  listeners (port, protocol, SSL policy, certificates, default actions, tags); their rules
  in priority order (conditions, actions with target groups named by their resource tag);
  one target group per model target group, paired by the `ingress.k8s.aws/resource` tag
  (target type, protocol, version, port, health check, attributes, tags, some rule of the
  load balancer forwarding to it, registered targets against `build_targets`); the managed
  security group (exactly the model's ingress permissions, tags); the shared backend group
  and the node security group rules that let it reach every instance target; Route 53: per
  host, the alias in the zone the scheme selects, pointing at the load balancer, and its
  ownership TXT record naming cluster, stack and Ingress;
- the Ingresses: members carry the group's finalizer and the load balancer's hostname;
  Ingresses of no stack carry neither, and nothing is left being deleted;
- nothing else: no resource tagged for the cluster outside the desired stacks and
  resources, no ownership record or alias the plan does not hold, no stale backend rule.

Differences are human-readable lines (empty: converged). Duplicates (two load balancers for
one stack, two target groups for one resource, two managed or backend security groups) are
counted apart, since "made twice" is the bug class a crash or a non-idempotent retry gives.
Plan errors (`BuildError`s) are returned too: the soak must only ever produce valid input, so
a group with invalid members is compared as far as its valid ones go.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from controller.config import ModelDefaults
from controller.limits import DESCRIBE_CHUNK
from controller.model import ClusterState, build, build_targets
from controller.model.groups import GroupRef
from controller.model.stack import (
    LOAD_BALANCER_RESOURCE_ID,
    MANAGED_SG_RESOURCE_ID,
    TAG_CLUSTER,
    TAG_RESOURCE,
    TAG_STACK,
    Action,
    Condition,
    FixedResponseAction,
    ForwardAction,
    Listener,
    RedirectAction,
    Stack,
    Target,
    TargetGroup,
)
from sandbox.aws import aws_client

PAGE = 500
BACKEND_TAG = ("elbv2.k8s.aws/resource", "backend-sg")
# The tag contract and the API shapes are restated here, not imported from controller.aws:
# a checker that shared the controller's reading of them could not catch it misreading one.
ROLE_TAG = {
    "internet-facing": "kubernetes.io/role/elb",
    "internal": "kubernetes.io/role/internal-elb",
}
CLUSTER_TAG_PREFIX = "kubernetes.io/cluster/"
OWNER_PREFIX = "alb-ingress-controller/"
CONFIG_KEYS = {
    "host-header": "HostHeaderConfig",
    "path-pattern": "PathPatternConfig",
    "http-header": "HttpHeaderConfig",
    "http-request-method": "HttpRequestMethodConfig",
    "query-string": "QueryStringConfig",
    "source-ip": "SourceIpConfig",
}
REDIRECT_DEFAULTS = {
    "Protocol": "#{protocol}",
    "Port": "#{port}",
    "Host": "#{host}",
    "Path": "/#{path}",
    "Query": "#{query}",
}

Obj = dict[str, Any]


@dataclass(frozen=True)
class Convergence:
    """The outcome of one check."""

    differences: tuple[str, ...]
    duplicates: tuple[str, ...]
    plan_errors: tuple[str, ...]
    stacks: int
    resources: int  # AWS resources compared (load balancers, listeners, rules, TGs, SGs)

    @property
    def converged(self) -> bool:
        return not self.differences and not self.duplicates


# --- the cluster ---------------------------------------------------------------------------


def _pages(call: Callable[..., Any], *args: str) -> list[Obj]:
    items: list[Obj] = []
    token: str | None = None
    while True:
        response = call(*args, limit=PAGE, _continue=token, _preload_content=False)
        try:
            page = json.loads(response.data)
        finally:
            response.release_conn()
        items += page.get("items") or []
        token = (page.get("metadata") or {}).get("continue") or None
        if not token:
            return items


def read_cluster(api: Any) -> ClusterState:
    """Every object the model builder reads, as the API serves it (plain JSON dicts)."""
    core, networking = client.CoreV1Api(api), client.NetworkingV1Api(api)
    discovery = client.DiscoveryV1Api(api)
    return ClusterState(
        ingresses=tuple(_pages(networking.list_ingress_for_all_namespaces)),
        services=tuple(_pages(core.list_service_for_all_namespaces)),
        endpoint_slices=tuple(_pages(discovery.list_endpoint_slice_for_all_namespaces)),
        nodes=tuple(_pages(core.list_node)),
        ingress_classes=tuple(_pages(networking.list_ingress_class)),
        ingress_class_params=_class_params(api),
        namespaces=tuple(_pages(core.list_namespace)),
    )


def _class_params(api: Any) -> tuple[Obj, ...] | None:
    """LBC's IngressClassParams; None when the cluster has no such CRD (as the controller
    sees it then: classes without params)."""
    custom = client.CustomObjectsApi(api)
    try:
        return tuple(
            _pages(custom.list_cluster_custom_object, "elbv2.k8s.aws", "v1beta1",
                   "ingressclassparams")
        )  # fmt: skip
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise


# --- canonical forms (both sides) ------------------------------------------------------------


def _model_condition(condition: Condition) -> tuple[str, str, tuple[str, ...]]:
    if condition.field == "query-string":
        values = tuple(
            sorted(f"{p.key or ''}={p.value}" for p in condition.query_string_values or ())
        )
        return (condition.field, "", values)
    header = (condition.http_header_name or "").lower() if condition.field == "http-header" else ""
    return (condition.field, header, tuple(sorted(condition.values or ())))


def _aws_condition(condition: Mapping[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    name = str(condition["Field"])
    config = condition.get(CONFIG_KEYS.get(name, ""), {}) or {}
    if name == "query-string":
        pairs = config.get("Values") or ()
        return (name, "", tuple(sorted(f"{p.get('Key', '')}={p.get('Value', '')}" for p in pairs)))
    values = config.get("Values") or condition.get("Values") or ()
    header = str(config.get("HttpHeaderName", "")).lower() if name == "http-header" else ""
    return (name, header, tuple(sorted(str(v) for v in values)))


def _model_action(action: Action) -> tuple[Any, ...]:
    if isinstance(action, ForwardAction):
        pairs = tuple(
            sorted(
                (t.id or t.target_group_arn or f"name:{t.target_group_name}", t.weight)
                for t in action.target_groups
            )
        )
        sticky: tuple[Any, ...] = ()
        if action.stickiness is not None and action.stickiness.enabled:
            sticky = (True, action.stickiness.duration_seconds)
        return ("forward", pairs, sticky)
    if isinstance(action, RedirectAction):
        c = action.redirect_config
        config = {
            "Protocol": c.protocol,
            "Port": c.port,
            "Host": c.host,
            "Path": c.path,
            "Query": c.query,
            "StatusCode": c.status_code,
        }
        return ("redirect", tuple(sorted(config.items())))
    assert isinstance(action, FixedResponseAction)
    f = action.fixed_response_config
    return ("fixed-response", f.status_code, f.content_type or "", f.message_body or "")


def _aws_action(action: Mapping[str, Any], tg_names: Mapping[str, str]) -> tuple[Any, ...]:
    kind = str(action["Type"])
    if kind == "forward":
        config = action.get("ForwardConfig") or {}
        groups = config.get("TargetGroups") or [
            {"TargetGroupArn": action.get("TargetGroupArn"), "Weight": 1}
        ]
        pairs = tuple(
            sorted(
                (
                    tg_names.get(str(g["TargetGroupArn"]), str(g["TargetGroupArn"])),
                    int(g.get("Weight", 1)),
                )
                for g in groups
            )
        )
        stickiness = config.get("TargetGroupStickinessConfig") or {}
        sticky: tuple[Any, ...] = ()
        if stickiness.get("Enabled"):
            sticky = (True, stickiness.get("DurationSeconds"))
        return ("forward", pairs, sticky)
    if kind == "redirect":
        config = {**REDIRECT_DEFAULTS, **(action.get("RedirectConfig") or {})}
        return ("redirect", tuple(sorted((k, str(v)) for k, v in config.items())))
    if kind == "fixed-response":
        fixed = action.get("FixedResponseConfig") or {}
        return (
            "fixed-response",
            str(fixed.get("StatusCode", "")),
            fixed.get("ContentType") or "",
            fixed.get("MessageBody") or "",
        )
    return (kind, json.dumps({k: v for k, v in action.items() if k != "Order"}, default=str))


def _aws_actions(actions: Iterable[Mapping[str, Any]], names: Mapping[str, str]) -> tuple[Any, ...]:
    ordered = sorted(actions, key=lambda a: int(a.get("Order", 0) or 0))
    return tuple(_aws_action(a, names) for a in ordered)


def _tags(raw: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in raw or ()}


def _identity(
    cluster: str, stack_id: str, resource: str, extra: Mapping[str, str]
) -> dict[str, str]:
    return {**extra, TAG_CLUSTER: cluster, TAG_STACK: stack_id, TAG_RESOURCE: resource}


def _dns(name: str) -> str:
    """A DNS name as compared: lower case, no trailing dot, `\\052` as `*`."""
    return name.replace("\\052", "*").rstrip(".").lower()


def _host_matches(host: str, name: str) -> bool:
    host, name = host.lower(), name.lower()
    if host == name:
        return True
    return name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]


def _txt_name(host: str, record_type: str) -> str:
    labels = host.split(".")
    if labels[0] == "*":
        labels[0] = "_wildcard"
    return f"_alb-{record_type.lower()}." + ".".join(labels)


def _owner(values: Iterable[str]) -> dict[str, str]:
    """The `k=v` pairs of an ownership TXT record (its strings joined, quotes removed)."""
    text = "".join(v.strip('"') for v in values)
    pairs = dict(p.split("=", 1) for p in text.split(",") if "=" in p)
    return {k.removeprefix(OWNER_PREFIX): v for k, v in pairs.items()}


# --- AWS, read directly ----------------------------------------------------------------------


@dataclass
class _Aws:
    """Everything the comparison needs from AWS, read once."""

    endpoint_url: str | None
    cluster: str
    clients: dict[str, Any] = field(default_factory=dict)

    def c(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = aws_client(service, self.endpoint_url)
        return self.clients[service]

    def tagged(self) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        pages = (
            self.c("resourcegroupstaggingapi")
            .get_paginator("get_resources")
            .paginate(TagFilters=[{"Key": TAG_CLUSTER, "Values": [self.cluster]}])
        )
        for page in pages:
            for mapping in page["ResourceTagMappingList"]:
                found[mapping["ResourceARN"]] = _tags(mapping.get("Tags"))
        return found

    def elb_tags(self, arns: Sequence[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for start in range(0, len(arns), DESCRIBE_CHUNK):
            chunk = list(arns[start : start + DESCRIBE_CHUNK])
            for d in self.c("elbv2").describe_tags(ResourceArns=chunk)["TagDescriptions"]:
                out[d["ResourceArn"]] = _tags(d.get("Tags"))
        return out

    def describe(self, call: str, key: str, result: str, arns: Sequence[str]) -> list[Obj]:
        out: list[Obj] = []
        for start in range(0, len(arns), DESCRIBE_CHUNK):
            chunk = list(arns[start : start + DESCRIBE_CHUNK])
            out += getattr(self.c("elbv2"), call)(**{key: chunk})[result]
        return out

    def paged(self, service: str, call: str, result: str, **params: Any) -> list[Obj]:
        pages = self.c(service).get_paginator(call).paginate(**params)
        return [item for page in pages for item in page[result]]

    def rules(self, listener_arn: str) -> list[Obj]:
        out: list[Obj] = []
        marker: str | None = None
        while True:
            params: dict[str, Any] = {"ListenerArn": listener_arn}
            if marker:
                params["Marker"] = marker
            response = self.c("elbv2").describe_rules(**params)
            out += response["Rules"]
            marker = response.get("NextMarker")
            if not marker:
                return out


# --- the comparison --------------------------------------------------------------------------


@dataclass
class _Checker:
    state: ClusterState
    defaults: ModelDefaults
    aws: _Aws
    differences: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    compared: int = 0
    forwarded: set[str] = field(default_factory=set)  # target group ARNs live actions name

    def differ(self, where: str, what: str, actual: Any, desired: Any) -> None:
        if actual != desired:
            self.differences.append(f"{where}: {what} is {actual!r}, desired {desired!r}")

    def run(self) -> Convergence:
        plan = build(self.state, self.defaults)
        cluster = self.defaults.cluster_name
        tagged = self.aws.tagged()
        groups = self.aws.paged(
            "ec2",
            "describe_security_groups",
            "SecurityGroups",
            Filters=[{"Name": f"tag:{TAG_CLUSTER}", "Values": [cluster]}],
        )
        backends = [g for g in groups if _tags(g.get("Tags")).get(BACKEND_TAG[0]) == BACKEND_TAG[1]]
        stacks = {s.id: s for s in plan.stacks}
        self._backend_groups(backends, stacks)
        backend_id = str(backends[0]["GroupId"]) if len(backends) == 1 else None
        zones = self._zones()
        lb_dns: dict[str, str] = {}
        for stack in plan.stacks:
            lb_dns[stack.id] = self._stack(stack, tagged, groups, backend_id)
        self._extras(tagged, groups, stacks)
        self._dns(plan.stacks, lb_dns, zones)
        self._ingresses(plan.stacks, lb_dns, {e.ingress for e in plan.errors})
        return Convergence(
            differences=tuple(self.differences),
            duplicates=tuple(self.duplicates),
            plan_errors=tuple(f"{e.ingress}: {e.field}: {e.message}" for e in plan.errors),
            stacks=len(plan.stacks),
            resources=self.compared,
        )

    # --- one stack ---------------------------------------------------------------------

    def _stack(
        self,
        stack: Stack,
        tagged: Mapping[str, Mapping[str, str]],
        groups: Sequence[Obj],
        backend_id: str | None,
    ) -> str:
        """Compare one stack; returns its load balancer's DNS name ("" if none)."""
        where = f"stack {stack.id}"
        mine = {a: t for a, t in tagged.items() if t.get(TAG_STACK) == stack.id}
        lb_arns = [a for a in mine if ":loadbalancer/" in a]
        tg_arns = [a for a in mine if ":targetgroup/" in a]
        lbs = (
            self.aws.describe(
                "describe_load_balancers", "LoadBalancerArns", "LoadBalancers", lb_arns
            )
            if lb_arns
            else []
        )
        tgs = (
            self.aws.describe("describe_target_groups", "TargetGroupArns", "TargetGroups", tg_arns)
            if tg_arns
            else []
        )
        self.compared += len(lbs) + len(tgs)
        ours = [
            lb
            for lb in lbs
            if mine[lb["LoadBalancerArn"]].get(TAG_RESOURCE) == LOAD_BALANCER_RESOURCE_ID
        ]
        for other in lbs:
            if other not in ours:
                self.differences.append(
                    f"{where}: load balancer {other['LoadBalancerName']} is tagged for the "
                    f"stack as resource {mine[other['LoadBalancerArn']].get(TAG_RESOURCE)!r}"
                )
        # With two, compare the one the controller would keep (scheme and name fit).
        want = stack.load_balancer
        ours.sort(key=lambda lb: (lb.get("Scheme") != want.scheme,
                                  lb["LoadBalancerName"] != want.name))  # fmt: skip
        if len(ours) > 1:
            names = sorted(str(lb["LoadBalancerName"]) for lb in ours)
            self.duplicates.append(f"{where}: {len(ours)} load balancers: {', '.join(names)}")
        if not ours:
            self.differences.append(f"{where}: no load balancer")
        tg_names = {
            str(tg["TargetGroupArn"]): mine[tg["TargetGroupArn"]].get(TAG_RESOURCE, "?")
            for tg in tgs
        }
        managed = [
            g
            for g in groups
            if _tags(g.get("Tags")).get(TAG_STACK) == stack.id
            and _tags(g.get("Tags")).get(TAG_RESOURCE) == MANAGED_SG_RESOURCE_ID
        ]
        self._managed_group(stack, managed)
        lb = ours[0] if ours else None
        if lb is not None:
            self._load_balancer(stack, lb, mine[lb["LoadBalancerArn"]], managed, backend_id)
            self._listeners(stack, lb, tg_names)
        self._target_groups(stack, tgs, mine, lb, backend_id)
        return str(lb["DNSName"]).lower() if lb is not None else ""

    def _load_balancer(
        self,
        stack: Stack,
        lb: Obj,
        tags: Mapping[str, str],
        managed: Sequence[Obj],
        backend_id: str | None,
    ) -> None:
        want = stack.load_balancer
        where = f"stack {stack.id}: load balancer {lb['LoadBalancerName']}"
        cluster = self.defaults.cluster_name
        self.differ(where, "name", lb["LoadBalancerName"], want.name)
        self.differ(where, "scheme", lb.get("Scheme"), want.scheme)
        self.differ(where, "IP address type", lb.get("IpAddressType"), want.ip_address_type)
        self.differ(
            where,
            "tags",
            dict(tags),
            _identity(cluster, stack.id, LOAD_BALANCER_RESOURCE_ID, want.tags),
        )
        subnets = sorted(z["SubnetId"] for z in lb.get("AvailabilityZones") or ())
        self.differ(where, "subnets", subnets, self._subnets(want.scheme, want.subnets))
        groups: set[str] = set()
        if want.security_groups:
            groups |= set(self._given_groups(want.security_groups))
        elif stack.security_group is not None:
            groups |= {str(g["GroupId"]) for g in managed[:1]}
        if stack.backend_security_group and backend_id is not None:
            groups.add(backend_id)
        self.differ(
            where, "security groups", sorted(lb.get("SecurityGroups") or ()), sorted(groups)
        )
        if want.attributes:
            live = _tags(
                self.aws.c("elbv2").describe_load_balancer_attributes(
                    LoadBalancerArn=lb["LoadBalancerArn"]
                )["Attributes"]
            )
            have = {k: live.get(k) for k in want.attributes}
            self.differ(where, "attributes", have, dict(want.attributes))

    def _subnets(self, scheme: str, given: Sequence[str] | None) -> list[str]:
        ec2 = self.aws.c("ec2")
        if given:
            ids = [g for g in given if g.startswith("subnet-")]
            names = [g for g in given if not g.startswith("subnet-")]
            found = ids[:]
            if names:
                found += [
                    s["SubnetId"]
                    for s in ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": names}])[
                        "Subnets"
                    ]
                ]
            return sorted(found)
        role = ROLE_TAG[scheme]
        own = f"{CLUSTER_TAG_PREFIX}{self.defaults.cluster_name}"
        candidates = ec2.describe_subnets(Filters=[{"Name": "tag-key", "Values": [role]}])[
            "Subnets"
        ]
        eligible = []
        for subnet in candidates:
            tags = _tags(subnet.get("Tags"))
            clusters = [k for k in tags if k.startswith(CLUSTER_TAG_PREFIX)]
            if tags.get(role) in ("", "1") and (not clusters or own in clusters):
                eligible.append(subnet)
        by_zone: dict[str, str] = {}
        for subnet in sorted(
            eligible, key=lambda s: (own not in _tags(s.get("Tags")), s["SubnetId"])
        ):
            by_zone.setdefault(subnet["AvailabilityZone"], subnet["SubnetId"])
        return sorted(by_zone.values())

    def _given_groups(self, given: Sequence[str]) -> list[str]:
        ids = [g for g in given if g.startswith("sg-")]
        names = [g for g in given if not g.startswith("sg-")]
        if names:
            found = self.aws.c("ec2").describe_security_groups(
                Filters=[{"Name": "tag:Name", "Values": names}]
            )["SecurityGroups"]
            ids += [g["GroupId"] for g in found]
        return ids

    def _managed_group(self, stack: Stack, managed: Sequence[Obj]) -> None:
        where = f"stack {stack.id}: managed security group"
        self.compared += len(managed)
        if len(managed) > 1:
            ids = ", ".join(sorted(str(g["GroupId"]) for g in managed))
            self.duplicates.append(f"{where}: {len(managed)} groups: {ids}")
        want = stack.security_group
        if want is None or stack.load_balancer.security_groups:
            if managed:
                self.differences.append(f"{where}: exists, none desired")
            return
        if not managed:
            self.differences.append(f"{where}: missing")
            return
        group = managed[0]
        self.differ(where, "name", group.get("GroupName"), want.name)
        have = sorted(
            (str(p.get("IpProtocol")), int(p.get("FromPort", -1)), int(p.get("ToPort", -1)), cidr)
            for p in group.get("IpPermissions") or ()
            for cidr in [r["CidrIp"] for r in p.get("IpRanges") or ()]
            + [r["CidrIpv6"] for r in p.get("Ipv6Ranges") or ()]
            + [f"sg:{r['GroupId']}" for r in p.get("UserIdGroupPairs") or ()]
        )
        desired = sorted(("tcp", r.port, r.port, r.cidr) for r in want.ingress)
        self.differ(where, "ingress permissions", have, desired)
        tags = want.tags or stack.load_balancer.tags
        self.differ(
            where,
            "tags",
            _tags(group.get("Tags")),
            _identity(self.defaults.cluster_name, stack.id, MANAGED_SG_RESOURCE_ID, tags),
        )

    def _listeners(self, stack: Stack, lb: Obj, tg_names: Mapping[str, str]) -> None:
        where = f"stack {stack.id}"
        listeners = self.aws.paged(
            "elbv2", "describe_listeners", "Listeners", LoadBalancerArn=lb["LoadBalancerArn"]
        )
        self.compared += len(listeners)
        by_port: dict[int, list[Obj]] = {}
        for item in listeners:
            by_port.setdefault(int(item["Port"]), []).append(item)
        wanted = {listener.port: listener for listener in stack.listeners}
        for port in sorted(set(by_port) - set(wanted)):
            self.differences.append(f"{where}: listener {port} exists, not desired")
        for port, listener in sorted(wanted.items()):
            live = by_port.get(port, [])
            if not live:
                self.differences.append(f"{where}: listener {port} missing")
                continue
            if len(live) > 1:
                self.duplicates.append(f"{where}: {len(live)} listeners on port {port}")
            self._listener(stack, listener, live[0], tg_names)

    def _listener(
        self, stack: Stack, want: Listener, live: Obj, tg_names: Mapping[str, str]
    ) -> None:
        where = f"stack {stack.id}: listener {want.port}"
        arn = str(live["ListenerArn"])
        self.differ(where, "protocol", live.get("Protocol"), want.protocol)
        if want.protocol == "HTTPS":
            self.differ(where, "SSL policy", live.get("SslPolicy"), want.ssl_policy)
            certificates = {
                str(c["CertificateArn"])
                for c in self.aws.paged(
                    "elbv2", "describe_listener_certificates", "Certificates", ListenerArn=arn
                )
            }
            certificates |= {str(c["CertificateArn"]) for c in live.get("Certificates") or ()}
            desired = set(want.certificates) or self._discovered(want.certificate_hosts)
            self.differ(where, "certificates", sorted(certificates), sorted(desired))
        self.differ(
            where,
            "default actions",
            _aws_actions(live.get("DefaultActions") or (), tg_names),
            tuple(_model_action(a) for a in want.default_actions),
        )
        rules = [r for r in self.aws.rules(arn) if not r.get("IsDefault")]
        for action in [
            *(live.get("DefaultActions") or ()),
            *(a for r in rules for a in r.get("Actions") or ()),
        ]:
            config = action.get("ForwardConfig") or {}
            self.forwarded |= {str(g["TargetGroupArn"]) for g in config.get("TargetGroups") or ()}
            if action.get("TargetGroupArn"):
                self.forwarded.add(str(action["TargetGroupArn"]))
        self.compared += len(rules)
        tags = self.aws.elb_tags([arn, *(r["RuleArn"] for r in rules)])
        cluster = self.defaults.cluster_name
        self.differ(
            where,
            "tags",
            tags.get(arn, {}),
            _identity(cluster, stack.id, str(want.port), stack.load_balancer.tags),
        )
        have = [
            (
                int(r["Priority"]),
                tuple(sorted(_aws_condition(c) for c in r.get("Conditions") or ())),
                _aws_actions(r.get("Actions") or (), tg_names),
            )
            for r in sorted(rules, key=lambda r: int(r["Priority"]))
        ]
        desired_rules = [
            (
                rule.priority,
                tuple(sorted(_model_condition(c) for c in rule.conditions)),
                tuple(_model_action(a) for a in rule.actions),
            )
            for rule in sorted(want.rules, key=lambda r: r.priority)
        ]
        if have != desired_rules:
            self.differences.append(
                f"{where}: rules differ:\n    live    {have}\n    desired {desired_rules}"
            )
        for rule in rules:
            rule_tags = tags.get(rule["RuleArn"], {})
            if rule_tags.get(TAG_CLUSTER) != cluster or rule_tags.get(TAG_STACK) != stack.id:
                self.differences.append(f"{where}: rule {rule['Priority']} lacks our tags")

    def _discovered(self, hosts: Iterable[str]) -> set[str]:
        acm = self.aws.c("acm")
        arns = [
            c["CertificateArn"]
            for c in self.aws.paged(
                "acm", "list_certificates", "CertificateSummaryList", CertificateStatuses=["ISSUED"]
            )
        ]
        names = {}
        for arn in arns:
            cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
            names[arn] = [cert.get("DomainName", ""), *cert.get("SubjectAlternativeNames", [])]
        return {a for h in hosts for a, ns in names.items() if any(_host_matches(h, n) for n in ns)}

    def _target_groups(
        self,
        stack: Stack,
        tgs: Sequence[Obj],
        tags: Mapping[str, Mapping[str, str]],
        lb: Obj | None,
        backend_id: str | None,
    ) -> None:
        targets = build_targets(stack, self.state)
        by_id: dict[str, list[Obj]] = {}
        for tg in tgs:
            by_id.setdefault(tags[tg["TargetGroupArn"]].get(TAG_RESOURCE, "?"), []).append(tg)
        wanted = {tg.id: tg for tg in stack.target_groups}
        for tg_id in sorted(set(by_id) - set(wanted)):
            self.differences.append(f"stack {stack.id}: target group {tg_id} exists, not desired")
        instance_ports: dict[str, set[int]] = {}
        for tg_id, want in sorted(wanted.items()):
            where = f"stack {stack.id}: target group {tg_id}"
            live = by_id.get(tg_id, [])
            if not live:
                self.differences.append(f"{where}: missing")
                continue
            if len(live) > 1:
                names = ", ".join(sorted(str(t["TargetGroupName"]) for t in live))
                self.duplicates.append(f"{where}: {len(live)} target groups: {names}")
            desired_targets = targets.get(tg_id, frozenset())
            self._target_group(
                stack, where, want, live[0], tags=tags, lb=lb, desired_targets=desired_targets
            )
            if want.target_type == "instance":
                for target in desired_targets:
                    instance_ports.setdefault(target.id, set()).add(target.port)
        if stack.backend_security_group and backend_id is not None and instance_ports:
            self._node_rules(stack, backend_id, instance_ports)

    def _target_group(
        self,
        stack: Stack,
        where: str,
        want: TargetGroup,
        tg: Obj,
        *,
        tags: Mapping[str, Mapping[str, str]],
        lb: Obj | None,
        desired_targets: frozenset[Target],
    ) -> None:
        """One live target group against the model's: settings, tags, use, attributes, targets."""
        arn = str(tg["TargetGroupArn"])
        self._target_group_settings(where, want, tg)
        self.differ(
            where,
            "tags",
            dict(tags[arn]),
            _identity(self.defaults.cluster_name, stack.id, want.id, want.tags),
        )
        # Used by the load balancer: from its rules, as moto's LoadBalancerArns is only
        # kept up to date by CreateRule and CreateListener, not by the Modify calls.
        if lb is not None and arn not in self.forwarded:
            self.differences.append(f"{where}: no rule or default action forwards to it")
        if want.attributes:
            self._target_group_attributes(where, want, arn)
        self._registered_targets(where, arn, desired_targets)

    def _target_group_settings(self, where: str, want: TargetGroup, tg: Obj) -> None:
        """Target type, protocol, version, port and health check."""
        hc = want.health_check
        matcher_key = "GrpcCode" if want.protocol_version == "GRPC" else "HttpCode"
        have = {
            "TargetType": tg.get("TargetType"),
            "Protocol": tg.get("Protocol"),
            "ProtocolVersion": tg.get("ProtocolVersion"),
            "Port": tg.get("Port"),
            "HealthCheckProtocol": tg.get("HealthCheckProtocol"),
            "HealthCheckPort": tg.get("HealthCheckPort"),
            "HealthCheckPath": tg.get("HealthCheckPath"),
            "HealthCheckIntervalSeconds": tg.get("HealthCheckIntervalSeconds"),
            "HealthCheckTimeoutSeconds": tg.get("HealthCheckTimeoutSeconds"),
            "HealthyThresholdCount": tg.get("HealthyThresholdCount"),
            "UnhealthyThresholdCount": tg.get("UnhealthyThresholdCount"),
            "Matcher": (tg.get("Matcher") or {}).get(matcher_key),
        }
        desired = {
            "TargetType": want.target_type,
            "Protocol": want.protocol,
            "ProtocolVersion": want.protocol_version,
            "Port": want.port,
            "HealthCheckProtocol": hc.protocol,
            "HealthCheckPort": hc.port,
            "HealthCheckPath": hc.path,
            "HealthCheckIntervalSeconds": hc.interval_seconds,
            "HealthCheckTimeoutSeconds": hc.timeout_seconds,
            "HealthyThresholdCount": hc.healthy_threshold_count,
            "UnhealthyThresholdCount": hc.unhealthy_threshold_count,
            "Matcher": hc.matcher,
        }
        for key, value in desired.items():
            self.differ(where, key, have[key], value)

    def _target_group_attributes(self, where: str, want: TargetGroup, arn: str) -> None:
        """The attributes the model sets (only those) as live."""
        live_attrs = _tags(
            self.aws.c("elbv2").describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
        )
        self.differ(
            where,
            "attributes",
            {k: live_attrs.get(k) for k in want.attributes},
            dict(want.attributes),
        )

    def _registered_targets(self, where: str, arn: str, desired: frozenset[Target]) -> None:
        """The registered targets (not draining) against `build_targets`'."""
        health = self.aws.c("elbv2").describe_target_health(TargetGroupArn=arn)
        registered = sorted(
            (d["Target"]["Id"], int(d["Target"]["Port"]))
            for d in health["TargetHealthDescriptions"]
            if (d.get("TargetHealth") or {}).get("State") != "draining"
        )
        desired_targets = sorted((t.id, t.port) for t in desired)
        self.differ(where, "targets", registered, desired_targets)

    def _node_rules(self, stack: Stack, backend_id: str, ports: Mapping[str, set[int]]) -> None:
        reservations = self.aws.paged(
            "ec2",
            "describe_instances",
            "Reservations",
            Filters=[{"Name": "instance-id", "Values": sorted(ports)}],
        )
        for reservation in reservations:
            for instance in reservation["Instances"]:
                group_ids = [g["GroupId"] for g in instance.get("SecurityGroups") or ()]
                groups = self.aws.c("ec2").describe_security_groups(GroupIds=group_ids)[
                    "SecurityGroups"
                ]
                allowed = [
                    (int(p.get("FromPort", -1)), int(p.get("ToPort", -1)))
                    for g in groups
                    for p in g.get("IpPermissions") or ()
                    if any(r.get("GroupId") == backend_id for r in p.get("UserIdGroupPairs") or ())
                ]
                for port in sorted(ports.get(instance["InstanceId"], set())):
                    if not any(lo <= port <= hi for lo, hi in allowed):
                        self.differences.append(
                            f"stack {stack.id}: node {instance['InstanceId']}: the backend "
                            f"group may not reach port {port}"
                        )

    # --- the cluster-wide part -----------------------------------------------------------

    def _backend_groups(self, backends: Sequence[Obj], stacks: Mapping[str, Stack]) -> None:
        self.compared += len(backends)
        if len(backends) > 1:
            ids = ", ".join(sorted(str(g["GroupId"]) for g in backends))
            self.duplicates.append(f"backend security group: {len(backends)} groups: {ids}")
        needed = any(s.backend_security_group for s in stacks.values())
        if needed and not backends:
            self.differences.append("backend security group: missing")
        if not stacks and backends:
            self.differences.append("backend security group: exists with no stack left")

    def _extras(
        self,
        tagged: Mapping[str, Mapping[str, str]],
        groups: Sequence[Obj],
        stacks: Mapping[str, Stack],
    ) -> None:
        """Anything tagged for the cluster that no desired stack accounts for."""
        self._extra_tagged(tagged, stacks)
        self._extra_groups(groups, stacks)
        self._leftover_backend_rules(groups, stacks)

    def _extra_tagged(
        self, tagged: Mapping[str, Mapping[str, str]], stacks: Mapping[str, Stack]
    ) -> None:
        """Tagged ELBv2 resources of a stack not desired."""
        for arn, tags in sorted(tagged.items()):
            if tags.get(BACKEND_TAG[0]) == BACKEND_TAG[1]:
                continue  # the shared backend group: checked on its own
            stack = stacks.get(tags.get(TAG_STACK, ""))
            if stack is None:
                self.differences.append(
                    f"{arn}: tagged for stack {tags.get(TAG_STACK)!r}, which is not desired"
                )

    def _extra_groups(self, groups: Sequence[Obj], stacks: Mapping[str, Stack]) -> None:
        """Managed security groups of a stack not desired."""
        for group in groups:
            tags = _tags(group.get("Tags"))
            if tags.get(BACKEND_TAG[0]) == BACKEND_TAG[1]:
                continue
            if tags.get(TAG_STACK, "") not in stacks:
                self.differences.append(
                    f"security group {group['GroupId']}: tagged for stack "
                    f"{tags.get(TAG_STACK)!r}, which is not desired"
                )

    def _leftover_backend_rules(self, groups: Sequence[Obj], stacks: Mapping[str, Stack]) -> None:
        """Rules from a backend group that no longer exists (or is not the cluster's)."""
        backend_ids = {
            str(g["GroupId"])
            for g in groups
            if _tags(g.get("Tags")).get(BACKEND_TAG[0]) == BACKEND_TAG[1]
        }
        everything = self.aws.paged("ec2", "describe_security_groups", "SecurityGroups")
        existing = {str(g["GroupId"]) for g in everything}
        for group in everything:
            for p in group.get("IpPermissions") or ():
                for pair in p.get("UserIdGroupPairs") or ():
                    source = str(pair.get("GroupId"))
                    stale = source not in existing
                    shared = pair.get("Description") == "elbv2.k8s.aws/targetGroupBinding=shared"
                    if (stale or (shared and source not in backend_ids)) or (
                        shared and not stacks and source in backend_ids
                    ):
                        self.differences.append(
                            f"security group {group['GroupId']}: rule from {source} "
                            f"(ports {p.get('FromPort')}-{p.get('ToPort')}) is left over"
                        )

    def _zones(self) -> list[tuple[Obj, list[Obj]]]:
        """Every hosted zone with its record sets."""
        zones = self.aws.paged("route53", "list_hosted_zones", "HostedZones")
        return [
            (zone, self.aws.paged("route53", "list_resource_record_sets", "ResourceRecordSets",
                                  HostedZoneId=zone["Id"]))
            for zone in zones
        ]  # fmt: skip

    def _dns(
        self,
        stacks: Sequence[Stack],
        lb_dns: Mapping[str, str],
        zones: Sequence[tuple[Obj, list[Obj]]],
    ) -> None:
        desired = _desired_records(stacks, lb_dns, zones)
        for zone, records in zones:
            zone_id = str(zone["Id"])
            kind = "private" if (zone.get("Config") or {}).get("PrivateZone") else "public"
            self._zone_desired(zone_id, kind, records, desired)
            for rrset in records:
                self._zone_leftover(zone_id, kind, rrset, desired)

    def _zone_desired(
        self,
        zone_id: str,
        kind: str,
        records: Sequence[Obj],
        desired: Mapping[tuple[str, str, str], tuple[str, str, str]],
    ) -> None:
        """Each desired record of the zone: its alias and its ownership record."""
        by_key = {(_dns(r["Name"]), r["Type"]): r for r in records}
        for (zid, host, record_type), (stack_id, resource, target) in desired.items():
            if zid != zone_id:
                continue
            where = f"DNS {host} {record_type} ({kind} zone)"
            alias = by_key.get((host, record_type))
            if alias is None:
                self.differences.append(f"{where}: missing")
            else:
                live = _dns(str((alias.get("AliasTarget") or {}).get("DNSName", "")))
                self.differ(where, "alias target", live.removeprefix("dualstack."), target)
            txt = by_key.get((_txt_name(host, record_type), "TXT"))
            if txt is None:
                self.differences.append(f"{where}: ownership record missing")
                continue
            owner = _owner(str(v["Value"]) for v in txt.get("ResourceRecords") or ())
            self.differ(
                where,
                "owner",
                (owner.get("cluster"), owner.get("stack"), owner.get("resource")),
                (self.defaults.cluster_name, stack_id, resource),
            )

    def _zone_leftover(
        self,
        zone_id: str,
        kind: str,
        rrset: Obj,
        desired: Mapping[tuple[str, str, str], tuple[str, str, str]],
    ) -> None:
        """A record set of ours (an ownership record, or an alias to a load balancer) that
        the plan does not hold."""
        name, record_type = _dns(rrset["Name"]), str(rrset["Type"])
        if record_type == "TXT":
            owner = _owner(str(v["Value"]) for v in rrset.get("ResourceRecords") or ())
            if owner.get("cluster") != self.defaults.cluster_name or not name.startswith("_alb-"):
                return
            label, _, host = name.partition(".")
            owned_type = label.removeprefix("_alb-").upper()
            host = host.replace("_wildcard", "*", 1) if host.startswith("_wildcard") else host
            if (zone_id, host, owned_type) not in desired:
                self.differences.append(
                    f"DNS {name} TXT ({kind} zone): ownership record of stack "
                    f"{owner.get('stack')!r} left over"
                )
        elif record_type in ("A", "AAAA") and "AliasTarget" in rrset:
            alias_host = _dns(str(rrset["AliasTarget"].get("DNSName", "")))
            if (zone_id, name, record_type) not in desired and ".elb." in alias_host:
                self.differences.append(
                    f"DNS {name} {record_type} ({kind} zone): alias to {alias_host} left over"
                )

    def _ingresses(
        self, stacks: Sequence[Stack], lb_dns: Mapping[str, str], invalid: set[str]
    ) -> None:
        members = {key: stack for stack in stacks for key in stack.ingresses}
        for ingress in self.state.ingresses:
            meta = ingress.get("metadata") or {}
            key = f"{meta.get('namespace')}/{meta.get('name')}"
            finalizers = [
                f
                for f in meta.get("finalizers") or ()
                if f == "ingress.k8s.aws/resources" or f.startswith("group.ingress.k8s.aws/")
            ]
            entries = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            hostname = str(entries[0].get("hostname") or "") if entries else ""
            where = f"Ingress {key}"
            if meta.get("deletionTimestamp"):
                self.differences.append(f"{where}: still being deleted (finalizers {finalizers})")
                continue
            if key in invalid:
                continue
            stack = members.get(key)
            if stack is None:
                if finalizers or hostname:
                    self.differences.append(
                        f"{where}: in no stack but has finalizers {finalizers}, hostname "
                        f"{hostname!r}"
                    )
                continue
            explicit = "/" not in stack.id
            want = GroupRef(id=stack.id, explicit=explicit).finalizer
            self.differ(where, "finalizers", finalizers, [want])
            self.differ(where, "status hostname", hostname.lower(), lb_dns.get(stack.id, ""))


def _desired_records(
    stacks: Sequence[Stack],
    lb_dns: Mapping[str, str],
    zones: Sequence[tuple[Obj, list[Obj]]],
) -> dict[tuple[str, str, str], tuple[str, str, str]]:
    """(zone id, name, type) -> the desired record's (stack, resource, alias target)."""
    desired: dict[tuple[str, str, str], tuple[str, str, str]] = {}
    for stack in stacks:
        for record in stack.dns_records:
            host = _dns(record.name)
            zone = _pick_zone(host, stack.load_balancer.scheme, [z for z, _ in zones])
            if zone is None:
                continue
            ingress = record.ingress or (stack.ingresses[0] if stack.ingresses else "")
            desired[(str(zone["Id"]), host, record.type)] = (
                stack.id,
                f"ingress/{ingress}",
                lb_dns.get(stack.id, ""),
            )
    return desired


def _pick_zone(host: str, scheme: str, zones: Sequence[Obj]) -> Obj | None:
    """The zone that should hold a host's records: the longest matching name; a private
    zone for internal load balancers, a public one for internet-facing, when both exist."""
    matching = [z for z in zones if host == _dns(z["Name"]) or host.endswith("." + _dns(z["Name"]))]
    if not matching:
        return None
    longest = max(len(_dns(z["Name"])) for z in matching)
    candidates = [z for z in matching if len(_dns(z["Name"])) == longest]
    private = scheme == "internal"
    preferred = [
        z for z in candidates if bool((z.get("Config") or {}).get("PrivateZone")) == private
    ]
    pool = preferred or candidates
    return pool[0] if len(pool) == 1 else None


def compare(state: ClusterState, endpoint_url: str | None, defaults: ModelDefaults) -> Convergence:
    """Compare AWS at `endpoint_url` (None: boto3's own configuration) with the plan of
    `state`."""
    return _Checker(state, defaults, _Aws(endpoint_url, defaults.cluster_name)).run()


def check(api: Any, endpoint_url: str | None, defaults: ModelDefaults) -> Convergence:
    """Compare AWS at `endpoint_url` with the plan of the cluster behind `api` (admin)."""
    return compare(read_cluster(api), endpoint_url, defaults)
