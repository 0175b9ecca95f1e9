"""A stand-in for AWS WAF Classic (regional), which moto does not have.

It answers the three calls the controller makes (GetWebACLForResource, AssociateWebACL,
DisassociateWebACL) over botocore's real request path: the client serialises each call as
AWS's JSON protocol, and `FakeWafRegional` answers before it would leave the process. What
it keeps is what AWS keeps: at most one web ACL per resource, a new association replacing
the old; an unknown web ACL ID or a load balancer that does not exist is
WAFNonexistentItemException.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from moto.core.botocore_stubber import MockRawResponse


@dataclass
class FakeWafRegional:
    # Web ACL ID -> name: the web ACLs the account has.
    web_acls: dict[str, str] = field(default_factory=dict)
    # Resource ARN -> web ACL ID.
    associations: dict[str, str] = field(default_factory=dict)
    # Whether a resource ARN names a load balancer that exists (AWS checks).
    exists: Callable[[str], bool] = lambda _: True
    calls: list[str] = field(default_factory=list)

    def attach(self, client: Any) -> None:
        """Answer `client`'s calls (a boto3 waf-regional client)."""
        client.meta.events.register_first("before-send.waf-regional", self._answer)

    def _answer(self, request: Any, **_: Any) -> AWSResponse:
        operation = str(request.headers["X-Amz-Target"], "utf-8").split(".")[-1]
        params = json.loads(request.body or b"{}")
        self.calls.append(operation)
        try:
            body = getattr(self, operation)(params)
            status = 200
        except LookupError as missing:
            body = {"__type": "WAFNonexistentItemException", "message": str(missing)}
            status = 400
        raw = MockRawResponse(json.dumps(body).encode())
        headers = HTTPHeaders.from_dict({"content-type": "application/x-amz-json-1.1"})
        return AWSResponse(request.url, status, headers, raw)

    def _resource(self, params: dict[str, Any]) -> str:
        arn = str(params["ResourceArn"])
        if not self.exists(arn):
            raise LookupError(f"resource {arn} does not exist")
        return arn

    def GetWebACLForResource(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        acl = self.associations.get(self._resource(params))
        return (
            {} if acl is None else {"WebACLSummary": {"WebACLId": acl, "Name": self.web_acls[acl]}}
        )

    def AssociateWebACL(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        arn, acl = self._resource(params), str(params["WebACLId"])
        if acl not in self.web_acls:
            raise LookupError(f"web ACL {acl} does not exist")
        self.associations[arn] = acl
        return {}

    def DisassociateWebACL(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        self.associations.pop(self._resource(params), None)
        return {}
