"""What an Ingress refers to, as the model reads it: the Services it routes to, and the
Secrets its (or a Service's) `auth-idp-oidc` names.

The kube layer's cache indexes Ingresses by these, so a Service change reconciles only the
groups that use it. They are read the way the builder reads them: backends in the spec
(`defaultBackend` and every path), and the `serviceName`s of the forward actions in
`actions.<name>` annotations, parsed by the model's own annotation reader. A malformed part
refers to nothing; the builder reports it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from controller.model.annotation_reader import read_annotations
from controller.model.annotations import PREFIX, SPECS, TEMPLATED, Location
from controller.model.inputs import metadata_of

_ACTION_PREFIXES = tuple(
    PREFIX + spec.template_prefix for spec in TEMPLATED if spec.name == "actions.${name}"
)


def referenced_services(ingress: Mapping[str, Any]) -> frozenset[str]:
    """`ns/name` of every Service the Ingress routes to."""
    meta = metadata_of(ingress)
    names = set(_spec_services(ingress.get("spec")))
    actions = {
        key: value
        for key, value in (meta.annotations or {}).items()
        if isinstance(key, str) and key.startswith(_ACTION_PREFIXES)
    }
    if actions:
        for action in read_annotations(actions, Location.INGRESS).actions.values():
            forward = action.forward_config
            for target in forward.target_groups if forward is not None else ():
                if target.service_name is not None:
                    names.add(target.service_name)
    return frozenset(f"{meta.namespace}/{name}" for name in names)


def _spec_services(spec: Any) -> Iterator[str]:
    if not isinstance(spec, Mapping):
        return
    yield from _backend_service(spec.get("defaultBackend"))
    for rule in spec.get("rules") or ():
        http = rule.get("http") if isinstance(rule, Mapping) else None
        paths = http.get("paths") if isinstance(http, Mapping) else None
        for path in paths if isinstance(paths, list) else ():
            if isinstance(path, Mapping):
                yield from _backend_service(path.get("backend"))


def _backend_service(backend: Any) -> Iterator[str]:
    service = backend.get("service") if isinstance(backend, Mapping) else None
    if isinstance(service, Mapping) and isinstance(service.get("name"), str):
        yield service["name"]


_AUTH_IDP_OIDC = SPECS["auth-idp-oidc"]


def referenced_secrets(obj: Mapping[str, Any]) -> frozenset[str]:
    """`ns/name` of the Secret an Ingress's or Service's `auth-idp-oidc` names (in its own
    namespace); none when the annotation is absent or malformed."""
    meta = metadata_of(obj)
    raw = (meta.annotations or {}).get(_AUTH_IDP_OIDC.key)
    if not isinstance(raw, str):
        return frozenset()
    try:
        value = _AUTH_IDP_OIDC.parse(raw)
    except ValueError:
        return frozenset()
    return frozenset({f"{meta.namespace}/{value.secret_name}"})
