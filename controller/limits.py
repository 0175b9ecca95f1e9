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
# A regexValues entry (host-header, path-pattern, http-header) counts against the same 5
# values per rule and the same 128 characters as a plain value.
MAX_REGEX_VALUE_LENGTH = MAX_CONDITION_VALUE_LENGTH
# Rule transforms (RuleTransform): one url-rewrite and one host-header-rewrite per rule, none
# on a listener's default rule; each rewrite's regex and replacement at most 1,024 characters.
MAX_REWRITE_PART_LENGTH = 1024
# jwt-validation (JwtValidationActionConfig): issuer and JWKS endpoint at most 256 characters,
# at most 10 additional claims of at most 10 values of at most 256 characters each; exp, iss,
# nbf and iat are always validated and may not be given as additional claims.
MAX_JWT_URL_LENGTH = 256
MAX_JWT_CLAIMS = 10
MAX_JWT_CLAIM_VALUES = 10
MAX_JWT_CLAIM_VALUE_LENGTH = 256
JWT_DEFAULT_CLAIMS = frozenset({"exp", "iss", "nbf", "iat"})

# --- tags (fixed) ------------------------------------------------------------------------
MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256
MAX_TAGS_PER_RESOURCE = 50  # ELBv2 and EC2, the controller's own three tags included

# --- security groups --------------------------------------------------------------------
DEFAULT_RULES_PER_SG = 60  # inbound rules per group (adjustable: RULES_PER_SG_LIMIT)
# A rule naming a managed prefix list counts as that list's MaxEntries rules (VPC quotas);
# an AWS-managed list has a fixed "weight" instead, by name after `com.amazonaws.<region>.`
# (VPC user guide, "AWS-managed prefix list weight"). A list not known here counts as 1.
AWS_MANAGED_PREFIX_LIST_WEIGHTS = {
    "cloudfront.origin-facing": 55,
    "ipv6.cloudfront.origin-facing": 55,
    "dynamodb": 1,
    "ec2-instance-connect": 2,
    "ipv6.ec2-instance-connect": 2,
    "groundstation": 5,
    "route53-healthchecks": 25,
    "ipv6.route53-healthchecks": 25,
    "s3": 1,
    "s3express": 6,
    "vpc-lattice": 10,
    "ipv6.vpc-lattice": 10,
}
# `pl-` and hex digits (EC2's PrefixListId; 8 or 17 digits in practice).
PREFIX_LIST_ID_PATTERN = r"^pl-[0-9a-f]{8,17}$"

# --- load balancer and listener settings (fixed) ----------------------------------------
# Listener attribute keys (ELBv2's ListenerAttributeKey): letters, digits, '.' and '_'.
LISTENER_ATTRIBUTE_KEY_PATTERN = r"^[a-zA-Z0-9._]+$"
MAX_LISTENER_ATTRIBUTE_KEY_LENGTH = 256
# An ALB's LCU reservation (ModifyCapacityReservation) starts at 100 capacity units; 0 in
# the annotation resets it (LBC's meaning). The ceiling is an adjustable account quota, so
# it is left to AWS.
MIN_RESERVED_CAPACITY_UNITS = 100
# CreateLoadBalancer's CustomerOwnedIpv4Pool and IpamPools.Ipv4IpamPoolId (botocore model).
COIP_POOL_PATTERN = r"^ipv4pool-coip-[a-zA-Z0-9]+$"
MAX_COIP_POOL_LENGTH = 256
IPAM_POOL_ID_PATTERN = r"^ipam-pool-[a-zA-Z0-9]+$"
MAX_IPAM_POOL_ID_LENGTH = 1000

# --- Route 53 routing policies (fixed; ResourceRecordSet in the Route 53 API reference) ---
MAX_SET_IDENTIFIER_LENGTH = 128  # SetIdentifier: 1..128 characters
MAX_DNS_WEIGHT = 255  # Weight: 0..255
# GeoLocation ContinentCode values; a CountryCode is ISO 3166-1 alpha-2 or `*` (the default).
GEO_CONTINENT_CODES = ("AF", "AN", "AS", "EU", "NA", "OC", "SA")
MAX_SUBDIVISION_CODE_LENGTH = 3  # GeoLocation SubdivisionCode: 1..3 characters

# --- request sizes ----------------------------------------------------------------------
FILTER_VALUES = 200  # values in one EC2 Describe* filter
ZONE_TAGS_CHUNK = 10  # hosted zone IDs in one Route 53 ListTagsForResources call
REGISTER_BATCH = 200  # targets in one RegisterTargets / DeregisterTargets call
DESCRIBE_CHUNK = 20  # ARNs in one DescribeLoadBalancers / DescribeTargetGroups / DescribeTags
MAX_BATCH_RECORDS = 1000  # records in one Route 53 ChangeResourceRecordSets batch
MAX_BATCH_CHARS = 32000  # characters of record values in one batch
