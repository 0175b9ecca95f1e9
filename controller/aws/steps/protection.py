"""The protection step: the load balancer's WAFv2 or WAF Classic web ACL and its Shield
Advanced protection, each managed only when the stack asks (an annotation is set).

It runs right after the load balancer and before its listeners, so a load balancer made (or
made again for a scheme change) is protected before it has a listener to take traffic on,
and before DNS moves to it: a failed association stops the deploy there, with no listener
serving unprotected. WAF associations go with their load balancer, so nothing is cleaned up
for them; a Shield protection stays after its resource is deleted, so the teardown deletes
ours (by LBC's protection name) before the load balancer goes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from controller.aws.clients import AwsClients
from controller.aws.errors import AwsError
from controller.aws.live import LiveStack
from controller.aws.protection import (
    MANAGED_PROTECTION_NAMES,
    ShieldProtections,
    WafClassicAcls,
    WebAcls,
)
from controller.aws.steps.run import DeployRun
from controller.aws.warnings import SHIELD_NOT_SUBSCRIBED
from controller.model.stack import ShieldProtection, WafClassicAssociation, WebAclAssociation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AddOns:
    """Which add-ons this controller manages at all (LBC's `--enable-waf`, `--enable-wafv2`,
    `--enable-shield`): one turned off is left to another tool (AWS Firewall Manager, say),
    whatever the annotations say."""

    waf_classic: bool = True
    wafv2: bool = True
    shield: bool = True


ALL_ADD_ONS = AddOns()


class ProtectionStep:
    name = "protection"
    gates_teardown = False

    def __init__(self, clients: AwsClients, enabled: AddOns = ALL_ADD_ONS) -> None:
        self.enabled = enabled
        self.wafv2 = WebAcls(clients)
        self.waf_classic = WafClassicAcls(clients)
        self.shield = ShieldProtections(clients)

    def apply(self, run: DeployRun) -> None:
        wanted = run.stack.load_balancer
        # A load balancer made in this deploy has no add-ons yet: nothing to read.
        fresh = run.created_load_balancer
        arn = run.balancer.arn
        if wanted.wafv2 is not None and self.enabled.wafv2:
            self._wafv2(arn, wanted.wafv2, fresh)
        if wanted.waf_classic is not None and self.enabled.waf_classic:
            self._waf_classic(arn, wanted.waf_classic, fresh)
        if wanted.shield_advanced is not None and self.enabled.shield:
            self._shield(run, arn, wanted.shield_advanced, fresh)

    def cleanup(self, run: DeployRun) -> None:
        """Nothing: a replaced load balancer's associations go with it."""

    def teardown(self, stack_id: str, live: LiveStack) -> None:
        if not self.enabled.shield or not live.load_balancers:
            return
        if not self._subscribed_for_teardown(stack_id):
            return
        for lb in live.load_balancers:
            found = self.shield.protection(lb.arn)
            if found is not None and found[1] in MANAGED_PROTECTION_NAMES:
                self.shield.unprotect(found[0], lb.arn)

    def _wafv2(self, lb_arn: str, wanted: WebAclAssociation, fresh: bool) -> None:
        current = None if fresh else self.wafv2.associated(lb_arn)
        if wanted.arn is None and wanted.name is None:
            if current is not None:
                self.wafv2.disassociate(lb_arn)
            return
        acl = wanted.arn or self.wafv2.arn_of(str(wanted.name))
        if current != acl:
            self.wafv2.associate(lb_arn, acl)

    def _waf_classic(self, lb_arn: str, wanted: WafClassicAssociation, fresh: bool) -> None:
        current = None if fresh else self.waf_classic.associated(lb_arn)
        if current == wanted.web_acl_id:
            return
        if wanted.web_acl_id is None:
            self.waf_classic.disassociate(lb_arn)
        else:
            self.waf_classic.associate(lb_arn, wanted.web_acl_id)

    def _shield(self, run: DeployRun, lb_arn: str, wanted: ShieldProtection, fresh: bool) -> None:
        if not self.shield.subscribed():
            if wanted.enabled:
                run.warn(
                    SHIELD_NOT_SUBSCRIBED,
                    f"load balancer {run.stack.load_balancer.name}: shield-advanced-protection "
                    "is true but the account has no Shield Advanced subscription; not protected",
                )
            return
        found = None if fresh else self.shield.protection(lb_arn)
        if wanted.enabled and found is None:
            self.shield.protect(lb_arn)
        elif not wanted.enabled and found is not None:
            if found[1] in MANAGED_PROTECTION_NAMES:
                self.shield.unprotect(found[0], lb_arn)
            else:
                log.info("Shield protection %r of %s is not ours: left as it is", found[1], lb_arn)

    def _subscribed_for_teardown(self, stack_id: str) -> bool:
        """A teardown must not stall on Shield: an account without it (or a role without
        the permission) has no protection of ours to delete."""
        try:
            return self.shield.subscribed()
        except AwsError as error:
            if error.retryable:
                raise
            log.warning(
                "stack %s: Shield state not readable (%s); no protection deleted (not asked "
                "again for 5 minutes)",
                stack_id,
                error,
            )
            self.shield.assume_unsubscribed()
            return False
