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

from collections.abc import Mapping, Sequence
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
    ) -> GroupResult:
        """`build_group`, with the last good version of each member whose current one fails;
        the errors reported stay the current version's."""
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

    def remember(self, result: GroupResult, bodies: Mapping[str, Body]) -> None:
        """After a deploy: the members whose current version built are the new last good."""
        failed = {error.ingress for error in result.errors}
        built = result.stack.ingresses if result.stack is not None else ()
        for key in built:
            if key not in failed and key in bodies:
                self.bodies[key] = bodies[key]

    def forget(self, keys: Sequence[str]) -> None:
        """Ingresses deleted or gone from the group: nothing of theirs may stand in."""
        for key in keys:
            self.bodies.pop(key, None)
