"""Warning Events about what an Ingress asks for, posted once and again only when they change.

Every reconcile of a group rebuilds its model, and so finds the same build errors and
warnings again; posting them each time would bury the Ingress's Events (and bump their count
for nothing). `Notices` remembers what each Ingress was last told, per kind of notice, and
forgets an Ingress once it has nothing to hear, so a problem that comes back is posted again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

Body = Mapping[str, Any]
# (object, type, reason, message): what `KubeWriter.event` takes.
PostEvent = Callable[[Body, str, str, str], None]


@dataclass
class Notices:
    posted: dict[str, str] = field(default_factory=dict)  # Ingress -> what it was last told

    def tell(
        self,
        post: PostEvent,
        bodies: Mapping[str, Body],
        found: Mapping[str, list[tuple[str, str]]],
    ) -> None:
        """Post each Ingress's (reason, message) Warnings unless it was told exactly these."""
        for key in bodies:
            if key not in found:
                self.posted.pop(key, None)
        for key, events in found.items():
            signature = repr(events)
            if key not in bodies or self.posted.get(key) == signature:
                continue
            for reason, message in events:
                logger.warning("ingress %s: %s: %s", key, reason, message, extra={"ingress": key})
                post(bodies[key], "Warning", reason, message)
            self.posted[key] = signature
