"""The `transforms.<name>` annotation -> the rule transforms of a backend's rules.

As LBC reads it: keyed by the backend's service name (the name of a `use-annotation`
action too), like `conditions.<name>`, and put on every rule whose path goes to that
backend. AWS takes no transforms on a listener's default rule, so an annotation that could
only apply to `spec.defaultBackend` (no path of the Ingress uses that name) is an error
naming it, instead of doing nothing in silence.
"""

from __future__ import annotations

from controller.model.annotation_reader import AnnotationValues, annotation_field
from controller.model.annotations import PREFIX
from controller.model.backends import FieldError
from controller.model.inputs import IngressSpec
from controller.model.rule_values import RewriteConfigValue, TransformValue
from controller.model.stack import Rewrite, RewriteConfig, Transform

TRANSFORMS = "transforms.${name}"
TRANSFORMS_PREFIX = PREFIX + "transforms."


def _rewrites(config: RewriteConfigValue | None) -> RewriteConfig | None:
    if config is None:
        return None
    return RewriteConfig(
        rewrites=tuple(Rewrite(regex=r.regex, replace=r.replace) for r in config.rewrites)
    )


def _transform(value: TransformValue) -> Transform:
    return Transform(
        type=value.type,
        host_header_rewrite_config=_rewrites(value.host_header_rewrite_config),
        url_rewrite_config=_rewrites(value.url_rewrite_config),
    )


def rule_transforms(annotations: AnnotationValues, name: str | None) -> tuple[Transform, ...]:
    """The transforms of the rules whose backend is named `name` (none without a name)."""
    if name is None:
        return ()
    values: list[TransformValue] = annotations.templated_value(TRANSFORMS, name) or []
    return tuple(_transform(value) for value in values)


def default_rule_transforms_error(
    annotations: AnnotationValues, spec: IngressSpec
) -> FieldError | None:
    """A transforms annotation meant for the default backend alone, which AWS refuses."""
    backend = spec.default_backend.service if spec.default_backend is not None else None
    if backend is None or annotations.templated_value(TRANSFORMS, backend.name) is None:
        return None
    on_paths = {
        path.backend.service.name
        for rule in spec.rules or ()
        for path in (rule.http.paths if rule.http is not None else ())
        if path.backend.service is not None
    }
    if backend.name in on_paths:
        return None  # it applies to those paths' rules
    return FieldError(
        annotation_field(TRANSFORMS_PREFIX + backend.name),
        f"{backend.name!r} is only spec.defaultBackend here, and AWS allows no transforms on "
        "a listener's default rule; put the backend on a path (e.g. Prefix /) to rewrite its "
        "requests",
    )
