"""`AwsError`, the one exception the AWS layer raises for AWS failures, and its translation.

botocore's `ClientError` says what AWS rejected but not which of our resources it was about;
the kube layer needs both (for an Event a person can act on) and whether retrying can help
(throttling and 5xx: yes; validation and quota errors: no, they need a change by a person).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

# Codes that clear up on their own: throttling, server faults, and eventual-consistency races.
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "PriorRequestNotComplete",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
        "DependencyViolation",
        "ResourceInUse",
        "OperationNotPermitted",
        # Conflicts with what AWS holds now: what we read is out of date, because a call whose
        # reply was lost took effect (botocore's retry of a reset CreateRule meets its own
        # rule) or another writer got there first. The next reconcile reads AWS again and
        # converges; a 600 s wait would leave the group half-built for ten minutes.
        "PriorityInUse",
        "DuplicateListener",
        "DuplicateLoadBalancerName",
        "DuplicateTargetGroupName",
        "InvalidGroup.Duplicate",
        "InvalidPermission.Duplicate",
        # WAF cannot see a load balancer made moments ago yet ("retry your request").
        "WAFUnavailableEntityException",
        # An LCU reservation change is still provisioning: the next one waits for it.
        "CapacityReservationPending",
    }
)


# Codes by which AWS refuses what one member of a group asked for (a value it rejects, a
# quota it would pass, a target group or certificate it does not have): the rest of the group
# can go on without that member. Not among them: what is wrong for every member alike
# (AccessDenied, an unknown load balancer attribute) and the retryable codes above.
MEMBER_CODES = frozenset(
    {
        "ValidationError",
        "InvalidConfigurationRequest",
        "InvalidLoadBalancerAction",
        "CertificateNotFound",
        "TargetGroupNotFound",
        "TooManyRules",
        "TooManyActions",
        "TooManyTargetGroups",
        "TooManyUniqueTargetGroupsPerLoadBalancer",
        "TooManyTags",
        "TooManyCertificates",
        "DuplicateTagKeys",
        "UnsupportedProtocol",
    }
)


class AwsError(Exception):
    """An AWS call failed: which resource, which AWS error code, and whether to retry.

    `ingresses` names the members of the group whose part AWS refused, when the failed call
    was about theirs alone (one member's rule, the certificates of one member's hosts); empty
    when the refusal is the group's."""

    # Defaults for subclasses that build their message themselves (`aws.dns.DnsError`).
    ingresses: tuple[str, ...] = ()
    detail: str = ""

    def __init__(
        self,
        resource: str,
        code: str,
        message: str,
        *,
        retryable: bool,
        ingresses: Sequence[str] = (),
    ) -> None:
        self.resource = resource
        self.code = code
        self.retryable = retryable
        self.detail = message
        self.ingresses = tuple(ingresses)
        super().__init__(f"{resource}: {code}: {message}")


def error_code(error: ClientError) -> str:
    """The AWS error code of a botocore `ClientError` (empty when AWS gave none)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def has_code(error: BaseException, *codes: str) -> bool:
    """Whether `error` is a `ClientError` carrying one of `codes`."""
    return isinstance(error, ClientError) and error_code(error) in codes


def is_retryable(error: ClientError) -> bool:
    """Throttling, 5xx and transient conflicts are retryable; validation and quotas are not."""
    code = error_code(error)
    if code in RETRYABLE_CODES:
        return True
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return status >= 500


def translate(error: ClientError | BotoCoreError, resource: str) -> AwsError:
    """An `AwsError` naming `resource` for a botocore error."""
    if isinstance(error, ClientError):
        message = str(error.response.get("Error", {}).get("Message", "")) or str(error)
        return AwsError(resource, error_code(error), message, retryable=is_retryable(error))
    # Connection resets, timeouts and the like: nothing a person must fix.
    return AwsError(resource, type(error).__name__, str(error), retryable=True)


@contextmanager
def about(resource: str) -> Iterator[None]:
    """Turn botocore errors raised inside the block into `AwsError`s naming `resource`."""
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise translate(error, resource) from error


@contextmanager
def on_behalf_of(ingresses: Sequence[str], resource: str) -> Iterator[None]:
    """Like `about`, and a refusal by one of `MEMBER_CODES` is attributed to `ingresses`: the
    members whose resource the calls inside are about."""
    try:
        with about(resource):
            yield
    except AwsError as error:
        if error.code in MEMBER_CODES and not error.ingresses:
            error.ingresses = tuple(i for i in ingresses if i)
        raise
