"""One Ingress -> what it contributes to its group's ALB, or the errors that exclude it.

This is the per-Ingress half of the builder: annotations and spec are validated, paths
become rule conditions (LBC's pathType semantics and ordering), backends become actions and
target groups. Nothing here looks at the other members of the group; `assemble.py` merges
the contributions and checks what only the group as a whole can violate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from controller.config import ModelDefaults
from controller.limits import (
    HOST_HEADER_CHARACTERS,
    MAX_CONDITION_VALUES,
    MAX_TARGET_GROUPS_PER_ACTION,
    PATH_PATTERN_CHARACTERS,
)
from controller.model.annotation_reader import (
    AnnotationValues,
    annotation_field,
    external_tag_errors,
    read_annotations,
)
from controller.model.annotations import SPECS, Location, Scope
from controller.model.auth import GoneSecretError, SecretsIndex, build_auth
from controller.model.backends import BackendContext, FieldError, MissingBackendError
from controller.model.class_params import (
    INGRESS_CLASS_PARAMS_OVERRIDE,
    Imposed,
    impose,
    unsupported_warnings,
)
from controller.model.conditions import (
    check_regex_value,
    check_value,
    ordered_paths,
    path_patterns,
    rule_conditions,
)
from controller.model.dns import DNS_RECORD_SKIPPED, DnsOptions, dns_options, external_dns_hosts
from controller.model.groups import GroupRef
from controller.model.inputs import (
    HTTPIngressPath,
    IngressBackend,
    IngressSpec,
    format_location,
    metadata_of,
    spec_of,
)
from controller.model.stack import (
    BACKEND_NOT_FOUND,
    FAILED_BUILD_MODEL,
    UNSUPPORTED_ANNOTATION,
    Action,
    AuthAction,
    BuildError,
    BuildWarning,
    Condition,
    FixedResponseAction,
    FixedResponseConfig,
    ForwardAction,
    RedirectAction,
    RedirectConfig,
    Stickiness,
    TargetGroup,
    TargetGroupTuple,
    Transform,
)
from controller.model.transforms import default_rule_transforms_error, rule_transforms
from controller.model.values import ActionValue

USE_ANNOTATION = "use-annotation"
EXCLUSIVE = tuple(spec.name for spec in SPECS.values() if spec.scope is Scope.EXCLUSIVE)


@dataclass(frozen=True)
class RouteRule:
    """One listener rule this Ingress asks for, before it gets a priority."""

    conditions: tuple[Condition, ...]
    actions: tuple[Action, ...]
    # The backend's authenticate or jwt-validation action: on HTTPS listeners only, it goes
    # before the rule's own action, as in LBC.
    auth: AuthAction | None = None
    # `transforms.<name>` of the backend: on every listener the rule is on.
    transforms: tuple[Transform, ...] = ()

    def on(self, protocol: str) -> RouteRule:
        """The rule as a listener of `protocol` holds it."""
        return with_auth(self, self.auth if protocol == "HTTPS" else None)


def with_auth(rule: RouteRule, auth: AuthAction | None) -> RouteRule:
    actions = rule.actions if auth is None else (auth, *rule.actions)
    return replace(rule, actions=actions, auth=None)


@dataclass(frozen=True)
class ParsedIngress:
    """What one valid Ingress contributes to its group."""

    key: str  # ns/name
    ref: GroupRef
    exclusive: Mapping[str, Any]  # EXCLUSIVE annotations it sets, by name
    tags: Mapping[str, str]  # its `tags` annotation: user tags for the ALB
    listen_ports: tuple[tuple[str, int], ...]  # (protocol, port)
    certificates: tuple[str, ...]
    rules: tuple[RouteRule, ...]
    default_actions: tuple[Action, ...] | None  # from spec.defaultBackend
    default_auth: AuthAction | None  # its authenticate action, for HTTPS listeners
    target_groups: Mapping[str, TargetGroup]  # by id
    rule_hosts: tuple[str, ...]  # spec.rules[].host, in order
    tls_hosts: tuple[str, ...]
    warnings: tuple[BuildWarning, ...] = ()
    # listener-attributes.<Protocol>-<Port> of its own listen ports, by port
    listener_attributes: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    # The Route 53 options of its hosts' records (`dns-*`), and the hosts of external-dns's
    # hostname annotation, which get records like rule hosts.
    dns: DnsOptions = field(default_factory=DnsOptions)
    dns_hosts: tuple[str, ...] = ()


def parse_ingress(
    ingress: Mapping[str, Any],
    ref: GroupRef,
    services: Mapping[tuple[str, str], Mapping[str, Any]],
    defaults: ModelDefaults,
    secrets: SecretsIndex | None = None,
    *,
    imposed: Imposed | None = None,
) -> ParsedIngress | list[BuildError]:
    """The Ingress's contribution, or every error found in it. `imposed`: what its
    IngressClass's IngressClassParams impose (`class_params.ParamsIndex`)."""
    meta = metadata_of(ingress)
    key = f"{meta.namespace}/{meta.name}"
    annotations = read_annotations(meta.annotations, Location.INGRESS)
    imposed = imposed or Imposed()
    # The class's errors first: they say why the Ingress may not use its class at all.
    errors = [BuildError(ingress=key, field=f, message=m) for f, m in imposed.errors]
    # Only the Ingress's own listener-attributes are reported when it lacks that listener;
    # the class's apply to whichever of its Ingresses listen there.
    own_listeners = frozenset(annotations.listener_attributes)
    annotations, overridden = _impose(key, annotations, imposed)
    errors += [BuildError(ingress=key, field=f, message=m) for f, m in annotations.errors]
    errors += [
        BuildError(ingress=key, field=f, message=m)
        for f, m in external_tag_errors(annotations, defaults.external_managed_tags)
    ]
    dns, dns_errors = dns_options(annotations)
    errors += [BuildError(ingress=key, field=f, message=m) for f, m in dns_errors]
    try:
        spec = spec_of(ingress, IngressSpec)
    except ValidationError as err:
        for item in err.errors(include_url=False):
            errors.append(
                BuildError(
                    ingress=key,
                    field=format_location("spec", tuple(item["loc"])),
                    message=str(item["msg"]).removeprefix("Value error, "),
                )
            )
        return errors
    if errors:
        return errors
    certificates: tuple[str, ...] = annotations.get("certificate-arn", ())
    listen_ports: list[tuple[str, int]] | None = annotations.get("listen-ports")
    if listen_ports is None:
        listen_ports = [("HTTPS", 443)] if certificates else [("HTTP", 80)]
    context = BackendContext(key, meta.namespace, ref.id, annotations, services, defaults)
    if imposed.params is not None:
        context = replace(
            context,
            class_settings=imposed.params.target_group_settings(),
            class_tags=imposed.params.tags,
            class_params=imposed.params.name,
        )
    # As LBC: the auth annotations are read only for HTTPS listeners, so an Ingress without
    # one is not held to them.
    https = any(protocol == "HTTPS" for protocol, _ in listen_ports)
    builder = _IngressBuilder(context, annotations, (secrets or {}) if https else None)
    rules = builder.rules(spec)
    default_actions = None
    default_auth = None
    if spec.default_backend is not None:
        default_actions = builder.backend_actions(spec.default_backend, "spec.defaultBackend")
        default_auth = builder.auth(spec.default_backend, "spec.defaultBackend")
    transforms_error = default_rule_transforms_error(annotations, spec)
    if transforms_error is not None:
        builder.field_errors.append(transforms_error)
    errors.extend(
        BuildError(ingress=key, field=p.field, message=p.message) for p in builder.field_errors
    )
    if errors:
        return errors
    attributes, attribute_warnings = _listener_attributes(
        key, annotations, listen_ports, own_listeners
    )
    dns_hosts, skipped_hosts = external_dns_hosts(meta.annotations)
    return ParsedIngress(
        key=key,
        ref=ref,
        # A blank value parses to None: as if the annotation were absent (the WAF ones).
        exclusive={
            name: annotations.values[name]
            for name in EXCLUSIVE
            if annotations.values.get(name) is not None
        },
        tags=annotations.get("tags", {}),
        listen_ports=tuple(listen_ports),
        certificates=certificates,
        rules=tuple(rules),
        default_actions=default_actions,
        default_auth=default_auth,
        target_groups=builder.target_groups,
        rule_hosts=tuple(r.host for r in spec.rules or () if r.host),
        tls_hosts=tuple(h for tls in spec.tls or () for h in tls.hosts or () if h),
        warnings=(
            *overridden,
            *_warnings(key, annotations, builder),
            *(unsupported_warnings(key, imposed.params) if imposed.params is not None else ()),
            *attribute_warnings,
            *_mtls_ignored(key, annotations, listen_ports),
            *_auth_ignored(key, annotations, listen_ports),
            *(
                BuildWarning(ingress=key, field=f, message=m, reason=DNS_RECORD_SKIPPED)
                for f, m in skipped_hosts
            ),
        ),
        listener_attributes=attributes,
        dns=dns,
        dns_hosts=dns_hosts,
    )


def _mtls_ignored(
    key: str, annotations: AnnotationValues, listen_ports: Sequence[tuple[str, int]]
) -> tuple[BuildWarning, ...]:
    """mutual-authentication entries for a port this Ingress has no HTTPS listener on:
    ignored, as LBC ignores them, but said."""
    entries = annotations.get("mutual-authentication") or {}
    https = {port for protocol, port in listen_ports if protocol == "HTTPS"}
    return tuple(
        BuildWarning(
            ingress=key,
            field=annotation_field(SPECS["mutual-authentication"].key),
            message=f"port {port} ignored: this Ingress has no HTTPS listener on it "
            "(listen-ports); mTLS is for HTTPS listeners only",
            reason=UNSUPPORTED_ANNOTATION,
        )
        for port in sorted(entries)
        if port not in https
    )


def _auth_ignored(
    key: str, annotations: AnnotationValues, listen_ports: Sequence[tuple[str, int]]
) -> tuple[BuildWarning, ...]:
    """An auth-type on an Ingress with no HTTPS listener: LBC reads it on HTTPS only and
    ignores it in silence; said here, since the app is then served unauthenticated."""
    auth_type = annotations.get("auth-type")
    if auth_type in (None, "none") or any(protocol == "HTTPS" for protocol, _ in listen_ports):
        return ()
    return (
        BuildWarning(
            ingress=key,
            field=annotation_field(SPECS["auth-type"].key),
            message=f"auth-type {auth_type} ignored: authentication needs an HTTPS listener "
            "(listen-ports); this Ingress's rules are served without it",
            reason=UNSUPPORTED_ANNOTATION,
        ),
    )


def _impose(
    key: str, annotations: AnnotationValues, imposed: Imposed
) -> tuple[AnnotationValues, tuple[BuildWarning, ...]]:
    """The annotations with the class's params applied, and the overrides to report."""
    if imposed.params is None:
        return annotations, ()
    return impose(key, annotations, imposed.params)


def _listener_attributes(
    key: str,
    annotations: AnnotationValues,
    listen_ports: Sequence[tuple[str, int]],
    own: frozenset[tuple[str, int]],
) -> tuple[dict[int, dict[str, str]], tuple[BuildWarning, ...]]:
    """The Ingress's listener attributes by port, for the listeners it is on; those of its
    `own` annotations for a protocol and port it does not listen on are ignored with a
    warning (LBC reads them only for the Ingresses of that listener)."""
    found: dict[int, dict[str, str]] = {}
    ignored: list[BuildWarning] = []
    for (protocol, port), attributes in sorted(annotations.listener_attributes.items()):
        if (protocol, port) in listen_ports:
            found[port] = attributes
            continue
        if (protocol, port) not in own:
            continue
        name = f"{SPECS_LISTENER_ATTRIBUTES_PREFIX}{protocol}-{port}"
        ignored.append(
            BuildWarning(
                ingress=key,
                field=annotation_field(name),
                message=f"ignored: this Ingress has no {protocol} listener on port {port} "
                "(listen-ports)",
                reason=UNSUPPORTED_ANNOTATION,
            )
        )
    return found, tuple(ignored)


def _warnings(
    key: str, annotations: AnnotationValues, builder: _IngressBuilder
) -> tuple[BuildWarning, ...]:
    """What the Ingress asks for that was worked around: missing backends, ignored keys."""
    found = [
        BuildWarning(ingress=key, field=p.field, message=p.message, reason=BACKEND_NOT_FOUND)
        for p in builder.missing
    ]
    gone = {(p.field, p.message) for p in builder.gone}
    found += [
        BuildWarning(ingress=key, field=f, message=m, reason=FAILED_BUILD_MODEL)
        for f, m in sorted(gone)
    ]
    ignored = [*annotations.ignored, *sorted(builder.context.ignored.items())]
    found += [
        BuildWarning(ingress=key, field=f, message=m, reason=UNSUPPORTED_ANNOTATION)
        for f, m in ignored
    ]
    found += [
        BuildWarning(ingress=key, field=f, message=m, reason=INGRESS_CLASS_PARAMS_OVERRIDE)
        for f, m in sorted(builder.context.overridden.items())
    ]
    return tuple(found)


def _unavailable(message: str) -> FixedResponseAction:
    """LBC's answer for a path whose backend is missing: 503, text/plain, saying which."""
    return FixedResponseAction(
        fixed_response_config=FixedResponseConfig(
            status_code="503", content_type="text/plain", message_body=message
        )
    )


class _IngressBuilder:
    """Builds rules and actions for one Ingress, collecting `FieldError`s instead of stopping."""

    def __init__(
        self,
        context: BackendContext,
        annotations: AnnotationValues,
        secrets: SecretsIndex | None,
    ) -> None:
        self.context = context
        self.annotations = annotations
        self.secrets = secrets  # None: no HTTPS listener, auth is not read
        self.target_groups: dict[str, TargetGroup] = {}
        self.field_errors: list[FieldError] = []
        # Backends answered with a fixed 503 until they exist (LBC's behaviour).
        self.missing: list[FieldError] = []
        # OIDC Secrets deleted while named: their last version keeps the authentication.
        self.gone: list[FieldError] = []

    def rules(self, spec: IngressSpec) -> list[RouteRule]:
        result: list[RouteRule] = []
        for i, rule in enumerate(spec.rules or ()):
            if rule.host:
                try:
                    check_value(rule.host, HOST_HEADER_CHARACTERS, f"spec.rules[{i}].host", "host")
                except FieldError as problem:
                    self.field_errors.append(problem)
                    continue
            if rule.http is None:
                continue
            for j, path in ordered_paths(rule.http.paths):
                where = f"spec.rules[{i}].http.paths[{j}]"
                try:
                    result.append(self._rule(rule.host, path, where))
                except FieldError as problem:
                    self.field_errors.append(problem)
        return result

    def _rule(self, host: str | None, path: HTTPIngressPath, where: str) -> RouteRule:
        regex = bool(self.annotations.get("use-regex-path-match", False))
        patterns = path_patterns(path, where, regex=regex)
        for pattern in patterns.values:
            check_value(pattern, PATH_PATTERN_CHARACTERS, f"{where}.path", "path")
        for pattern in patterns.regex_values:
            check_regex_value(pattern, f"{where}.path", "path (use-regex-path-match)")
        actions = self.backend_actions(path.backend, f"{where}.backend")
        service = path.backend.service
        extra = self.annotations.conditions.get(service.name, []) if service else []
        conditions = rule_conditions(
            host,
            patterns,
            extra,
            field=annotation_field(SPECS_CONDITIONS_PREFIX + service.name) if service else "",
        )
        count = sum(c.value_count() for c in conditions)
        if count > MAX_CONDITION_VALUES:
            raise FieldError(
                where,
                f"the rule has {count} condition values (host, paths and conditions.* "
                f"together); AWS allows {MAX_CONDITION_VALUES} per rule",
            )
        return RouteRule(
            conditions=conditions,
            actions=actions,
            auth=self._auth(path.backend, where),
            transforms=rule_transforms(self.annotations, service.name if service else None),
        )

    def auth(self, backend: IngressBackend, where: str) -> AuthAction | None:
        """The backend's authenticate action; a `FieldError` is recorded, not raised."""
        try:
            return self._auth(backend, where)
        except FieldError as problem:
            self.field_errors.append(problem)
            return None

    def _auth(self, backend: IngressBackend, where: str) -> AuthAction | None:
        if self.secrets is None:
            return None
        name = self._single_service(backend)
        service = self.context.service_annotations(name) if name is not None else None
        try:
            return build_auth(
                ingress=self.annotations,
                service=service,
                owner=f"service/{name}." if name is not None else "",
                namespace=self.context.namespace,
                secrets=self.secrets,
            )
        except GoneSecretError as gone:
            self.gone.append(gone)
            return gone.action

    def _single_service(self, backend: IngressBackend) -> str | None:
        """The Service whose auth annotations win for this backend: the one it forwards to
        alone (LBC's rule), if it exists."""
        service = backend.service
        if service is None:
            return None
        name: str | None = service.name
        if service.port.name == USE_ANNOTATION:
            action = self.annotations.actions.get(service.name)
            forward = action.forward_config if action is not None else None
            targets = forward.target_groups if forward is not None else []
            name = targets[0].service_name if len(targets) == 1 else None
        if name is None or (self.context.namespace, name) not in self.context.services:
            return None
        return name

    def backend_actions(self, backend: IngressBackend, where: str) -> tuple[Action, ...]:
        """The actions for one backend; raises `FieldError` (and records it for defaultBackend)."""
        try:
            return self._backend_actions(backend, where)
        except FieldError as problem:
            if where == "spec.defaultBackend":
                self.field_errors.append(problem)
                return ()
            raise

    def _backend_actions(self, backend: IngressBackend, where: str) -> tuple[Action, ...]:
        if backend.resource is not None or backend.service is None:
            raise FieldError(where, "only service backends are supported")
        service = backend.service
        port_field = f"{where}.service.port"
        if (service.port.number is None) == (service.port.name is None):
            raise FieldError(port_field, "set exactly one of port.number and port.name")
        if service.port.name == USE_ANNOTATION:
            action = self.annotations.actions.get(service.name)
            if action is None:
                self.missing.append(
                    FieldError(
                        f"{where}.service.name",
                        f"port use-annotation needs the annotation "
                        f"{SPECS_ACTION_PREFIX}{service.name}; answering 503 until it is set",
                    )
                )
                return (_unavailable("Backend action does not exist"),)
            return (self._annotation_action(service.name, action),)
        port: int | str = service.port.number or service.port.name or ""
        try:
            tg = self._target_group(service.name, port, port_field)
        except MissingBackendError as missing:
            self.missing.append(
                FieldError(missing.field, f"{missing.message}; answering 503 until it exists")
            )
            return (_unavailable("Backend service does not exist"),)
        return (ForwardAction(target_groups=(TargetGroupTuple(id=tg.id),)),)

    def _target_group(self, service_name: str, port: int | str, port_field: str) -> TargetGroup:
        tg = self.context.target_group(service_name, port, port_field)
        self.target_groups.setdefault(tg.id, tg)
        return tg

    def _annotation_action(self, name: str, value: ActionValue) -> Action:
        where = annotation_field(SPECS_ACTION_PREFIX + name)
        if value.type == "redirect" and value.redirect_config is not None:
            config = value.redirect_config
            given = {
                "protocol": config.protocol,
                "port": None if config.port is None else str(config.port),
                "host": config.host,
                "path": config.path,
                "query": config.query,
            }
            return RedirectAction(
                redirect_config=RedirectConfig(
                    status_code=config.status_code,
                    **{k: v for k, v in given.items() if v is not None},
                )
            )
        if value.type == "fixed-response" and value.fixed_response_config is not None:
            fixed = value.fixed_response_config
            return FixedResponseAction(
                fixed_response_config=FixedResponseConfig(
                    status_code=fixed.status_code,
                    content_type=fixed.content_type,
                    message_body=fixed.message_body,
                )
            )
        if value.target_group_arn is not None:
            return ForwardAction(
                target_groups=(TargetGroupTuple(target_group_arn=value.target_group_arn),)
            )
        if value.target_group_name is not None:
            return ForwardAction(
                target_groups=(TargetGroupTuple(target_group_name=value.target_group_name),)
            )
        assert value.forward_config is not None  # the ActionValue validator guarantees it
        forward = value.forward_config
        if len(forward.target_groups) > MAX_TARGET_GROUPS_PER_ACTION:
            raise FieldError(
                where,
                f"the forward action has {len(forward.target_groups)} target groups; AWS "
                f"allows {MAX_TARGET_GROUPS_PER_ACTION} per action",
            )
        tuples: list[TargetGroupTuple] = []
        for k, target in enumerate(forward.target_groups):
            weight = 1 if target.weight is None else target.weight
            if target.service_name is not None and target.service_port is not None:
                try:
                    tg = self._target_group(target.service_name, target.service_port, where)
                except FieldError as problem:
                    raise FieldError(
                        where, f"forwardConfig.targetGroups[{k}]: {problem.message}"
                    ) from None
                tuples.append(TargetGroupTuple(id=tg.id, weight=weight))
            else:
                tuples.append(
                    TargetGroupTuple(
                        target_group_arn=target.target_group_arn,
                        target_group_name=target.target_group_name,
                        weight=weight,
                    )
                )
        sticky = forward.target_group_stickiness_config
        return ForwardAction(
            target_groups=tuple(tuples),
            stickiness=None
            if sticky is None
            else Stickiness(enabled=sticky.enabled, duration_seconds=sticky.duration_seconds),
        )


SPECS_ACTION_PREFIX = "alb.ingress.kubernetes.io/actions."
SPECS_CONDITIONS_PREFIX = "alb.ingress.kubernetes.io/conditions."
SPECS_LISTENER_ATTRIBUTES_PREFIX = "alb.ingress.kubernetes.io/listener-attributes."
