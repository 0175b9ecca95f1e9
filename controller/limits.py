"""AWS's limits, defined once: settings, the model and the AWS layer all read them here.

The model builder checks the quotas on what a stack may hold, so a breach is reported as a
`BuildError` naming the Ingress and field instead of a 400 from AWS after half a deploy; the
AWS layer checks the fixed ones again before any call (a `Stack` may come from elsewhere)
and sizes its requests by the API's limits. Figures are from the Elastic Load Balancing,
EC2 and Route 53 quota pages; "adjustable" ones can be raised per account.
"""

from __future__ import annotations

# --- what one Application Load Balancer may hold ----------------------------------------
# Adjustable quotas: these are AWS's defaults, and the settings (`RULES_PER_ALB_LIMIT`, ...)
# take an account's raised values.
DEFAULT_RULES_PER_ALB = 100  # default rules excluded (LBC counts per ALB too)
DEFAULT_TARGET_GROUPS_PER_ALB = 100
DEFAULT_LISTENERS_PER_ALB = 50
DEFAULT_CERTIFICATES_PER_ALB = 25  # default certificates excluded

# --- what one rule or action may hold (fixed) -------------------------------------------
MAX_CONDITION_VALUES = 5  # per rule, across its conditions
MAX_TARGET_GROUPS_PER_ACTION = 5  # per forward action
MAX_PRIORITY = 50000  # rule priorities are 1..50000
MAX_CONDITION_VALUE_LENGTH = 128  # characters of one condition value (header, query too)
MAX_HEADER_NAME_LENGTH = 40  # characters of an http-header condition's header name
MAX_METHOD_LENGTH = 40  # characters of one http-request-method value
MAX_REDIRECT_PART_LENGTH = 128  # characters of a redirect's host, path or query
# The characters a host-header / path-pattern value may hold (ELB's "Listener rules" page).
HOST_HEADER_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.*?"
)
PATH_PATTERN_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.$/~\"'@:+&*?"
)

# --- tags (fixed) ------------------------------------------------------------------------
MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256
MAX_TAGS_PER_RESOURCE = 50  # ELBv2 and EC2, the controller's own three tags included

# --- security groups --------------------------------------------------------------------
DEFAULT_RULES_PER_SG = 60  # inbound rules per group (adjustable: RULES_PER_SG_LIMIT)

# --- request sizes ----------------------------------------------------------------------
FILTER_VALUES = 200  # values in one EC2 Describe* filter
REGISTER_BATCH = 200  # targets in one RegisterTargets / DeregisterTargets call
DESCRIBE_CHUNK = 20  # ARNs in one DescribeLoadBalancers / DescribeTargetGroups / DescribeTags
MAX_BATCH_RECORDS = 1000  # records in one Route 53 ChangeResourceRecordSets batch
MAX_BATCH_CHARS = 32000  # characters of record values in one batch
