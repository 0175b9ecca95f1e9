"""Merge the contributions of a group's Ingresses into one `Stack`, excluding bad members.

Members are taken in group order. A member whose exclusive settings disagree with an earlier
member's, whose listen port clashes, or that pushes the ALB over an AWS limit is excluded
with an error naming it (and, for conflicts, the other Ingress); the others still build.
Some checks can only be made on the whole group (the ssl-redirect port must be an HTTPS
listener; an HTTPS listener needs certificates or hosts to find them by). When one fails,
the member at fault is excluded and the group is assembled again without it, so what is
built never depends on an excluded member.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controller.config import ModelDefaults
from controller.model.annotation_reader import annotation_field
from controller.model.annotations import PREFIX, SPECS
from controller.model.group_stack import Contribution, GroupSettings, group_stack
from controller.model.ingress import ParsedIngress, RouteRule
from controller.model.stack import (
    Action,
    BuildError,
    ForwardAction,
    Stack,
)


def _field(name: str) -> str:
    return annotation_field(SPECS[name].key)


# `alb.ingress.kubernetes.io/listener-attributes.`, before `<Protocol>-<Port>`
LISTENER_ATTRIBUTES_KEY = PREFIX + "listener-attributes."


@dataclass(frozen=True)
class Assembly:
    """One attempt: the stack, the errors of members excluded in it, and members to drop."""

    stack: Stack | None
    errors: tuple[BuildError, ...]
    # Members at fault in a whole-group check: drop them and assemble again.
    drop: tuple[BuildError, ...]


def assemble(
    stack_id: str, explicit: bool, members: Sequence[ParsedIngress], defaults: ModelDefaults
) -> Assembly:
    settings = GroupSettings()
    accepted: list[ParsedIngress] = []
    errors: list[BuildError] = []
    for member in members:
        error = _merge(settings, member, defaults)
        if error is None:
            accepted.append(member)
        else:
            errors.append(error)
    drop = _group_checks(settings, accepted)
    if drop:
        return Assembly(None, tuple(errors), tuple(drop))
    contributions, limit_errors = _fit_within_limits(settings, accepted, defaults)
    if limit_errors:
        return Assembly(None, tuple(errors), tuple(limit_errors))
    if not accepted:
        return Assembly(None, tuple(errors), ())
    return Assembly(
        group_stack(
            stack_id=stack_id,
            explicit=explicit,
            settings=settings,
            accepted=accepted,
            contributions=contributions,
            defaults=defaults,
        ),
        tuple(errors),
        (),
    )


def _merge(
    settings: GroupSettings, member: ParsedIngress, defaults: ModelDefaults
) -> BuildError | None:
    """Fold one member's settings in, or say why it cannot join (settings then unchanged)."""
    error = _conflict(settings, member)
    if error is not None:
        return error
    certificates = {port: list(certs) for port, certs in settings.certificates.items()}
    for protocol, port in member.listen_ports:
        if protocol == "HTTPS":
            held = certificates.setdefault(port, [])
            held += [c for c in member.certificates if c not in held]
    error = _over_limits(settings, member, certificates, defaults)
    if error is not None:
        return error
    key = member.key
    for name, value in member.exclusive.items():
        settings.exclusive.setdefault(name, (value, key))
    for tag, value in member.tags.items():
        settings.tags.setdefault(tag, (value, key))
    _fold_listener_attributes(settings, member)
    for protocol, port in member.listen_ports:
        settings.ports.setdefault(port, (protocol, key))
    settings.certificates = certificates
    if member.default_actions is not None:
        settings.default_backend = key
    return None


def _conflict(settings: GroupSettings, member: ParsedIngress) -> BuildError | None:
    """The first of the member's settings that disagrees with an earlier member's."""

    def conflict(where: str, what: str, owner: str) -> BuildError:
        return BuildError(
            ingress=member.key,
            field=where,
            message=f"{what} conflicts with Ingress {owner} in group {member.ref.id!r}; "
            f"members must agree (this Ingress is left out of the group)",
        )

    for name, value in member.exclusive.items():
        if name in settings.exclusive and settings.exclusive[name][0] != value:
            held, owner = settings.exclusive[name]
            return conflict(_field(name), f"value {value!r} (vs {held!r})", owner)
    for tag, value in member.tags.items():
        if tag in settings.tags and settings.tags[tag][0] != value:
            return conflict(_field("tags"), f"tag {tag}={value}", settings.tags[tag][1])
    clash = _listener_attribute_conflict(settings, member)
    if clash is not None:
        return conflict(*clash)
    for protocol, port in member.listen_ports:
        if port in settings.ports and settings.ports[port][0] != protocol:
            held, owner = settings.ports[port]
            return conflict(_field("listen-ports"), f"port {port} as {protocol} (vs {held})", owner)
    if member.default_actions is not None and settings.default_backend is not None:
        return conflict("spec.defaultBackend", "a second default backend", settings.default_backend)
    return None


def _listener_attribute_conflict(
    settings: GroupSettings, member: ParsedIngress
) -> tuple[str, str, str] | None:
    """(field, what, owner) of the member's first listener attribute whose key an earlier
    member of the listener set to another value (LBC refuses that too)."""
    protocols = {port: protocol for protocol, port in member.listen_ports}
    for port, attributes in sorted(member.listener_attributes.items()):
        held = settings.listener_attributes.get(port, {})
        for name, value in sorted(attributes.items()):
            if name in held and held[name][0] != value:
                where = annotation_field(f"{LISTENER_ATTRIBUTES_KEY}{protocols[port]}-{port}")
                return (
                    where,
                    f"listener attribute {name}={value} (vs {held[name][0]})",
                    held[name][1],
                )
    return None


def _fold_listener_attributes(settings: GroupSettings, member: ParsedIngress) -> None:
    """Merge the member's listener attributes in, by port and key (the first setter kept)."""
    for port, attributes in member.listener_attributes.items():
        held = settings.listener_attributes.setdefault(port, {})
        for name, value in attributes.items():
            held.setdefault(name, (value, member.key))


def _over_limits(
    settings: GroupSettings,
    member: ParsedIngress,
    certificates: dict[int, list[str]],
    defaults: ModelDefaults,
) -> BuildError | None:
    """Whether the member's listeners or certificates would take the ALB over its quota."""
    new_ports = {port for _, port in member.listen_ports} - settings.ports.keys()
    listeners = defaults.listeners_per_alb
    if len(settings.ports) + len(new_ports) > listeners:
        return _limit_error(
            member, _field("listen-ports"), f"{listeners} listeners", len(new_ports)
        )
    sni = sum(max(0, len(c) - 1) for c in certificates.values())
    if sni > defaults.certificates_per_alb:
        added = sni - settings.sni_certificate_count()
        limit = f"{defaults.certificates_per_alb} certificates"
        return _limit_error(member, _field("certificate-arn"), limit, added)
    return None


def _limit_error(member: ParsedIngress, where: str, limit: str, added: int) -> BuildError:
    return BuildError(
        ingress=member.key,
        field=where,
        message=f"adding this Ingress ({added} more) would exceed the ALB limit of {limit}; "
        f"it is left out of group {member.ref.id!r}",
    )


def _group_checks(settings: GroupSettings, accepted: list[ParsedIngress]) -> list[BuildError]:
    """Checks only the whole group can fail; each error names the member to drop."""
    problems: list[BuildError] = []
    redirect = settings.exclusive.get("ssl-redirect")
    if redirect is not None:
        port, owner = redirect
        if settings.ports.get(port, ("", ""))[0] != "HTTPS":
            problems.append(
                BuildError(
                    ingress=owner,
                    field=_field("ssl-redirect"),
                    message=f"port {port} is not an HTTPS listen port of the group "
                    f"(HTTPS ports: {_https_ports(settings) or 'none'})",
                )
            )
    for port, (protocol, _) in sorted(settings.ports.items()):
        if protocol != "HTTPS" or settings.certificates.get(port):
            continue
        on_port = [m for m in accepted if ("HTTPS", port) in m.listen_ports]
        if not any(m.rule_hosts or m.tls_hosts for m in on_port):
            problems += [
                BuildError(
                    ingress=m.key,
                    field=_field("listen-ports"),
                    message=f"HTTPS port {port} has no certificate: set certificate-arn, or give "
                    f"hosts (spec.rules[].host or spec.tls[].hosts) to discover ACM "
                    f"certificates by",
                )
                for m in on_port
            ]
    return problems


def _https_ports(settings: GroupSettings) -> str:
    return ", ".join(str(p) for p, (proto, _) in sorted(settings.ports.items()) if proto == "HTTPS")


def _contribution(settings: GroupSettings, member: ParsedIngress) -> Contribution:
    redirected = settings.get("ssl-redirect") is not None
    rules: dict[int, tuple[RouteRule, ...]] = {}
    defaults: dict[int, tuple[Action, ...]] = {}
    for protocol, port in member.listen_ports:
        if protocol == "HTTP" and redirected:
            continue  # HTTP listeners only redirect
        rules[port] = tuple(rule.on(protocol) for rule in member.rules)
        if member.default_actions is not None:
            auth = member.default_auth if protocol == "HTTPS" else None
            defaults[port] = (auth, *member.default_actions) if auth else member.default_actions
    actions = [a for rs in rules.values() for r in rs for a in r.actions]
    actions += [a for acts in defaults.values() for a in acts]
    referenced = [
        t.id
        for a in actions
        if isinstance(a, ForwardAction)
        for t in a.target_groups
        if t.id is not None
    ]
    return Contribution(member, rules, defaults, tuple(dict.fromkeys(referenced)))


def _fit_within_limits(
    settings: GroupSettings, accepted: list[ParsedIngress], defaults: ModelDefaults
) -> tuple[list[Contribution], list[BuildError]]:
    """Members' rules and target groups in order; those that overflow a limit are reported."""
    contributions: list[Contribution] = []
    errors: list[BuildError] = []
    rules = 0
    target_groups: set[str] = set()
    for member in accepted:
        part = _contribution(settings, member)
        added_rules = sum(len(rs) for rs in part.rules.values())
        added_tgs = set(part.target_groups) - target_groups
        if rules + added_rules > defaults.rules_per_alb:
            limit = f"{defaults.rules_per_alb} rules"
            errors.append(_limit_error(member, "spec.rules", limit, added_rules))
        elif len(target_groups) + len(added_tgs) > defaults.target_groups_per_alb:
            limit = f"{defaults.target_groups_per_alb} target groups"
            errors.append(_limit_error(member, "spec.rules", limit, len(added_tgs)))
        else:
            rules += added_rules
            target_groups |= added_tgs
            contributions.append(part)
    return contributions, errors
