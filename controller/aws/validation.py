"""Checks of a `Stack` against AWS's fixed limits, before any call.

The model builder already keeps within them and names the Ingress and field; a `Stack` can
come from elsewhere (tests, a future API), and AWS's own 400 would name neither the Ingress
nor the rule, so the deployer checks again.
"""

from __future__ import annotations

from controller.aws.errors import AwsError
from controller.limits import MAX_CONDITION_VALUES, MAX_PRIORITY, MAX_TARGET_GROUPS_PER_ACTION
from controller.model.stack import ForwardAction, Stack


def validate(stack: Stack) -> None:
    """Reject what AWS would reject, naming the Ingress and rule."""
    tg_ids = {tg.id for tg in stack.target_groups}

    def bad(where: str, message: str) -> AwsError:
        return AwsError(f"stack {stack.id}: {where}", "ValidationError", message, retryable=False)

    for listener in stack.listeners:
        if listener.protocol == "HTTPS" and not (
            listener.certificates or listener.certificate_hosts
        ):
            raise bad(f"listener {listener.port}", "HTTPS needs a certificate-arn or rule hosts")
        for rule in listener.rules:
            where = f"rule {listener.port}:{rule.priority} (ingress {rule.ingress or '?'})"
            if not 1 <= rule.priority <= MAX_PRIORITY:
                raise bad(where, f"priority must be 1..{MAX_PRIORITY}")
            count = sum(c.value_count() for c in rule.conditions)
            if count > MAX_CONDITION_VALUES:
                raise bad(
                    where, f"{count} condition values; AWS allows {MAX_CONDITION_VALUES} per rule"
                )
        for action in [*listener.default_actions, *(a for r in listener.rules for a in r.actions)]:
            if not isinstance(action, ForwardAction):
                continue
            if len(action.target_groups) > MAX_TARGET_GROUPS_PER_ACTION:
                raise bad(
                    f"listener {listener.port}",
                    f"more than {MAX_TARGET_GROUPS_PER_ACTION} target groups in one forward",
                )
            for tuple_ in action.target_groups:
                if tuple_.id is not None and tuple_.id not in tg_ids:
                    raise bad(f"listener {listener.port}", f"unknown target group {tuple_.id}")
