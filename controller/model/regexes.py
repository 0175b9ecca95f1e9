"""What ALB's regular expressions cannot do, said before AWS is asked.

Rule conditions (`regexValues`, `use-regex-path-match`) and rule transforms take regular
expressions without lookaheads, lookbehinds, backreferences, atomic groups, possessive
quantifiers, subroutines, recursion or Unicode character classes (ELB's "Listener rules"
page). A pattern using one fails its Ingress here with the feature named, rather than the
group's rules call. The syntax itself is not checked: ALB's dialect is not Python's, and a
check in the wrong dialect would refuse what AWS accepts.
"""

from __future__ import annotations

# Escapes AWS lacks: backreferences (`\1`, `\k<name>`, `\g1`) and Unicode classes (`\p{L}`).
_ESCAPES = {
    **{str(digit): "a backreference" for digit in range(1, 10)},
    "k": "a backreference",
    "g": "a backreference",
    "p": "a Unicode character class",
    "P": "a Unicode character class",
}
# Group openings AWS lacks, after `(?`.
_GROUPS = (
    ("=", "a lookahead"),
    ("!", "a lookahead"),
    ("<=", "a lookbehind"),
    ("<!", "a lookbehind"),
    (">", "an atomic group"),
    ("R", "recursion"),
    ("&", "a subroutine call"),
    ("P>", "a subroutine call"),
    *((str(digit), "a subroutine call") for digit in range(10)),
    ("+", "a subroutine call"),
    ("-", "a subroutine call"),
)


def unsupported_feature(pattern: str) -> str | None:
    """The first feature of `pattern` ALB's regular expressions lack, or None."""
    i = 0
    in_class = False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            found = _ESCAPES.get(pattern[i + 1 : i + 2])
            # Inside [...] a backslash-digit is an octal escape, not a backreference.
            if found is not None and (not in_class or found.startswith("a Unicode")):
                return found
            i += 2
        elif in_class:
            in_class = char != "]"
            i += 1
        elif char == "[":
            in_class = True
            i = _class_body(pattern, i)
        else:
            found = _group_or_quantifier(pattern, i)
            if found is not None:
                return found
            i += 1
    return None


def _class_body(pattern: str, start: int) -> int:
    """Where the body of the class opened at `start` begins: a `]` right after `[` or `[^`
    is a literal, not the end."""
    i = start + 1
    if pattern.startswith("^", i):
        i += 1
    if pattern.startswith("]", i):
        i += 1
    return i


def _group_or_quantifier(pattern: str, i: int) -> str | None:
    char = pattern[i]
    if char == "(" and pattern.startswith("(?", i):
        rest = pattern[i + 2 :]
        return next((what for opening, what in _GROUPS if rest.startswith(opening)), None)
    after_group_mark = char == "?" and pattern[i - 1 : i] == "("
    if char in "*+?}" and pattern.startswith("+", i + 1) and not after_group_mark:
        return "a possessive quantifier"
    return None


def check_regex(value: str) -> str:
    """`value`, or a `ValueError` naming what ALB cannot do in it (a pydantic validator)."""
    found = unsupported_feature(value)
    if found is not None:
        raise ValueError(f"{value!r} uses {found}, which ALB's regular expressions do not support")
    return value
