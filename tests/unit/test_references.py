"""What the model says an Ingress uses and holds: the Services it routes to, the groups whose
finalizer it carries, and that `build_group` builds only the members `group_of` puts in it.
The cache indexes exactly these, so they are the one answer to "who uses what"."""

from __future__ import annotations

import json

from controller.model import GroupRef, build_group, held_groups, referenced_services
from controller.model.annotations import PREFIX

from .factories import DEFAULTS, backend, ingress, path, rule, service, state


def _weighted(*names: str) -> str:
    groups = [{"serviceName": n, "servicePort": "80", "weight": 1} for n in names]
    return json.dumps({"type": "forward", "forwardConfig": {"targetGroups": groups}})


def test_services_of_the_spec_and_of_forward_actions() -> None:
    ing = ingress(
        "app",
        rules=[rule(None, path("/", "web"), path("/split", "split", port="use-annotation"))],
        default_backend=backend("fallback"),
        annotations={PREFIX + "actions.split": _weighted("blue", "green")},
    )
    assert referenced_services(ing) == {
        "default/web",
        "default/split",
        "default/blue",
        "default/green",
        "default/fallback",
    }


def test_a_malformed_action_or_spec_refers_to_nothing() -> None:
    ing = ingress("app", annotations={PREFIX + "actions.split": "{not json"})
    ing["spec"]["rules"] = [{"http": {"paths": "nope"}}, None]
    assert referenced_services(ing) == frozenset()


def test_held_groups_read_both_finalizer_kinds() -> None:
    ing = ingress("app")
    ing["metadata"]["finalizers"] = [
        "ingress.k8s.aws/resources",
        "group.ingress.k8s.aws/shop",
        "example.com/other",
    ]
    assert held_groups(ing) == {
        GroupRef(id="default/app", explicit=False),
        GroupRef(id="shop", explicit=True),
    }


def test_build_group_builds_only_members_of_the_group() -> None:
    mine = ingress("a", annotations={PREFIX + "group.name": "shop"})
    other = ingress("b", annotations={PREFIX + "group.name": "other"})
    cluster = state(mine, other, service())
    result = build_group(GroupRef(id="shop", explicit=True), [mine, other], cluster, DEFAULTS)
    assert result.members == ("default/a",)
    assert result.stack is not None and result.stack.ingresses == ("default/a",)
