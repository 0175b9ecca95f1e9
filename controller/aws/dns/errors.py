"""The one exception the DNS code raises, and how botocore errors map onto it.

The kube layer decides between "retry with backoff" and "emit an Event and wait for the
object to change" from `retryable` alone, so the mapping lives here, next to Route 53's
error codes, instead of in every caller.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from controller.aws.errors import RETRYABLE_CODES as AWS_RETRYABLE_CODES
from controller.aws.errors import AwsError
from controller.aws.warnings import DeployWarning

# Route 53 asks us to come back later: the account's request bucket is empty, or another
# change to the same zone is still being processed (changes to a zone are serialised).
# A stale cached zone list (NoSuchHostedZone) also heals: the next attempt lists zones again.
RETRYABLE_CODES = AWS_RETRYABLE_CODES | {"NoSuchHostedZone"}
# An InvalidChangeBatch that only says our read of the zone is out of date: a change whose
# reply was lost took effect (botocore's retry then meets its own CREATE), or another writer
# was quicker. The next attempt reads the zone again. Other InvalidChangeBatch errors (a bad
# value, a CNAME beside other records) fail the same way again.
STALE_VIEW_MESSAGES = ("but it already exists", "but it was not found")


class DnsError(AwsError):
    """A Route 53 call failed. The message names the zone and the hosts involved.

    An `AwsError`, so the kube layer handles DNS and ELBv2 failures alike.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        code: str = "",
        warnings: tuple[DeployWarning, ...] = (),
    ) -> None:
        Exception.__init__(self, message)  # the message already names zone and hosts
        self.resource = "route53"
        self.retryable = retryable
        self.code = code
        # Warnings the failed sync found before failing, so they still reach Events.
        self.warnings = warnings


def from_exception(error: Exception, *, action: str, zone: str, hosts: list[str]) -> DnsError:
    """Wrap a botocore error in a `DnsError` saying what we were doing, where and for whom."""
    subject = f"{action} in hosted zone {zone}" if zone else action
    if hosts:
        subject += f" for {', '.join(sorted(set(hosts)))}"
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        message = str(error.response.get("Error", {}).get("Message", "")) or str(error)
        stale = code == "InvalidChangeBatch" and any(m in message for m in STALE_VIEW_MESSAGES)
        retryable = code in RETRYABLE_CODES or status >= 500 or stale
        return DnsError(
            f"Route 53 {subject} failed: {code}: {message}", retryable=retryable, code=code
        )
    # Connection resets and timeouts are transient; other botocore errors (bad parameters,
    # missing credentials) will fail the same way again.
    retryable = isinstance(error, BotoConnectionError | ReadTimeoutError)
    if isinstance(error, BotoCoreError):
        return DnsError(f"Route 53 {subject} failed: {error}", retryable=retryable)
    return DnsError(f"Route 53 {subject} failed: {error!r}", retryable=False)
