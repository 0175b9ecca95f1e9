"""A member's last good version stands in while its current one does not build.

A typo in one Ingress of a group used to cost that Ingress its traffic: the next deploy
built the group without it, and its rules, target groups and DNS records went. LBC blocks
the whole group instead. Here the member's last version that built (and was deployed) is
built in its place, so what it had keeps serving, while the current version's errors are
reported on it; once it is fixed it deploys as usual, and once it is deleted or leaves the
group its part goes. The versions are kept in memory and, so that a restart keeps them, in
an annotation on the Ingress itself (`LAST_GOOD_ANNOTATION`: the spec and the annotations
the model reads, written with the applied record, in the same patch).

The same stands for a member AWS refused (`refused`: a host with no certificate, a rule
value AWS rejects): its last good version is built in its place, and if AWS refuses that
too (`dropped`), the member is left out, so the rest of the group still deploys.
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

# The last version of an Ingress that built and was deployed: what the model reads of it.
LAST_GOOD_ANNOTATION = "alb-ingress-controller/last-good"
# external-dns's hostname annotation too: its hosts get records (`controller.model.dns`).
READ_PREFIXES = (
    "alb.ingress.kubernetes.io/",
    "kubernetes.io/ingress.class",
    "external-dns.alpha.kubernetes.io/hostname",
)
MAX_SNAPSHOT = 64 * 1024  # characters; a larger version is kept in memory only


def snapshot(body: Body) -> str | None:
    """What the model reads of `body`, as the annotation value (None: too large to keep)."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    read = {k: v for k, v in annotations.items() if k.startswith(READ_PREFIXES)}
    value = json.dumps(
        {"spec": body.get("spec"), "annotations": read}, sort_keys=True, separators=(",", ":")
    )
    return value if len(value) <= MAX_SNAPSHOT else None


def restored(body: Body) -> Body | None:
    """`body` as its `LAST_GOOD_ANNOTATION` says it last was (None: no usable record)."""
    meta = dict(body.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    try:
        saved = json.loads(annotations.get(LAST_GOOD_ANNOTATION) or "")
        spec, read = saved["spec"], dict(saved["annotations"])
    except (ValueError, KeyError, TypeError):
        return None
    kept = {k: v for k, v in annotations.items() if not k.startswith(READ_PREFIXES)}
    meta["annotations"] = {**kept, **read}
    return {**body, "metadata": meta, "spec": spec}


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
                (self._version(body) or body) if key_of(body) in refused else body
                for body in members
                if key_of(body) not in refused
                or (key_of(body) not in dropped and self._version(body) is not None)
            ]
        result = build_group(group, members, state, defaults)
        failed = {error.ingress for error in result.errors}
        if not failed:
            return result
        stand_ins = [
            (self._version(body) or body) if key_of(body) in failed else body for body in members
        ]
        if stand_ins == list(members):
            return result
        kept = build_group(group, stand_ins, state, defaults)
        return replace(kept, errors=result.errors)

    def _version(self, body: Body) -> Body | None:
        """The member's last good version: this process's, else the one its annotation
        records (after a restart)."""
        return self.bodies.get(key_of(body)) or restored(body)

    @staticmethod
    def fresh(result: GroupResult, refused: Collection[str] = ()) -> set[str]:
        """The members built from their current version (not stood in for)."""
        failed = {error.ingress for error in result.errors} | set(refused)
        built = result.stack.ingresses if result.stack is not None else ()
        return {key for key in built if key not in failed}

    def remember(
        self, result: GroupResult, bodies: Mapping[str, Body], refused: Collection[str] = ()
    ) -> None:
        """After a deploy: the members whose current version built (and that AWS did not
        refuse) are the new last good."""
        for key in self.fresh(result, refused):
            if key in bodies:
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
            refusal = self.refused.get(key)
            if refusal is None:
                continue
            if retry or refusal.fingerprint != fingerprint(body, self.ignored):
                del self.refused[key]  # edited since, or due to be tried again
            else:
                found[key] = refusal
        return found

    def refuse(self, key: str, body: Body, message: str, *, dropped: bool) -> Refusal:
        refusal = Refusal(fingerprint(body, self.ignored), message, dropped)
        self.refused[key] = refusal
        return refusal

    def forget(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.refused.pop(key, None)
