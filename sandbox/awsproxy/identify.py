"""Which AWS service and operation an HTTP request calls, read the way AWS itself reads it.

The proxy counts, rate-limits and fault-injects per (service, operation), so it must name each
request's operation from the wire alone, for every protocol the controller's services use:

- query and ec2 protocols (elbv2, ec2, sts, iam): the form field ``Action`` in the POST body
  (or the query string), the service from the SigV4 credential scope
  ``Credential=<key>/<date>/<region>/<service>/aws4_request`` in ``Authorization``;
- JSON protocol (acm, resourcegroupstaggingapi, wafv2): ``X-Amz-Target: <prefix>.<Operation>``;
- REST-XML/REST-JSON (route53): method and path matched against the request URIs in botocore's
  own service model, so every Route 53 operation is named without a hand-kept table;
- Smithy RPCv2 (``/service/<Service>/operation/<Operation>``): the path.

botocore's service models are the source of truth for protocols and URIs (loaded lazily and
cached); only the SigV4 signing name -> botocore service name table is ours, because several
services sign with a name that differs from their client name (``elasticloadbalancing``,
``tagging``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from urllib.parse import parse_qs

import botocore.session
from botocore.exceptions import UnknownServiceError
from botocore.model import ServiceModel

Protocol = Literal["query", "ec2", "json", "rest-xml", "rest-json", "unknown"]

# SigV4 signing names that differ from the botocore client name. `elasticloadbalancing` is
# shared by classic ELB (API version 2012-06-01) and ELBv2; `_service_for` tells them apart.
_SIGNING_NAME_TO_SERVICE = {
    "elasticloadbalancing": "elbv2",
    "tagging": "resourcegroupstaggingapi",
    "email": "ses",
    "monitoring": "cloudwatch",
    "states": "stepfunctions",
}
_CLASSIC_ELB_VERSION = "2012-06-01"

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
_RPC_V2_PATH = re.compile(r"^/service/([^/]+)/operation/([^/]+)$")

# Operation-name prefixes that only read. Everything else (Create, Modify, Delete, Set, Add,
# Remove, Register, Change, Tag, Request, ...) changes state and is counted as mutating.
_READ_PREFIXES = ("Describe", "List", "Get", "Lookup", "Search", "Test", "Check", "Validate")

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Call:
    """One request, named: botocore service name, operation name, wire protocol, region."""

    service: str
    operation: str
    protocol: Protocol
    region: str = ""

    @property
    def mutating(self) -> bool:
        return is_mutating(self.operation)


def is_mutating(operation: str) -> bool:
    """True unless the operation name says it only reads (Describe*, List*, Get*, ...)."""
    return not operation.startswith(_READ_PREFIXES)


def identify(method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Call:
    """Name the service and operation of one request. ``headers`` keys are lower-case.

    Never raises: a request we cannot read is ``unknown/unknown`` and is still forwarded.
    """
    scope = _CREDENTIAL_SCOPE.search(headers.get("authorization", ""))
    region, signing_name = (scope.group(1), scope.group(2)) if scope else ("", "")

    target = headers.get("x-amz-target", "")
    if target and "." in target:
        prefix, operation = target.rsplit(".", 1)
        service = _service_for_target(prefix) or _service_for(signing_name, {})
        return Call(service or UNKNOWN, operation, "json", region)

    rpc = _RPC_V2_PATH.match(path)
    if rpc:
        service = _service_for_target(rpc.group(1)) or _service_for(signing_name, {})
        return Call(service or UNKNOWN, rpc.group(2), "json", region)

    form = _form_fields(query, headers, body)
    service = _service_for(signing_name, form)
    model = _service_model(service) if service else None
    if model is None:
        action = form.get("Action", UNKNOWN)
        return Call(service or UNKNOWN, action, "query" if "Action" in form else "unknown", region)

    protocol = _protocol_of(model)
    if protocol in ("query", "ec2"):
        return Call(service, form.get("Action", UNKNOWN), protocol, region)
    if protocol in ("rest-xml", "rest-json"):
        operation = _match_rest(service, method.upper(), path, query)
        return Call(service, operation or UNKNOWN, protocol, region)
    return Call(service, UNKNOWN, protocol, region)


def _protocol_of(model: ServiceModel) -> Protocol:
    # botocore picks the first protocol it supports from `protocols`; boto3 in this project
    # speaks JSON to services that also offer Smithy RPCv2 CBOR (e.g. the tagging API).
    names = [str(p) for p in model.metadata.get("protocols", [model.protocol])]
    for name in (*names, model.protocol):
        if name in ("query", "ec2", "json", "rest-xml", "rest-json"):
            return name  # type: ignore[return-value]
    return "unknown"


def _form_fields(query: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
    fields = {k: v[0] for k, v in parse_qs(query).items() if v}
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        text = body.decode("utf-8", errors="replace")
        fields.update({k: v[0] for k, v in parse_qs(text).items() if v})
    return fields


def _service_for(signing_name: str, form: dict[str, str]) -> str:
    if not signing_name:
        return ""
    service = _SIGNING_NAME_TO_SERVICE.get(signing_name, signing_name)
    if service == "elbv2" and form.get("Version") == _CLASSIC_ELB_VERSION:
        return "elb"
    return service


@lru_cache(maxsize=1)
def _botocore_session() -> botocore.session.Session:
    return botocore.session.get_session()


@lru_cache(maxsize=64)
def _service_model(service: str) -> ServiceModel | None:
    try:
        return _botocore_session().get_service_model(service)
    except UnknownServiceError:
        return None


_TARGET_PREFIXES = {
    "CertificateManager": "acm",
    "ResourceGroupsTaggingAPI_20170126": "resourcegroupstaggingapi",
    "AWSWAF_20190729": "wafv2",
    "AWSWAF_Regional_20161128": "waf-regional",
    "AWSShield_20160616": "shield",
}


def _service_for_target(prefix: str) -> str:
    return _TARGET_PREFIXES.get(prefix, "")


@dataclass(frozen=True)
class _RestRoute:
    method: str
    pattern: re.Pattern[str]
    required_query: frozenset[str]
    literal_length: int
    operation: str


@lru_cache(maxsize=16)
def _rest_routes(service: str) -> tuple[_RestRoute, ...]:
    model = _service_model(service)
    if model is None:
        return ()
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = str(http.get("requestUri", "/"))
        path, _, query = uri.partition("?")
        routes.append(
            _RestRoute(
                method=str(http.get("method", "POST")).upper(),
                pattern=_uri_pattern(path),
                required_query=frozenset(k.split("=")[0] for k in query.split("&") if k),
                literal_length=len(re.sub(r"\{[^}]+\}", "", path)),
                operation=name,
            )
        )
    # The most literal template wins: `/hostedzone/{Id}/rrset` before `/hostedzone/{Id}`.
    routes.sort(key=lambda r: (-r.literal_length, -len(r.required_query)))
    return tuple(routes)


def _uri_pattern(path: str) -> re.Pattern[str]:
    out = []
    for part in re.split(r"(\{[^}]+\})", path.rstrip("/")):
        if part.startswith("{") and part.endswith("+}"):
            out.append(".+")
        elif part.startswith("{"):
            out.append("[^/]+")
        else:
            out.append(re.escape(part))
    return re.compile("^" + "".join(out) + "/?$")


def _match_rest(service: str, method: str, path: str, query: str) -> str:
    keys = set(parse_qs(query, keep_blank_values=True))
    for route in _rest_routes(service):
        if route.method == method and route.pattern.match(path) and route.required_query <= keys:
            return route.operation
    return ""
