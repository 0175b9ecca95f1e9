"""Checks of a `Stack` against AWS's fixed limits, before any call.

The model builder already keeps within them and names the Ingress and field; a `Stack` can
come from elsewhere (tests, a future API), and AWS's own 400 would name neither the Ingress
nor the rule, so the deployer checks again.
"""

from __future__ import annotations

import re

from controller.aws.errors import AwsError
from controller.limits import (
    LISTENER_ATTRIBUTE_KEY_PATTERN,
    MAX_CONDITION_VALUES,
    MAX_LISTENER_ATTRIBUTE_KEY_LENGTH,
    MAX_PRIORITY,
    MAX_TARGET_GROUPS_PER_ACTION,
)
from controller.model.stack import ForwardAction, Rule, Stack


def validate(stack: Stack) -> None:
    """Reject what AWS would reject, naming the Ingress and rule."""
    tg_ids = {tg.id for tg in stack.target_groups}
    for listener in stack.listeners:
        where = f"stack {stack.id}: listener {listener.port}"
        if listener.protocol == "HTTPS" and not (
            listener.certificates or listener.certificate_hosts
        ):
            raise _invalid(where, "HTTPS needs a certificate-arn or rule hosts")
        for key in listener.attributes:
            if len(key) > MAX_LISTENER_ATTRIBUTE_KEY_LENGTH or not re.fullmatch(
                LISTENER_ATTRIBUTE_KEY_PATTERN, key
            ):
                raise _invalid(where, f"{key[:40]!r} is not a listener attribute key")
        for rule in listener.rules:
            _check_rule(f"stack {stack.id}: rule {listener.port}:{rule.priority}", rule)
        for action in [*listener.default_actions, *(a for r in listener.rules for a in r.actions)]:
            if isinstance(action, ForwardAction):
                _check_forward(where, action, tg_ids)


def _check_rule(where: str, rule: Rule) -> None:
    where += f" (ingress {rule.ingress or '?'})"
    if not 1 <= rule.priority <= MAX_PRIORITY:
        raise _invalid(where, f"priority must be 1..{MAX_PRIORITY}")
    count = sum(c.value_count() for c in rule.conditions)
    if count > MAX_CONDITION_VALUES:
        raise _invalid(
            where, f"{count} condition values; AWS allows {MAX_CONDITION_VALUES} per rule"
        )


def _check_forward(where: str, action: ForwardAction, tg_ids: set[str]) -> None:
    if len(action.target_groups) > MAX_TARGET_GROUPS_PER_ACTION:
        raise _invalid(
            where, f"more than {MAX_TARGET_GROUPS_PER_ACTION} target groups in one forward"
        )
    for tuple_ in action.target_groups:
        if tuple_.id is not None and tuple_.id not in tg_ids:
            raise _invalid(where, f"unknown target group {tuple_.id}")


def _invalid(where: str, message: str) -> AwsError:
    return AwsError(where, "ValidationError", message, retryable=False)
