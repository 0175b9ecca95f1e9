"""The model builder's entry points: a whole cluster -> `Plan`, one group -> `GroupResult`.

Pure: same `ClusterState` and `ModelDefaults`, same result, names included. Bad input never
raises; it becomes `BuildError`s naming the Ingress and field, and only the members at fault
are left out. `ModelError` is raised only if the builder itself produces an invalid `Stack`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controller.config import ModelDefaults
from controller.model.assemble import assemble
from controller.model.auth import SecretsIndex, secrets_index
from controller.model.class_params import ParamsIndex
from controller.model.dns import group_dns_records
from controller.model.groups import GroupRef, group_of, selected_class
from controller.model.ingress import ParsedIngress, parse_ingress
from controller.model.inputs import ClusterState, metadata_of
from controller.model.stack import BuildError, BuildWarning, Plan, Stack


@dataclass(frozen=True)
class GroupResult:
    """One group's desired state.

    `stack` is None when no member built (the caller tears the group's resources down).
    `members` are the group's active Ingresses (not being deleted) in group order, valid or
    not; `stack.ingresses` are those that built.
    """

    stack: Stack | None
    errors: tuple[BuildError, ...]
    members: tuple[str, ...]
    # What members that built asked for and got worked around (a missing backend, ...).
    warnings: tuple[BuildWarning, ...] = ()


def _services_index(state: ClusterState) -> dict[tuple[str, str], Mapping[str, Any]]:
    index: dict[tuple[str, str], Mapping[str, Any]] = {}
    for service in state.services:
        meta = metadata_of(service)
        index.setdefault((meta.namespace, meta.name), service)
    return index


def _classify(
    state: ClusterState, defaults: ModelDefaults
) -> tuple[dict[str, list[tuple[Mapping[str, Any], GroupRef]]], list[BuildError]]:
    """Active Ingresses of ours by group id, and the errors of those with no valid group."""
    groups: dict[str, list[tuple[Mapping[str, Any], GroupRef]]] = {}
    errors: list[BuildError] = []
    for ingress in state.ingresses:
        if metadata_of(ingress).deletion_timestamp:
            continue
        ref = group_of(ingress, state.ingress_classes, defaults, state.ingress_class_params)
        if isinstance(ref, BuildError):
            errors.append(ref)
        elif ref is not None:
            groups.setdefault(ref.id, []).append((ingress, ref))
    return groups, sorted(errors, key=lambda e: (e.ingress, e.field))


def _group_order(item: tuple[Mapping[str, Any], GroupRef]) -> tuple[int, str, str]:
    meta = metadata_of(item[0])
    return (item[1].order, meta.namespace, meta.name)


@dataclass(frozen=True)
class _Inputs:
    """What building any group of a cluster state reads besides its members."""

    services: Mapping[tuple[str, str], Mapping[str, Any]]
    secrets: SecretsIndex
    ingress_classes: Sequence[Mapping[str, Any]]
    params: ParamsIndex

    @classmethod
    def of(cls, state: ClusterState) -> _Inputs:
        return cls(
            services=_services_index(state),
            secrets=secrets_index(state.secrets),
            ingress_classes=state.ingress_classes,
            params=ParamsIndex(state.ingress_class_params, state.namespaces),
        )


def _build_members(
    group_id: str,
    members: Sequence[tuple[Mapping[str, Any], GroupRef]],
    inputs: _Inputs,
    defaults: ModelDefaults,
) -> GroupResult:
    ordered = sorted(members, key=_group_order)
    keys = [f"{metadata_of(i).namespace}/{metadata_of(i).name}" for i, _ in ordered]
    errors: list[BuildError] = []
    parsed: list[ParsedIngress] = []
    for ingress, ref in ordered:
        ingress_class = selected_class(ingress, inputs.ingress_classes, defaults)
        imposed = inputs.params.imposed(metadata_of(ingress).namespace, ingress_class)
        result = parse_ingress(
            ingress, ref, inputs.services, defaults, inputs.secrets, imposed=imposed
        )
        if isinstance(result, list):
            errors += result
        else:
            parsed.append(result)
    explicit = bool(ordered) and ordered[0][1].explicit
    # Members a whole-group check blamed are dropped and the group assembled again, so the
    # result never depends on them; each round drops at least one, so this ends.
    dropped: list[BuildError] = []
    while True:
        keep = [p for p in parsed if p.key not in {e.ingress for e in dropped}]
        attempt = assemble(group_id, explicit, keep, defaults)
        if not attempt.drop:
            break
        dropped += attempt.drop
    errors += dropped
    errors += attempt.errors
    position = {key: index for index, key in enumerate(keys)}
    errors.sort(key=lambda e: (position.get(e.ingress, len(position)), _natural(e.field)))
    warnings = tuple(w for p in parsed for w in p.warnings)
    if attempt.stack is not None and defaults.manage_dns:
        # Members whose DNS options for a host lose to an earlier member's hear why.
        built = [p for p in keep if p.key in attempt.stack.ingresses]
        ip_type = attempt.stack.load_balancer.ip_address_type
        warnings += group_dns_records(built, ip_type)[1]
    return GroupResult(
        stack=attempt.stack, errors=tuple(errors), members=tuple(keys), warnings=warnings
    )


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts `paths[2]` before `paths[10]`."""
    parts = re.split(r"(\d+)", text)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def build_group(
    group: GroupRef,
    members: Sequence[Mapping[str, Any]],
    state: ClusterState,
    defaults: ModelDefaults,
) -> GroupResult:
    """The desired state of one group from its members (the kube layer's cache knows them;
    `state` gives the Services they use).

    Only what `group_of` puts in `group` is built, so a stale caller cannot slip in an
    Ingress of another group; Ingresses being deleted are not members.
    """
    belonging: list[tuple[Mapping[str, Any], GroupRef]] = []
    for ingress in members:
        if metadata_of(ingress).deletion_timestamp:
            continue
        ref = group_of(ingress, state.ingress_classes, defaults, state.ingress_class_params)
        if isinstance(ref, GroupRef) and ref == group:
            belonging.append((ingress, ref))
    return _build_members(group.id, belonging, _Inputs.of(state), defaults)


def build(state: ClusterState, defaults: ModelDefaults) -> Plan:
    """Every group's stack and every error: what `plan` prints."""
    groups, errors = _classify(state, defaults)
    inputs = _Inputs.of(state)
    stacks: list[Stack] = []
    warnings: list[BuildWarning] = []
    for group_id in sorted(groups):
        result = _build_members(group_id, groups[group_id], inputs, defaults)
        if result.stack is not None:
            stacks.append(result.stack)
        errors += result.errors
        warnings += result.warnings
    return Plan(stacks=tuple(stacks), errors=tuple(errors), warnings=tuple(warnings))
