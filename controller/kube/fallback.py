"""A member's last good version stands in while its current one does not build.

A typo in one Ingress of a group used to cost that Ingress its traffic: the next deploy
built the group without it, and its rules, target groups and DNS records went. LBC blocks
the whole group instead. Here the member's last version that built (and was deployed) is
built in its place, so what it had keeps serving, while the current version's errors are
reported on it; once it is fixed it deploys as usual, and once it is deleted or leaves the
group its part goes. The versions are kept in memory: after a restart, an invalid member
is left out as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from controller.config import ModelDefaults
from controller.model import ClusterState, GroupRef, GroupResult, build_group
from controller.model.inputs import key_of

Body = Mapping[str, Any]


@dataclass
class LastGood:
    """The last version of each Ingress that built and was deployed, by `ns/name`."""

    bodies: dict[str, Body] = field(default_factory=dict)

    def build(
        self,
        group: GroupRef,
        members: Sequence[Body],
        state: ClusterState,
        defaults: ModelDefaults,
        *,
        refused: Collection[str] = (),
        dropped: Collection[str] = (),
    ) -> GroupResult:
        """`build_group`, with the last good version of each member whose current one fails
        or was refused by AWS (left out if dropped, or with none); the errors reported stay
        the current version's."""
        if refused:
            members = [
                self.bodies[key] if key in refused else body
                for body in members
                if (key := key_of(body)) not in refused
                or (key in self.bodies and key not in dropped)
            ]
        result = build_group(group, members, state, defaults)
        failed = {error.ingress for error in result.errors}
        if not failed & self.bodies.keys():
            return result
        stand_ins = [
            self.bodies[key] if (key := key_of(body)) in failed and key in self.bodies else body
            for body in members
        ]
        kept = build_group(group, stand_ins, state, defaults)
        return replace(kept, errors=result.errors)

    def remember(
        self, result: GroupResult, bodies: Mapping[str, Body], refused: Collection[str] = ()
    ) -> None:
        """After a deploy: the members whose current version built (and that AWS did not
        refuse) are the new last good."""
        failed = {error.ingress for error in result.errors} | set(refused)
        built = result.stack.ingresses if result.stack is not None else ()
        for key in built:
            if key not in failed and key in bodies:
                self.bodies[key] = bodies[key]

    def forget(self, keys: Sequence[str]) -> None:
        """Ingresses deleted or gone from the group: nothing of theirs may stand in."""
        for key in keys:
            self.bodies.pop(key, None)


@dataclass(frozen=True)
class Refusal:
    """AWS refused a member's part: the version refused, what AWS said, and whether its last
    good version was refused too (then the member is left out)."""

    fingerprint: str
    message: str
    dropped: bool = False


def fingerprint(body: Body, ignored: Collection[str] = ()) -> str:
    """What a person edits in an Ingress (spec, annotations but `ignored` ones, labels)."""
    meta = body.get("metadata") or {}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in ignored}
    content = [body.get("spec"), annotations, meta.get("labels")]
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Refusals:
    """Members AWS refused, by `ns/name`, kept while they stay as they were refused: the next
    reconciles build without them at once instead of being refused again. An edit of the
    member, or the periodic drift check (the missing certificate may be issued by now), lets
    it be tried again."""

    ignored: Collection[str] = ()  # annotations that are not edits (our own records)
    refused: dict[str, Refusal] = field(default_factory=dict)

    def standing(self, bodies: Mapping[str, Body], retry: bool) -> dict[str, Refusal]:
        """The refusals that still hold for these members; none if `retry`."""
        found: dict[str, Refusal] = {}
        for key, body in bodies.items():
            refusal = self.refused.pop(key, None)
            unchanged = refusal is not None and refusal.fingerprint == fingerprint(
                body, self.ignored
            )
            if refusal is not None and unchanged and not retry:
                found[key] = self.refused[key] = refusal
        return found

    def refuse(self, key: str, body: Body, message: str, *, dropped: bool) -> Refusal:
        refusal = Refusal(fingerprint(body, self.ignored), message, dropped)
        self.refused[key] = refusal
        return refusal

    def forget(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.refused.pop(key, None)
