"""Ingress backends -> target groups: Service lookup, port resolution, target-group settings.

A backend names a Service in the Ingress's namespace and a port (number or name). Its target
group takes its settings from the target-group-level annotations, where a value on the
Service wins over the Ingress's (LBC behaviour). Everything that can be wrong here (a missing
Service or port, a ClusterIP Service with instance targets, a bad Service annotation) is a
`FieldError` pointing at the field that caused it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from controller.config import ModelDefaults
from controller.model.annotation_reader import (
    AnnotationValues,
    annotation_field,
    external_tag_errors,
    read_annotations,
)
from controller.model.annotations import PREFIX, SPECS, Location
from controller.model.inputs import (
    ServicePort,
    ServiceSpec,
    describe_validation_error,
    metadata_of,
    spec_of,
)
from controller.model.names import target_group_name
from controller.model.stack import (
    TAG_CLUSTER,
    TAG_RESOURCE,
    TAG_STACK,
    HealthCheck,
    TargetGroup,
)

GRPC_HEALTH_PATH = "/AWS.ALB/healthcheck"
GRPC_MATCHER = "12"
# Target groups of services whose NodePort the API server has not allocated yet (only seen
# in `plan -f` of raw manifests) get this placeholder port; targets carry their own port.
UNALLOCATED_PORT = 1


class FieldError(Exception):
    """Something wrong with the input, at `field` of the Ingress being built."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class MissingBackendError(FieldError):
    """The backend Service does not exist (yet): LBC answers its paths with a fixed 503."""


def stack_tags(
    defaults: ModelDefaults, stack_id: str, resource: str, user: Mapping[str, str]
) -> dict[str, str]:
    """User tags, then the default tags, then the controller's own tags: each wins over the last."""
    return {
        **user,
        **defaults.default_tags,
        TAG_CLUSTER: defaults.cluster_name,
        TAG_STACK: stack_id,
        TAG_RESOURCE: resource,
    }


@dataclass(frozen=True)
class BackendContext:
    """What resolving one Ingress's backends needs."""

    ingress_key: str  # ns/name
    namespace: str
    stack_id: str
    ingress_annotations: AnnotationValues
    services: Mapping[tuple[str, str], Mapping[str, Any]]
    defaults: ModelDefaults
    # Annotation keys of the Services used that are not read (field -> why), for warnings.
    ignored: dict[str, str] = field(default_factory=dict)
    # What the Ingress's IngressClassParams impose on its target groups, over the Services'
    # annotations too (LBC): setting -> (params field, value), and tags (their keys win).
    class_settings: Mapping[str, tuple[str, Any]] = field(default_factory=dict)
    class_tags: Mapping[str, str] = field(default_factory=dict)
    class_params: str = ""  # the params' name, for warnings
    # Service annotations those override with another value (field -> why), for warnings.
    overridden: dict[str, str] = field(default_factory=dict)

    def service_annotations(self, service_name: str) -> AnnotationValues | None:
        """The annotations of a Service of the namespace, parsed; None when it is absent."""
        service = self.services.get((self.namespace, service_name))
        if service is None:
            return None
        owner = f"service/{service_name}."
        return read_annotations(metadata_of(service).annotations, Location.SERVICE, owner=owner)

    def target_group(self, service_name: str, port: int | str, port_field: str) -> TargetGroup:
        """The target group for `service_name:port`; raises `FieldError`."""
        service = self.services.get((self.namespace, service_name))
        if service is None:
            raise MissingBackendError(
                port_field.rsplit(".port", 1)[0],
                f"service {service_name!r} not found in namespace {self.namespace!r}",
            )
        owner = f"service/{service_name}."
        try:
            spec = spec_of(service, ServiceSpec)
        except ValidationError as err:
            raise FieldError(f"{owner}spec", describe_validation_error(err)) from None
        svc_annotations = read_annotations(
            metadata_of(service).annotations, Location.SERVICE, owner=owner
        )
        errors = [
            *svc_annotations.errors,
            *external_tag_errors(svc_annotations, self.defaults.external_managed_tags, owner),
        ]
        if errors:
            raise FieldError(*errors[0])
        self.ignored.update(svc_annotations.ignored)
        self._note_overrides(svc_annotations, owner)
        settings = _TargetGroupSettings(
            self.ingress_annotations, svc_annotations, owner, self.class_settings
        )
        service_port = _find_port(spec, port, service_name, port_field)
        return self._build(
            service_name=service_name,
            service_uid=metadata_of(service).uid,
            port=port,
            spec=spec,
            service_port=service_port,
            settings=settings,
            port_field=port_field,
        )

    def _note_overrides(self, service: AnnotationValues, owner: str) -> None:
        """The Service's annotations the class's params override with another value."""
        source = f"IngressClassParams {self.class_params}"
        for name, (path, value) in self.class_settings.items():
            own = service.values.get(name)
            if own is not None and own != value:
                self.overridden[annotation_field(SPECS[name].key, owner)] = (
                    f"{own!r} is overridden by {source} {path} ({value!r}): the class's value wins"
                )
        for key, value in sorted((service.get("tags") or {}).items()):
            imposed = self.class_tags.get(key)
            if imposed is not None and imposed != value:
                self.overridden[annotation_field(SPECS["tags"].key, owner)] = (
                    f"{key}={value} is overridden by {source} spec.tags ({key}={imposed}): "
                    f"the class's value wins"
                )

    def _build(
        self,
        *,
        service_name: str,
        service_uid: str,
        port: int | str,
        spec: ServiceSpec,
        service_port: ServicePort,
        settings: _TargetGroupSettings,
        port_field: str,
    ) -> TargetGroup:
        target_type: str = settings.get("target-type", self.defaults.target_type)
        if target_type == "instance" and spec.type not in ("NodePort", "LoadBalancer"):
            raise FieldError(
                port_field.rsplit(".port", 1)[0],
                f"target-type instance needs a NodePort or LoadBalancer Service; "
                f"service {service_name!r} is {spec.type} (use target-type ip, or change it)",
            )
        target_port = (
            service_port.target_port if service_port.target_port is not None else service_port.port
        )
        if target_type == "instance":
            tg_port = service_port.node_port or UNALLOCATED_PORT
        else:
            tg_port = target_port if isinstance(target_port, int) else UNALLOCATED_PORT
        protocol: str = settings.get("backend-protocol", "HTTP")
        version: str = settings.get("backend-protocol-version", "HTTP1")
        service_key = f"{self.namespace}/{service_name}"
        user_tags = {
            **settings.ingress.get("tags", {}),
            **settings.service.get("tags", {}),
            **self.class_tags,
        }
        tg_id = f"{self.ingress_key}-{service_name}:{port}"
        families = spec.ip_families or []
        control_port = _target_control_port(settings, f"{service_name}.{port}", target_type)
        return TargetGroup(
            id=tg_id,
            name=target_group_name(
                cluster=self.defaults.cluster_name,
                stack_id=self.stack_id,
                ingress=self.ingress_key,
                service=service_key,
                service_uid=service_uid,
                service_port=port,
                target_group_port=tg_port,
                target_type=target_type,
                protocol=protocol,
                protocol_version=version,
                target_control_port=control_port,
            ),
            service=service_key,
            service_port=port,
            target_type=target_type,
            protocol=protocol,
            protocol_version=version,
            port=tg_port,
            target_port=target_port,
            ip_address_type="ipv6" if target_type == "ip" and families[:1] == ["IPv6"] else "ipv4",
            health_check=self._health_check(settings, spec, target_type, version),
            attributes=settings.get("target-group-attributes", {}),
            tags=stack_tags(self.defaults, self.stack_id, tg_id, user_tags),
            node_labels=settings.get("target-node-labels", {}),
            target_control_port=control_port,
        )

    def _health_check(
        self, settings: _TargetGroupSettings, spec: ServiceSpec, target_type: str, version: str
    ) -> HealthCheck:
        grpc = version == "GRPC"
        interval: int = settings.get("healthcheck-interval-seconds", 15)
        timeout: int = settings.get("healthcheck-timeout-seconds", 5)
        if timeout >= interval:
            # Blame an annotation that is set: with the timeout left at its default, the
            # interval is what went too low.
            timeout_set = settings.has("healthcheck-timeout-seconds")
            blamed = (
                "healthcheck-timeout-seconds" if timeout_set else "healthcheck-interval-seconds"
            )
            raise FieldError(
                settings.field(blamed),
                f"timeout ({timeout}s{'' if timeout_set else ', the default'}) must be less "
                f"than the interval ({interval}s"
                f"{'' if settings.has('healthcheck-interval-seconds') else ', the default'})",
            )
        matcher: str = settings.get("success-codes", GRPC_MATCHER if grpc else "200")
        low, high = (0, 99) if grpc else (200, 499)
        for code in matcher.replace("-", ",").split(","):
            if not low <= int(code) <= high:
                raise FieldError(
                    settings.field("success-codes"),
                    f"code {code} is out of range: {'gRPC' if grpc else 'HTTP'} codes are "
                    f"{low}..{high}",
                )
        return HealthCheck(
            protocol=settings.get("healthcheck-protocol", "HTTP"),
            port=self._health_check_port(settings, spec, target_type),
            path=settings.get("healthcheck-path", GRPC_HEALTH_PATH if grpc else "/"),
            interval_seconds=interval,
            timeout_seconds=timeout,
            healthy_threshold_count=settings.get("healthy-threshold-count", 2),
            unhealthy_threshold_count=settings.get("unhealthy-threshold-count", 2),
            matcher=matcher,
        )

    def _health_check_port(
        self, settings: _TargetGroupSettings, spec: ServiceSpec, target_type: str
    ) -> str:
        port: int | str = settings.get("healthcheck-port", "traffic-port")
        if isinstance(port, int) or port == "traffic-port":
            return str(port)
        # A named port: the Service port of that name, as the targets see it.
        named = next((p for p in spec.ports if p.name == port), None)
        if named is None:
            raise FieldError(
                settings.field("healthcheck-port"), f"the service has no port {port!r}"
            )
        if target_type == "instance":
            if named.node_port is None:
                return "traffic-port"
            return str(named.node_port)
        if isinstance(named.target_port, int):
            return str(named.target_port)
        if named.target_port is None:
            return str(named.port)
        raise FieldError(
            settings.field("healthcheck-port"),
            f"port {port!r} has a named targetPort; give the health check port as a number",
        )


class _TargetGroupSettings:
    """Target-group annotations of the Ingress and the Service; the Service's win, and the
    class's IngressClassParams win over both."""

    def __init__(
        self,
        ingress: AnnotationValues,
        service: AnnotationValues,
        owner: str,
        imposed: Mapping[str, tuple[str, Any]] | None = None,
    ) -> None:
        self.ingress = ingress.values
        self.service = service.values
        self._owner = owner
        self._imposed = imposed or {}
        self._templated = (service, ingress)  # the Service's first

    def get(self, name: str, default: Any) -> Any:
        if name in self._imposed:
            return self._imposed[name][1]
        if name in self.service:
            return self.service[name]
        return self.ingress.get(name, default)

    def has(self, name: str) -> bool:
        """Whether the Service or the Ingress sets `name` (else its default applies)."""
        return name in self.service or name in self.ingress

    def field(self, name: str) -> str:
        """The annotation that set `name`, for error messages."""
        owner = self._owner if name in self.service else ""
        return annotation_field(SPECS[name].key, owner)

    def templated(self, spec_name: str, name: str) -> tuple[Any, str]:
        """(value, field) of a templated target-group annotation for `name`, the Service's
        winning; (None, "") when neither sets it."""
        for values, owner in zip(self._templated, (self._owner, ""), strict=True):
            value = values.templated_value(spec_name, name)
            if value is not None:
                prefix = spec_name.split("${", 1)[0]
                return value, annotation_field(f"{PREFIX}{prefix}{name}", owner)
        return None, ""


TARGET_CONTROL_PORT = "target-control-port.${serviceName}.${servicePort}"


def _target_control_port(
    settings: _TargetGroupSettings, backend: str, target_type: str
) -> int | None:
    """`target-control-port.<svc>.<port>` of the backend (port as the Ingress names it, as in
    LBC). ALB's target optimizer works with ip targets only; LBC refuses instance ones too."""
    port, where = settings.templated(TARGET_CONTROL_PORT, backend)
    if port is not None and target_type != "ip":
        raise FieldError(
            where,
            f"a target control port needs target-type ip (this backend's targets are "
            f"{target_type}s)",
        )
    return int(port) if port is not None else None


def _find_port(spec: ServiceSpec, port: int | str, service_name: str, field: str) -> ServicePort:
    for candidate in spec.ports:
        if (isinstance(port, int) and candidate.port == port) or (
            isinstance(port, str) and candidate.name == port
        ):
            return candidate
    ports = ", ".join(f"{p.name}:{p.port}" if p.name else str(p.port) for p in spec.ports) or "none"
    raise FieldError(field, f"service {service_name!r} has no port {port!r} (it has: {ports})")
