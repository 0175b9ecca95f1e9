"""IngressClassParams: the settings a cluster administrator imposes on every Ingress of a class.

aws-load-balancer-controller's CRD (`elbv2.k8s.aws/v1beta1`, cluster-scoped), named by an
IngressClass's `spec.parameters`. As in LBC, the params win over the Ingresses' annotations:
each field that has an annotation counterpart replaces that annotation's value on every
Ingress of the class (`tags` and `loadBalancerAttributes` are merged instead, the params'
keys winning), before the group is merged, so the rest of the builder sees them as
annotations and a group holds them to the same rules. An annotation the params override
with another value is reported (`IngressClassParamsOverride`), never silently dropped.

`namespaceSelector` refuses the class to Ingresses of namespaces it does not select;
`group.name` puts every Ingress of the class in that group. A bad value is an error on every
Ingress of the class naming the params object and the field (`IngressClassParams/web
spec.scheme`), checked with the annotation's own syntax; the fields this controller cannot
honour are parsed, checked and reported as unsupported, not ignored in silence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import TypeAdapter, ValidationError

from controller.model.annotation_reader import (
    LISTENER_ATTRIBUTES,
    AnnotationValues,
    annotation_field,
)
from controller.model.annotations import PREFIX, SPECS, TEMPLATED
from controller.model.inputs import (
    IngressClassParameters,
    IngressClassParamsSpec,
    KeyValue,
    LabelSelector,
    describe_validation_error,
    format_location,
    metadata_of,
    spec_of,
)
from controller.model.stack import UNSUPPORTED_ANNOTATION, BuildWarning
from controller.model.values import SubnetTagFilter

API_GROUP = "elbv2.k8s.aws"
KIND = "IngressClassParams"
# Ours: a member's annotation the class's params replaced with another value.
INGRESS_CLASS_PARAMS_OVERRIDE = "IngressClassParamsOverride"
# The label the API server puts on every namespace (its name), so a selector on it always
# has something to match, even for a namespace `plan -f` was not given.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

# The WAFv2 pair: params that set either replace both annotations (LBC reads the params'
# ARN, else their name, and no annotation then).
WAFV2 = ("wafv2-acl-arn", "wafv2-acl-name")
PREFIX_LISTS = "security-group-prefix-lists"


@dataclass(frozen=True)
class ParamsField:
    """One field of the CRD's spec: the annotation it stands for, and what it does here."""

    path: str  # e.g. `spec.scheme`
    setting: str | None  # the annotation's name (`scheme`); None: it has none
    effect: str  # for the README


FIELDS: tuple[ParamsField, ...] = (
    ParamsField(
        "spec.namespaceSelector",
        None,
        "Only Ingresses in namespaces it selects (matchLabels, matchExpressions) may use the "
        "class; others get a FailedBuildModel error and nothing is made for them.",
    ),
    ParamsField(
        "spec.group.name",
        "group.name",
        "Every Ingress of the class joins this group; their group.name annotations are not read.",
    ),
    ParamsField("spec.scheme", "scheme", "Replaces the annotation."),
    ParamsField("spec.inboundCIDRs", "inbound-cidrs", "Replaces the annotation."),
    ParamsField(
        "spec.certificateArn", "certificate-arn", "Replaces the annotation (a list of ARNs)."
    ),
    ParamsField("spec.sslPolicy", "ssl-policy", "Replaces the annotation."),
    ParamsField("spec.sslRedirectPort", "ssl-redirect", "Replaces the annotation."),
    ParamsField("spec.subnets.ids", "subnets", "Replaces the annotation."),
    ParamsField(
        "spec.subnets.tags",
        "subnets",
        "Replaces the annotation: the subnets are discovered among those with each tag key "
        "and one of its values (an empty list: any value), not by the role tag; with ids it "
        "is ignored, as in LBC.",
    ),
    ParamsField("spec.ipAddressType", "ip-address-type", "Replaces the annotation."),
    ParamsField(
        "spec.tags",
        "tags",
        "Merged with the annotation, the params' keys winning, on every resource (the "
        "Service's tags annotation included); DEFAULT_TAGS still win over both.",
    ),
    ParamsField(
        "spec.targetType",
        "target-type",
        "Replaces the annotation, on the Ingress and on its Services.",
    ),
    ParamsField("spec.loadBalancerName", "load-balancer-name", "Replaces the annotation."),
    ParamsField(
        "spec.loadBalancerAttributes",
        "load-balancer-attributes",
        "Merged with the annotation, the params' keys winning.",
    ),
    ParamsField(
        "spec.wafv2AclArn",
        "wafv2-acl-arn",
        "Replaces both wafv2 annotations (and wins over spec.wafv2AclName).",
    ),
    ParamsField("spec.wafv2AclName", "wafv2-acl-name", "Replaces both wafv2 annotations."),
    ParamsField(
        "spec.listeners",
        "listener-attributes.${Protocol}-${Port}",
        "listenerAttributes of each protocol and port: merged with the Ingresses' "
        "listener-attributes annotation of that listener, the params' keys winning.",
    ),
    ParamsField(
        "spec.minimumLoadBalancerCapacity",
        "minimum-load-balancer-capacity",
        "Replaces the annotation (capacityUnits: N).",
    ),
    ParamsField(
        "spec.ipamConfiguration",
        "ipam-ipv4-pool-id",
        "ipv4IPAMPoolId replaces the annotation.",
    ),
    ParamsField(
        "spec.prefixListsIDs",
        "security-group-prefix-lists",
        "Replaces the annotation (the older spelling PrefixListsIDs too; prefixListsIDs wins).",
    ),
)

# Fields whose params value replaces an annotation's: (attribute of the spec, its path, the
# annotation). `tags`, `loadBalancerAttributes`, `subnets` and `group` are read apart.
_REPLACING: tuple[tuple[str, str, str], ...] = (
    ("scheme", "spec.scheme", "scheme"),
    ("inbound_cidrs", "spec.inboundCIDRs", "inbound-cidrs"),
    ("certificate_arn", "spec.certificateArn", "certificate-arn"),
    ("ssl_policy", "spec.sslPolicy", "ssl-policy"),
    ("ssl_redirect_port", "spec.sslRedirectPort", "ssl-redirect"),
    ("ip_address_type", "spec.ipAddressType", "ip-address-type"),
    ("target_type", "spec.targetType", "target-type"),
    ("load_balancer_name", "spec.loadBalancerName", "load-balancer-name"),
    ("wafv2_acl_arn", "spec.wafv2AclArn", "wafv2-acl-arn"),
    ("wafv2_acl_name", "spec.wafv2AclName", "wafv2-acl-name"),
)
# Settings the params impose on target groups, over the Services' annotations too.
TARGET_GROUP_SETTINGS = ("target-type",)

_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _adapter(setting: str) -> TypeAdapter[Any] | None:
    """The annotation's value type, to check a params value with the annotation's syntax
    (None if the annotation is not in the table: the field is then unsupported)."""
    spec = SPECS.get(setting) or next((t for t in TEMPLATED if t.name == setting), None)
    if spec is None:
        return None
    if setting not in _ADAPTERS:
        _ADAPTERS[setting] = TypeAdapter(spec.value_type)
    return _ADAPTERS[setting]


@dataclass(frozen=True)
class ClassParams:
    """One IngressClassParams, checked: what it imposes, and what is wrong with it."""

    name: str
    # Annotation name -> (field path, value) that replaces the member's annotation.
    values: Mapping[str, tuple[str, Any]] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)  # merged under the annotation's
    attributes: Mapping[str, str] = field(default_factory=dict)  # load-balancer-attributes
    # spec.listeners: listenerAttributes by (protocol, port)
    listener_attributes: Mapping[tuple[str, int], Mapping[str, str]] = field(default_factory=dict)
    group_name: str | None = None
    selector: LabelSelector | None = None
    errors: tuple[tuple[str, str], ...] = ()  # (field, message)
    unsupported: tuple[tuple[str, str], ...] = ()  # (field, message): reported, ignored

    def where(self, path: str) -> str:
        """How errors and warnings name a field of this object."""
        return where(self.name, path)

    def target_group_settings(self) -> dict[str, tuple[str, Any]]:
        """What the params impose on target groups, over the Services' annotations too."""
        return {name: self.values[name] for name in TARGET_GROUP_SETTINGS if name in self.values}


def where(params_name: str, path: str) -> str:
    return f"{KIND}/{params_name} {path}"


def parameters_name(ingress_class: Mapping[str, Any] | None) -> str | None:
    """The IngressClassParams an IngressClass names, if it names one of ours."""
    reference = _reference(ingress_class)
    if isinstance(reference, str):
        return reference
    return None


def _reference(ingress_class: Mapping[str, Any] | None) -> str | tuple[str, str] | None:
    """The params' name, None (no parameters), or (field, message) when the class names
    something this controller cannot read."""
    if ingress_class is None:
        return None
    class_name = metadata_of(ingress_class).name
    try:
        parameters = spec_of(ingress_class, IngressClassParameters).parameters
    except ValidationError as err:
        return (f"IngressClass/{class_name} spec.parameters", describe_validation_error(err))
    if parameters is None:
        return None
    if parameters.api_group != API_GROUP or parameters.kind != KIND:
        return (
            f"IngressClass/{class_name} spec.parameters",
            f"names {parameters.kind} of apiGroup {parameters.api_group or '(core)'}; this "
            f"controller reads only {KIND} of {API_GROUP}",
        )
    return parameters.name


def find_params(
    ingress_class: Mapping[str, Any] | None, params: Sequence[Mapping[str, Any]] | None
) -> Mapping[str, Any] | tuple[str, str] | None:
    """The IngressClassParams object the class names; None when it names none (or they
    cannot be read at all); (field, message) when it names one wrongly or one that does
    not exist (LBC refuses the class's Ingresses then too)."""
    reference = _reference(ingress_class)
    if reference is None or isinstance(reference, tuple):
        return reference
    if params is None:
        return None
    for candidate in params:
        if metadata_of(candidate).name == reference:
            return candidate
    assert ingress_class is not None  # a reference came from it
    return (
        f"IngressClass/{metadata_of(ingress_class).name} spec.parameters.name",
        f"{KIND} {reference!r} does not exist (create it, or remove spec.parameters)",
    )


def group_name_of(obj: Mapping[str, Any]) -> str | tuple[str, str] | None:
    """Just `spec.group.name` of an IngressClassParams (what group membership needs, on
    every Ingress event): the name, None, or (field, message) when it is invalid."""
    name = metadata_of(obj).name
    spec = obj.get("spec")
    group = spec.get("group") if isinstance(spec, Mapping) else None
    if group is None:
        return None
    if not isinstance(group, Mapping):
        return (where(name, "spec.group"), "must be an object: {name: <group name>}")
    raw = group.get("name")
    adapter = _adapter("group.name")
    assert adapter is not None  # group.name is in the table
    try:
        value: str = adapter.validate_python(raw)
    except ValidationError as err:
        return (where(name, "spec.group.name"), _invalid(raw, err))
    return value


def parse_params(obj: Mapping[str, Any]) -> ClassParams:
    """Check one IngressClassParams object; never raises."""
    name = metadata_of(obj).name
    try:
        spec = spec_of(obj, IngressClassParamsSpec)
    except ValidationError as err:
        errors = tuple(
            (
                where(name, _location(tuple(item["loc"]))),
                str(item["msg"]).removeprefix("Value error, "),
            )
            for item in err.errors(include_url=False)
        )
        return ClassParams(name=name, errors=errors)
    reader = _Reader(name)
    for attribute, path, setting in _REPLACING:
        raw = getattr(spec, attribute)
        if raw is None or raw in ("", []):
            continue  # LBC: an empty value is no value
        reader.replace(setting, path, str(raw) if attribute == "ssl_redirect_port" else raw)
    reader.subnets(spec)
    tags = reader.pairs("tags", "spec.tags", spec.tags)
    attributes = reader.pairs(
        "load-balancer-attributes", "spec.loadBalancerAttributes", spec.load_balancer_attributes
    )
    group_name = group_name_of(obj)
    if isinstance(group_name, tuple):
        reader.errors.append(group_name)
        group_name = None
    reader.capacity_ipam_prefix_lists(spec)
    return ClassParams(
        name=name,
        values=reader.values,
        tags=tags,
        attributes=attributes,
        listener_attributes=reader.listeners(spec),
        group_name=group_name,
        selector=spec.namespace_selector,
        errors=tuple(reader.errors),
        unsupported=tuple(reader.unsupported),
    )


class _Reader:
    """Collects one params object's values, errors and unsupported fields."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.values: dict[str, tuple[str, Any]] = {}
        self.errors: list[tuple[str, str]] = []
        self.unsupported: list[tuple[str, str]] = []

    def where(self, path: str) -> str:
        return where(self.name, path)

    def check(self, setting: str, path: str, raw: Any) -> Any:
        """The value in the annotation's typed form, or None after recording why not."""
        adapter = _adapter(setting)
        if adapter is None:
            self.not_yet(path, f"the {setting} annotation")
            return None
        try:
            return adapter.validate_python(raw)
        except ValidationError as err:
            self.errors.append((self.where(path), _invalid(raw, err)))
            return None

    def replace(self, setting: str, path: str, raw: Any) -> None:
        value = self.check(setting, path, raw)
        if value is not None:  # None also for a blank WAF value: as if unset (LBC)
            self.values[setting] = (path, value)

    def pairs(self, setting: str, path: str, items: list[KeyValue] | None) -> dict[str, str]:
        if not items:
            return {}
        merged = {item.key: item.value for item in items}  # a later key wins, as in LBC
        checked = self.check(setting, path, merged)
        return dict(checked) if checked is not None else {}

    def subnets(self, spec: IngressClassParamsSpec) -> None:
        if spec.subnets is None:
            return
        if spec.subnets.ids:
            self.replace("subnets", "spec.subnets.ids", spec.subnets.ids)
            if spec.subnets.tags:
                self.unsupported.append(
                    (self.where("spec.subnets.tags"), "ignored: spec.subnets.ids win, as in LBC")
                )
        elif spec.subnets.tags:
            tags = spec.subnets.tags
            blank = [key for key in tags if not key.strip()]
            if blank:
                self.errors.append((self.where("spec.subnets.tags"), "a tag key is empty"))
                return
            found = SubnetTagFilter(
                tuple((key, tuple(sorted(set(tags[key])))) for key in sorted(tags))
            )
            self.values["subnets"] = ("spec.subnets.tags", found)

    def capacity_ipam_prefix_lists(self, spec: IngressClassParamsSpec) -> None:
        """The fields whose value is shaped unlike their annotation's: given that shape."""
        if spec.minimum_load_balancer_capacity is not None:
            units = spec.minimum_load_balancer_capacity.capacity_units
            self.replace(
                "minimum-load-balancer-capacity",
                "spec.minimumLoadBalancerCapacity.capacityUnits",
                f"CapacityUnits={units}",
            )
        if spec.ipam_configuration is not None and spec.ipam_configuration.ipv4_ipam_pool_id:
            self.replace(
                "ipam-ipv4-pool-id",
                "spec.ipamConfiguration.ipv4IPAMPoolId",
                spec.ipam_configuration.ipv4_ipam_pool_id,
            )
        if spec.prefix_lists_ids:
            self.replace(
                "security-group-prefix-lists", "spec.prefixListsIDs", spec.prefix_lists_ids
            )
        elif spec.prefix_lists_ids_legacy:
            self.replace(
                "security-group-prefix-lists", "spec.PrefixListsIDs", spec.prefix_lists_ids_legacy
            )

    def listeners(self, spec: IngressClassParamsSpec) -> dict[tuple[str, int], dict[str, str]]:
        """spec.listeners' attributes by (protocol, port), each checked like the annotation."""
        found: dict[tuple[str, int], dict[str, str]] = {}
        for index, listener in enumerate(spec.listeners or ()):
            path = f"spec.listeners[{index}].listenerAttributes"
            merged = {item.key: item.value for item in listener.listener_attributes or ()}
            if not merged:
                continue
            checked = self.check(LISTENER_ATTRIBUTES, path, merged)
            if checked is not None:
                held = found.setdefault((listener.protocol, listener.port), {})
                held.update(checked)  # a listener listed twice: the later entry's keys win
        return found

    def not_yet(self, path: str, what: str) -> None:
        self.unsupported.append(
            (
                self.where(path),
                f"IngressClassParams field {path} is not supported yet ({what}); ignored",
            )
        )


def _invalid(raw: Any, err: ValidationError) -> str:
    text = repr(raw)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"invalid value {text}: {describe_validation_error(err)}"


def _location(loc: tuple[int | str, ...]) -> str:
    # `format_location` drops capitalised parts as pydantic's model names; LBC's legacy
    # `PrefixListsIDs` is a real field.
    if loc and loc[0] == "PrefixListsIDs":
        return format_location("spec.PrefixListsIDs", loc[1:])
    return format_location("spec", loc)


# --- the namespaceSelector ------------------------------------------------------------------


def namespace_labels(namespace: str, namespaces: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """A namespace's labels as the API server has them (its name label always there)."""
    return {**namespaces.get(namespace, {}), NAMESPACE_NAME_LABEL: namespace}


def selector_mismatch(selector: LabelSelector, labels: Mapping[str, str]) -> str | None:
    """Why `labels` do not match `selector` (Kubernetes' label selector semantics: every
    requirement must hold; an empty selector matches everything), or None if they do."""
    for key, value in sorted((selector.match_labels or {}).items()):
        if labels.get(key) != value:
            return f"it does not have the label {key}={value}"
    for index, requirement in enumerate(selector.match_expressions or ()):
        key, values = requirement.key, requirement.values or []
        present = key in labels
        holds = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[requirement.operator]
        if not holds:
            shown = f"{key}={labels[key]}" if present else f"no label {key}"
            wanted = f" {', '.join(values)}" if values else ""
            return (
                f"matchExpressions[{index}] ({key} {requirement.operator}{wanted}) does not "
                f"hold: it has {shown}"
            )
    return None


# --- imposing the params on one Ingress -----------------------------------------------------


@dataclass(frozen=True)
class Imposed:
    """What an Ingress's class imposes on it: its params (None: none), and the errors that
    refuse the class to it (a broken reference, bad params, a namespace not selected)."""

    params: ClassParams | None = None
    errors: tuple[tuple[str, str], ...] = ()  # (field, message)


class ParamsIndex:
    """Every IngressClassParams of a cluster state, each checked once, and the namespaces'
    labels: resolves what an Ingress's class imposes on it."""

    def __init__(
        self,
        params: Sequence[Mapping[str, Any]] | None,
        namespaces: Sequence[Mapping[str, Any]],
    ) -> None:
        self._objects = params
        self._parsed: dict[str, ClassParams] = {}
        self._namespaces: dict[str, dict[str, str]] = {
            metadata_of(ns).name: dict(metadata_of(ns).labels or {}) for ns in namespaces
        }

    def imposed(self, namespace: str, ingress_class: Mapping[str, Any] | None) -> Imposed:
        """What `ingress_class` (the class that made an Ingress of `namespace` ours; None:
        the legacy annotation did, so no class applies) imposes on it."""
        found = find_params(ingress_class, self._objects)
        if found is None:
            return Imposed()
        if isinstance(found, tuple):
            return Imposed(errors=(found,))
        name = metadata_of(found).name
        if name not in self._parsed:
            self._parsed[name] = parse_params(found)
        params = self._parsed[name]
        errors = list(params.errors)
        if params.selector is not None:
            labels = namespace_labels(namespace, self._namespaces)
            why = selector_mismatch(params.selector, labels)
            if why is not None:
                class_name = metadata_of(ingress_class or {}).name
                listed = "" if namespace in self._namespaces else " (its labels are unknown)"
                errors.append(
                    (
                        params.where("spec.namespaceSelector"),
                        f"namespace {namespace!r}{listed} is not selected: {why}; its "
                        f"Ingresses may not use IngressClass {class_name!r}",
                    )
                )
        return Imposed(params=params, errors=tuple(errors))


def impose(
    ingress_key: str, annotations: AnnotationValues, params: ClassParams
) -> tuple[AnnotationValues, tuple[BuildWarning, ...]]:
    """The Ingress's annotations with the params applied, and a warning for each value of
    its own that they override (an annotation error on a replaced key is one too: LBC does
    not read that annotation at all)."""
    imposer = _Imposer(ingress_key, params, dict(annotations.values))
    replaced = dict(params.values)
    if params.group_name is not None:
        replaced["group.name"] = ("spec.group.name", params.group_name)
    imposer.drop_other_wafv2(replaced)
    errors = imposer.unread_errors(annotations.errors, replaced)
    imposer.replace(replaced)
    imposer.merge("tags", "spec.tags", params.tags)
    imposer.merge("load-balancer-attributes", "spec.loadBalancerAttributes", params.attributes)
    listener_attributes = imposer.merge_listeners(dict(annotations.listener_attributes))
    imposed = replace(
        annotations,
        values=imposer.values,
        errors=errors,
        listener_attributes=listener_attributes,
    )
    return imposed, tuple(imposer.warnings)


class _Imposer:
    """One Ingress's annotation values as its class's params change them, with warnings."""

    def __init__(self, ingress_key: str, params: ClassParams, values: dict[str, Any]) -> None:
        self.key = ingress_key
        self.params = params
        self.values = values
        self.warnings: list[BuildWarning] = []

    def warn(self, setting: str, message: str) -> None:
        self.warnings.append(
            BuildWarning(
                ingress=self.key,
                field=annotation_field(SPECS[setting].key),
                message=message,
                reason=INGRESS_CLASS_PARAMS_OVERRIDE,
            )
        )

    def drop_other_wafv2(self, replaced: Mapping[str, tuple[str, Any]]) -> None:
        """Params that set the ARN or the name of a WAFv2 ACL replace both annotations."""
        paths = [replaced[name][0] for name in WAFV2 if name in replaced]
        for name in WAFV2 if paths else ():
            if name not in replaced and name in self.values:
                self.warn(name, f"ignored: IngressClassParams {self.params.name} sets {paths[0]}")
                self.values.pop(name)

    def unread_errors(
        self, errors: tuple[tuple[str, str], ...], replaced: Mapping[str, tuple[str, Any]]
    ) -> tuple[tuple[str, str], ...]:
        """The annotation errors that still count: those of annotations the params replace
        become warnings."""
        fields = {annotation_field(SPECS[name].key): name for name in replaced}
        kept = []
        for where_, message in errors:
            setting = fields.get(where_)
            if setting is None:
                kept.append((where_, message))
                continue
            path = replaced[setting][0]
            self.warn(
                setting, f"not read ({message}): IngressClassParams {self.params.name} sets {path}"
            )
        return tuple(kept)

    def replace(self, replaced: Mapping[str, tuple[str, Any]]) -> None:
        for setting, (path, value) in replaced.items():
            own = self.values.get(setting)
            if own is not None and own != value:
                self.warn(
                    setting,
                    f"{_shown(own)} is overridden by IngressClassParams {self.params.name} "
                    f"{path} ({_shown(value)}): the class's value wins",
                )
            self.values[setting] = value

    def merge(self, setting: str, path: str, imposed: Mapping[str, str]) -> None:
        """Key=value annotations: the params' keys win, the Ingress's others stay."""
        if not imposed:
            return
        own: Mapping[str, str] = self.values.get(setting) or {}
        for key, value in sorted(own.items()):
            if key in imposed and imposed[key] != value:
                self.warn(
                    setting,
                    f"{key}={value} is overridden by IngressClassParams {self.params.name} "
                    f"{path} ({key}={imposed[key]}): the class's value wins",
                )
        self.values[setting] = {**own, **imposed}

    def merge_listeners(
        self, own: dict[tuple[str, int], dict[str, str]]
    ) -> dict[tuple[str, int], dict[str, str]]:
        """spec.listeners over the Ingress's listener-attributes, by listener and key."""
        for (protocol, port), imposed in sorted(self.params.listener_attributes.items()):
            held = own.get((protocol, port), {})
            for key, value in sorted(held.items()):
                if key in imposed and imposed[key] != value:
                    self.warnings.append(
                        BuildWarning(
                            ingress=self.key,
                            field=annotation_field(
                                f"{PREFIX}listener-attributes.{protocol}-{port}"
                            ),
                            message=f"{key}={value} is overridden by IngressClassParams "
                            f"{self.params.name} spec.listeners ({key}={imposed[key]}): the "
                            "class's value wins",
                            reason=INGRESS_CLASS_PARAMS_OVERRIDE,
                        )
                    )
            own[(protocol, port)] = {**held, **imposed}
        return own


def unsupported_warnings(ingress_key: str, params: ClassParams) -> tuple[BuildWarning, ...]:
    return tuple(
        BuildWarning(ingress=ingress_key, field=f, message=m, reason=UNSUPPORTED_ANNOTATION)
        for f, m in params.unsupported
    )


def _shown(value: Any) -> str:
    if isinstance(value, tuple | list):
        return repr(",".join(str(v) for v in value))
    return repr(value)
