"""What a cluster moving over from LBC relies on, in the model (issue: migration safety).

Each test fails without the behaviour it names; the golden case `ssl-redirect-action` holds
LBC's rule optimizer (no redirect loop on HTTPS:443, no rules a redirect shadows).
"""

from __future__ import annotations

import json

from controller.model.annotations import PREFIX

from .factories import ingress, path, plan, rule, service


def _weighted(port: int | str) -> dict[str, str]:
    action = {
        "type": "forward",
        "forwardConfig": {"targetGroups": [{"serviceName": "svc", "servicePort": port}]},
    }
    return {PREFIX + "actions.split": json.dumps(action)}


def test_a_service_port_given_as_a_numeric_string_is_that_port_number() -> None:
    # `"servicePort": "80"` is in many blog posts and AWS's own examples; LBC reads it as 80.
    rules = [rule(None, path("/", "split", port="use-annotation"))]
    as_string = plan(ingress(rules=rules, annotations=_weighted("80")), service())
    as_number = plan(ingress(rules=rules, annotations=_weighted(80)), service())
    assert as_string.errors == ()
    assert as_string.stacks == as_number.stacks
    [tg] = as_string.stacks[0].target_groups
    assert tg.port == 30080  # the NodePort of Service port 80


def test_a_service_port_name_still_names_a_port() -> None:
    rules = [rule(None, path("/", "split", port="use-annotation"))]
    result = plan(ingress(rules=rules, annotations=_weighted("http")), service())
    assert result.errors == ()
    assert result.stacks[0].target_groups[0].port == 30080
