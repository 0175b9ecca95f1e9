"""Rules a redirect makes pointless, dropped before priorities are given (as LBC does).

The classic `actions.ssl-redirect` pattern puts one redirect-to-HTTPS rule on every listener
of the Ingress, HTTPS:443 included, where it would send each request back to itself
forever. LBC's rule optimizer therefore drops, per listener:
- a redirect rule that would send a request to the very listener and URL it came in on:
  every part of the redirect keeps what the request had (`#{protocol}`, `#{port}`, `#{host}`,
  `/#{path}`, `#{query}`) or names this listener's protocol or port, or a host or path the
  rule itself matches;
- a rule after a redirect rule whose host and path conditions match everything it matches
  (only host-header and path-pattern count; a redirect rule with any other condition shadows
  nothing), since the redirect answers those requests first.
"""

from __future__ import annotations

from collections.abc import Sequence

from controller.model.ingress import RouteRule
from controller.model.stack import Action, Condition, RedirectAction, RedirectConfig

_ROUTING_FIELDS = ("host-header", "path-pattern")
Placed = tuple[str, RouteRule]  # (the member that asks for it, the rule)


def omit_pointless_rules(port: int, protocol: str, rules: Sequence[Placed]) -> list[Placed]:
    """`(member, rule)` pairs in order, without the rules LBC's optimizer drops."""
    kept = [(key, rule) for key, rule in rules if not _loops(port, protocol, rule)]
    result: list[Placed] = []
    for key, rule in kept:
        if not any(_shadows(earlier, rule) for _, earlier in result):
            result.append((key, rule))
    return result


def _redirect(actions: tuple[Action, ...]) -> RedirectConfig | None:
    return next((a.redirect_config for a in actions if isinstance(a, RedirectAction)), None)


def _values(conditions: tuple[Condition, ...], field: str) -> set[str]:
    return {v for c in conditions if c.field == field for v in c.values or ()}


def _loops(port: int, protocol: str, rule: RouteRule) -> bool:
    """Whether the rule's redirect sends a request back to the same listener and URL."""
    redirect = _redirect(rule.actions)
    if redirect is None:
        return False
    hosts = _values(rule.conditions, "host-header")
    paths = _values(rule.conditions, "path-pattern")
    return (
        redirect.host in ("#{host}", *hosts)
        and redirect.path in ("/#{path}", *paths)
        and redirect.port in ("#{port}", str(port))
        and redirect.protocol in ("#{protocol}", protocol)
        and redirect.query == "#{query}"
    )


def _shadows(earlier: RouteRule, later: RouteRule) -> bool:
    """Whether a redirect rule answers every request the later rule would match."""
    if _redirect(earlier.actions) is None:
        return False
    if any(c.field not in _ROUTING_FIELDS for c in earlier.conditions):
        return False
    hosts = _values(earlier.conditions, "host-header")
    paths = _values(earlier.conditions, "path-pattern")
    later_hosts = _values(later.conditions, "host-header")
    later_paths = _values(later.conditions, "path-pattern")
    hosts_cover = not hosts or (bool(later_hosts) and later_hosts <= hosts)
    paths_cover = not paths or "/*" in paths or (bool(later_paths) and later_paths <= paths)
    return hosts_cover and paths_cover
