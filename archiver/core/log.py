"""Logging that cannot leak credentials.

HTTP client libraries log full request URLs (httpx does at INFO), and Graph API puts the token
in the query string. Every secret a CaptureSession holds is registered here, and a filter on
those libraries' loggers and on our own rewrites each record before any handler sees it.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime

from archiver.capture.redact import Redactor

_LOCK = threading.Lock()
_SECRETS: set[str] = set()
_redactor = Redactor()
_INSTALLED = False
FILTERED_LOGGERS = ("httpx", "httpcore", "botocore", "boto3", "urllib3", "archiver", "connectors")


def register_secret(value: str | None) -> None:
    global _redactor
    if not value:
        return
    with _LOCK:
        if value not in _SECRETS:
            _SECRETS.add(value)
            _redactor = Redactor(_SECRETS)


def redact_text(text: str) -> str:
    out, _notes = _redactor.body(text.encode("utf-8", "surrogatepass"))
    return out.decode("utf-8", "replace")


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def install_filters() -> None:
    """Attach the filter once to every logger that may see a URL or a header."""
    global _INSTALLED
    with _LOCK:
        if _INSTALLED:
            return
        for name in FILTERED_LOGGERS:
            logging.getLogger(name).addFilter(RedactingFilter())
        _INSTALLED = True


def utc_timestamp(record: logging.LogRecord) -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2026-12-03T09:30:00.123Z: sortable, zone-free."""
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class TextFormatter(logging.Formatter):
    """`TIME LEVEL logger: message`, one line per event."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{utc_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line for the daemon's logs."""

    def format(self, record: logging.LogRecord) -> str:
        data = {"time": utc_timestamp(record), "level": record.levelname, "logger": record.name,
                "message": redact_text(record.getMessage())}
        for key in ("run_id", "platform", "account_id"):
            if hasattr(record, key):
                data[key] = getattr(record, key)
        if record.exc_info:
            data["exception"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


class _ArchiverHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]  # generic in typeshed only, not at run time
    """Marks the handler we install, so a second setup replaces it and nothing else."""


def setup_logging(level: str = "INFO", *, json_lines: bool = False) -> None:
    install_filters()
    handler = _ArchiverHandler()
    handler.setFormatter(
        JsonFormatter() if json_lines else TextFormatter()
    )
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _ArchiverHandler)] + [handler]
    root.setLevel(level)
    # httpx logs every request at INFO: only at DEBUG (-vv) is that wanted.
    logging.getLogger("httpx").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    # APScheduler logs "Running job ..." and "executed successfully" at INFO on every tick, and
    # warns of each tick skipped while a long capture runs (by design: max_instances=1); the
    # daemon logs its own line per account captured instead. Alembic announces each migration
    # step it checks at INFO, at every start.
    quiet = {"apscheduler": logging.ERROR, "alembic": logging.WARNING}
    for chatty, chatty_level in quiet.items():
        logging.getLogger(chatty).setLevel(logging.DEBUG if level == "DEBUG" else chatty_level)
