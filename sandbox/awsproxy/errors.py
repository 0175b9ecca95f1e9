"""AWS error responses, byte for byte in each service's own error format.

When the proxy refuses a call (empty token bucket, injected fault) the client must see what
AWS sends, or botocore would classify it differently and the controller's retry path would
not be the one production takes. Formats, per protocol:

- query (elbv2, sts, iam): ``<ErrorResponse xmlns=...><Error><Type>Sender</Type><Code>..``
- ec2: ``<Response><Errors><Error><Code>..</Code><Message>..</Message></Error></Errors>
  <RequestID>..</RequestID></Response>``; EC2 throttling is ``RequestLimitExceeded``, HTTP 503
- rest-xml (route53): ``<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">``
- json / rest-json (acm, tagging): ``{"__type": "...", "message": "..."}`` with
  ``x-amzn-RequestId`` and ``x-amzn-ErrorType`` headers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from xml.sax.saxutils import escape

from sandbox.awsproxy.identify import Call


class ErrorKind(Enum):
    """The refusals the proxy can answer with."""

    THROTTLING = "throttling"
    INTERNAL = "internal"  # HTTP 500
    UNAVAILABLE = "unavailable"  # HTTP 503


@dataclass(frozen=True)
class ErrorReply:
    """A complete HTTP reply: status, headers, body."""

    status: int
    code: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


# (status, code, message, type) per kind, for most services; ec2 and json differ below.
_GENERIC = {
    ErrorKind.THROTTLING: (400, "Throttling", "Rate exceeded", "Sender"),
    ErrorKind.INTERNAL: (500, "InternalFailure", "An internal error occurred.", "Receiver"),
    ErrorKind.UNAVAILABLE: (503, "ServiceUnavailable", "Service is unavailable.", "Receiver"),
}
_EC2 = {
    ErrorKind.THROTTLING: (503, "RequestLimitExceeded", "Request limit exceeded."),
    ErrorKind.INTERNAL: (500, "InternalError", "An internal error has occurred."),
    ErrorKind.UNAVAILABLE: (503, "Unavailable", "The server is overloaded."),
}
_JSON_THROTTLING = "ThrottlingException"

# The query protocol's error namespace is the service's API namespace.
_QUERY_NAMESPACES = {
    "elbv2": "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
    "elb": "http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
}
_ROUTE53_NAMESPACE = "https://route53.amazonaws.com/doc/2013-04-01/"


def error_reply(call: Call, kind: ErrorKind, request_id: str) -> ErrorReply:
    """The reply AWS gives for ``kind`` on ``call``'s service."""
    if call.protocol == "ec2":
        status, code, message = _EC2[kind]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
        return _xml(status, code, body)

    status, code, message, fault = _GENERIC[kind]
    if call.protocol in ("json", "rest-json"):
        if kind is ErrorKind.THROTTLING:
            code = _JSON_THROTTLING
        payload = json.dumps({"__type": code, "message": message}).encode()
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": code,
        }
        return ErrorReply(status, code, payload, headers)

    namespace = (
        _ROUTE53_NAMESPACE if call.service == "route53" else _QUERY_NAMESPACES.get(call.service, "")
    )
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<ErrorResponse{xmlns}><Error><Type>{fault}</Type><Code>{code}</Code>"
        f"<Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return _xml(status, code, body, request_id)


def _xml(status: int, code: str, body: str, request_id: str = "") -> ErrorReply:
    headers = {"Content-Type": "text/xml"}
    if request_id:
        headers["x-amzn-RequestId"] = request_id
    return ErrorReply(status, code, body.encode(), headers)
