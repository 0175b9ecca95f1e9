"""Listener rules: match live rules to desired ones by content, then change as little as can be.

The plan (a pure function, `plan_rules`) follows LBC's since v2.12, which fixed the 404s of
rule-by-rule rewrites:
1. a live rule with the same conditions and actions as a desired one is that rule (same
   priority first); if only its priority differs, it moves;
2. left-over live rules are rewritten in place with ModifyRule (same priority first), moving
   when their priority differs;
3. what is still missing is created; what is still left over is deleted.
All moves go in ONE SetRulePriorities call per listener (AWS checks the final state, so swaps
are fine); a rule about to be deleted that holds a wanted priority is pushed down to the
bottom (50000 and below) in the same call. Then modify, then create, then delete: the
traffic a rule serves is never without a rule.

The `ingress.k8s.aws/resource` tag (`<port>:<priority>`) is written at creation; since rules
are paired by content, it is not rewritten when only the priority moves (that would cost a
call per moved rule and serve nothing).

A rule's content is its conditions, actions and transforms. ModifyRule leaves a rule's
transforms as they are unless told: a modify sends the wanted `Transforms`, or
`ResetTransforms` when the live rule has some and none are wanted (AWS refuses both at once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from controller.aws.client_secrets import (
    ClientSecrets,
    live_digest,
    stale,
    tags_with_digest,
)
from controller.aws.clients import AwsClients
from controller.aws.errors import about, has_code, on_behalf_of
from controller.aws.shapes import canonical_actions, canonical_conditions, canonical_transforms
from controller.aws.tags import sync_elbv2_tags, to_aws
from controller.limits import MAX_PRIORITY
from controller.model.stack import TAG_RESOURCE, ClientSecretRef

BOTTOM_PRIORITY = MAX_PRIORITY


@dataclass(frozen=True)
class DesiredRule:
    priority: int
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    tags: dict[str, str]
    ingress: str = ""  # the member whose rule it is: a refusal of it is that member's
    # The OIDC client secret its actions need (`controller.aws.client_secrets`).
    secret: ClientSecretRef | None = None
    transforms: list[dict[str, Any]] = field(default_factory=list)  # RuleTransforms

    @property
    def key(self) -> tuple[Any, ...]:
        return (
            canonical_conditions(self.conditions),
            canonical_actions(self.actions),
            canonical_transforms(self.transforms),
        )


@dataclass(frozen=True)
class LiveRule:
    arn: str
    priority: int
    key: tuple[Any, ...]
    tags: dict[str, str] = field(default_factory=dict)
    # The digest of its OIDC client secret, when known (its digest tag).
    secret_digest: str | None = None
    has_transforms: bool = False  # a modify that wants none must reset them

    @classmethod
    def from_aws(cls, rule: dict[str, Any], tags: dict[str, str]) -> LiveRule:
        actions = rule.get("Actions") or ()
        transforms = rule.get("Transforms") or ()
        return cls(
            arn=str(rule["RuleArn"]),
            priority=int(rule["Priority"]),
            key=(
                canonical_conditions(rule.get("Conditions") or ()),
                canonical_actions(actions),
                canonical_transforms(transforms),
            ),
            tags=tags,
            secret_digest=live_digest(actions, tags),
            has_transforms=bool(transforms),
        )


@dataclass
class RulePlan:
    priorities: dict[str, int] = field(default_factory=dict)  # rule ARN -> new priority
    modify: list[tuple[str, DesiredRule]] = field(default_factory=list)
    create: list[DesiredRule] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    kept: list[tuple[LiveRule, DesiredRule]] = field(default_factory=list)  # pairs, for tags

    @property
    def empty(self) -> bool:
        return not (self.priorities or self.modify or self.create or self.delete)


def plan_rules(desired: Sequence[DesiredRule], live: Sequence[LiveRule]) -> RulePlan:
    """What to call to turn `live` into `desired` (both without the default rule)."""
    plan = RulePlan()
    todo = sorted(desired, key=lambda r: r.priority)
    spare = sorted(live, key=lambda r: r.priority)
    pairs: list[tuple[LiveRule, DesiredRule]] = []

    def pair(match: Any) -> None:
        for want in list(todo):
            have = next((r for r in spare if match(r, want)), None)
            if have is not None:
                pairs.append((have, want))
                todo.remove(want)
                spare.remove(have)

    pair(lambda r, w: r.key == w.key and r.priority == w.priority)
    pair(lambda r, w: r.key == w.key)
    pair(lambda r, w: r.priority == w.priority)
    pair(lambda r, w: True)
    plan.kept = list(pairs)
    for have, want in pairs:
        # A rotated client secret is a change AWS cannot show: the digest tag tells it.
        if have.key != want.key or stale(want.secret, have.secret_digest):
            plan.modify.append((have.arn, want))
        if have.priority != want.priority:
            plan.priorities[have.arn] = want.priority
    plan.create = todo
    plan.delete = [r.arn for r in spare]
    # Rules on their way out must not sit where a moved rule is going.
    wanted = {w.priority for w in desired}
    taken = wanted | {r.priority for r in live}
    bottom = BOTTOM_PRIORITY
    for rule in spare:
        if rule.priority in set(plan.priorities.values()):
            while bottom in taken:
                bottom -= 1
            plan.priorities[rule.arn] = bottom
            taken.add(bottom)
    return plan


class Rules:
    def __init__(self, clients: AwsClients, secrets: ClientSecrets | None = None) -> None:
        self._clients = clients
        self._secrets = secrets or ClientSecrets(None)

    def apply(self, listener_arn: str, plan: RulePlan) -> None:
        elbv2: Any = self._clients.elbv2
        live = {have.arn: have for have, _ in plan.kept}
        sent: dict[str, str | None] = {}  # rule ARN -> digest of the secret sent
        with about(f"rules of listener {listener_arn}"):
            if plan.priorities:
                elbv2.set_rule_priorities(
                    RulePriorities=[
                        {"RuleArn": arn, "Priority": priority}
                        for arn, priority in sorted(plan.priorities.items(), key=lambda i: i[1])
                    ]
                )
            for arn, want in plan.modify:
                with on_behalf_of([want.ingress], f"rule {want.priority} of {want.ingress}"):
                    actions, sent[arn] = self._secrets.prepare(
                        want.actions, want.secret, live[arn].secret_digest, want.ingress
                    )
                    elbv2.modify_rule(
                        RuleArn=arn,
                        Conditions=want.conditions,
                        Actions=actions,
                        **_transform_changes(want, live[arn]),
                    )
            for want in plan.create:
                with on_behalf_of([want.ingress], f"rule {want.priority} of {want.ingress}"):
                    self._create(listener_arn, want)
            for arn in plan.delete:
                try:
                    elbv2.delete_rule(RuleArn=arn)
                except ClientError as error:
                    if not has_code(error, "RuleNotFound"):
                        raise
            for have, want in plan.kept:
                tags, keep = tags_with_digest(want.tags, want.secret, sent.get(have.arn))
                ignore = [TAG_RESOURCE, *keep, *self._clients.external_tags]
                sync_elbv2_tags(elbv2, have.arn, have.tags, tags, ignore=ignore)

    def _create(self, listener_arn: str, want: DesiredRule) -> None:
        actions, digest = self._secrets.prepare(want.actions, want.secret, None, want.ingress)
        tags, _ = tags_with_digest(want.tags, want.secret, digest)
        extra: dict[str, Any] = {"Transforms": want.transforms} if want.transforms else {}
        self._clients.elbv2.create_rule(
            ListenerArn=listener_arn,
            Priority=want.priority,
            Conditions=want.conditions,  # type: ignore[arg-type]
            Actions=actions,  # type: ignore[arg-type]
            Tags=to_aws(tags),  # type: ignore[arg-type]
            **extra,
        )


def _transform_changes(want: DesiredRule, have: LiveRule) -> dict[str, Any]:
    """ModifyRule's transform parameters: the wanted ones, a reset, or nothing (kept)."""
    if want.transforms:
        return {"Transforms": want.transforms}
    if have.has_transforms:
        return {"ResetTransforms": True}
    return {}
