"""Log output: one JSON object per line for log pipelines, plain text on a terminal.

Hand-written rather than a dependency: the whole formatter is a dozen lines over the
standard library, and every reconcile line carries its group through `extra={"group": ...}`.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys

# Attributes every LogRecord has; anything else was passed in `extra` and is logged too,
# except kopf's internals (its settings object, its Event-posting flags).
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_SKIPPED = _STANDARD | {"settings", "k8s_skip", "k8s_ref"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _SKIPPED})
        ref = getattr(record, "k8s_ref", None)  # kopf's per-object loggers name the object
        if isinstance(ref, dict) and ref.get("name"):
            entry.setdefault("object", "/".join(filter(None, (ref.get("namespace"), ref["name"]))))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(fmt: str = "auto", debug: bool = False) -> None:
    """Set up the root logger; `fmt` is auto, json or text."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if use_json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # AWS_DEBUG logs each AWS call (controller.aws.clients) at debug level.
    logging.getLogger("controller.aws").setLevel(logging.DEBUG if debug else logging.INFO)
    # Per-request chatter: kopf logs every handled watch event, aiohttp every health probe,
    # all at info.
    noisy = ("botocore", "urllib3", "kubernetes", "kopf.objects", "aiohttp.access")
    for name in noisy:
        logging.getLogger(name).setLevel(logging.WARNING)
    # urllib3 warns of each connection retry; the caller logs the failure that matters once,
    # with its reason (the leader elector, a failed reconcile).
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
