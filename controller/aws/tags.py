"""The tags we stamp on AWS resources, and the diff that keeps them in step.

The cluster, stack and resource tags (shared with aws-load-balancer-controller) are how live
state is found and paired with the model, so they always win over user tags of the same key.
Tags AWS reserves (`aws:` prefix) are never touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from controller.model.stack import TAG_CLUSTER, TAG_RESOURCE, TAG_STACK

TAG_BACKEND_SG = "elbv2.k8s.aws/resource"
BACKEND_SG_VALUE = "backend-sg"


def stack_tags(
    cluster: str, stack_id: str, resource_id: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """User tags plus our identity tags, which win on a clash."""
    return {
        **(extra or {}),
        TAG_CLUSTER: cluster,
        TAG_STACK: stack_id,
        TAG_RESOURCE: resource_id,
    }


def to_aws(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """Tags in the `[{"Key":..., "Value":...}]` shape, sorted for stable requests."""
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def from_aws(tags: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    return {str(tag["Key"]): str(tag.get("Value", "")) for tag in tags or ()}


def diff(
    current: Mapping[str, str],
    desired: Mapping[str, str],
    ignore: Iterable[str] = (),
) -> tuple[dict[str, str], list[str]]:
    """(tags to set, keys to remove) to turn `current` into `desired`; `ignore` is left be."""
    skip = set(ignore)
    to_set = {
        key: value
        for key, value in desired.items()
        if key not in skip and current.get(key) != value
    }
    to_remove = sorted(
        key
        for key in current
        if key not in desired and key not in skip and not key.startswith("aws:")
    )
    return to_set, to_remove


def sync_elbv2_tags(
    elbv2: Any,
    arn: str,
    current: Mapping[str, str],
    desired: Mapping[str, str],
    ignore: Iterable[str] = (),
) -> None:
    """Make one ELBv2 resource's tags `desired`: at most one AddTags and one RemoveTags."""
    to_set, to_remove = diff(current, desired, ignore)
    if to_set:
        elbv2.add_tags(ResourceArns=[arn], Tags=to_aws(to_set))
    if to_remove:
        elbv2.remove_tags(ResourceArns=[arn], TagKeys=to_remove)


def changed_attributes(
    current: Iterable[Mapping[str, Any]], desired: Mapping[str, str]
) -> list[dict[str, str]]:
    """The `[{"Key", "Value"}]` attributes that differ: only keys we specify are reconciled,
    as LBC does, so removing an annotation key never resets an attribute."""
    have = {str(a["Key"]): str(a.get("Value", "")) for a in current}
    return [{"Key": k, "Value": v} for k, v in sorted(desired.items()) if have.get(k) != v]


def carries_stack_tags(tags: Mapping[str, str], cluster: str, stack_id: str) -> bool:
    """Whether a resource carries this cluster's and stack's tags (whoever created it)."""
    return tags.get(TAG_CLUSTER) == cluster and tags.get(TAG_STACK) == stack_id
