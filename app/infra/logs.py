"""Log lines: one JSON object each in production, the id of the request (or of the request that
queued the job) on each, and never a phone number.

No code logs a number or a PIN; HidePhones is the safety net for what slips through, such as
a database error quoting the row it could not write.
"""

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime

# The id of the HTTP request being answered (app/web/request_id.py), or of the one that queued
# the job being run (workers.LoggedJob); None elsewhere.
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
META = "request_id"  # the key of a job's meta that carries it
# A phone number in any of its forms: +22370000099, 0022370000099, 22370000099, 70000099,
# 70 00 00 99. Eight digits or more, not inside a word: ids and hashes are left alone.
PHONE = re.compile(r"(?<![\w+])\+?\d(?: ?\d){7,}(?!\w)")
HIDDEN = "[number]"
# What every record has; the rest was given as extra=... and goes in the JSON as it is.
STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "request_id",
}  # fmt: skip
TEXT = "%(asctime)s %(levelname)s %(message)s"


def request_id() -> str | None:
    """Return the id of the request (or of the job's request) being answered, if any."""
    return REQUEST_ID.get()


def hide_phones(text: str) -> str:
    """Return text with anything that looks like a phone number replaced."""
    return PHONE.sub(HIDDEN, text)


class HidePhones(logging.Filter):
    """Replace phone numbers in a record's message, arguments, extras and traceback."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        try:
            # A message and arguments of any type (an exception, a dict), as they will be shown.
            message = record.getMessage()
        except Exception as exc:  # noqa: BLE001 - a wrong format, an object's __str__ that raises
            # Shown without the object nor the arguments: logging's own report of the error
            # would print their repr to stderr, which may hold a number.
            shown = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
            record.msg, record.args = f"{shown} [not shown: {type(exc).__name__}]", None
            message = record.msg
        if message is not None and hide_phones(message) != message:
            record.msg, record.args = hide_phones(message), None
        if record.exc_info and not record.exc_text:
            # Formatted now, once: a formatter reuses exc_text rather than format it again.
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = hide_phones(record.exc_text)
        if record.stack_info:
            record.stack_info = hide_phones(record.stack_info)
        for name, value in vars(record).items():
            if name not in STANDARD and value is not None and not isinstance(value, bool):
                shown = value if isinstance(value, str) else _shown(value)
                if shown is not None and hide_phones(shown) != shown:
                    # An extra of another type (a number, a dict) becomes its text, hidden.
                    setattr(record, name, hide_phones(shown))
        return True


def _shown(value) -> str | None:
    """Return an extra as a formatter shows it (str, as the JSON lines' default), or None if it
    cannot be: the formatter then reports it, not this filter."""
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - any object's __str__ may fail, never the code that logs
        return None


HIDE_PHONES = HidePhones()


class WithRequestId(logging.Filter):
    """Give each record the request id of the context it was logged in."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, then extras."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
        }
        for name, value in vars(record).items():
            if name not in STANDARD:
                line.setdefault(name, value)  # an extra never hides the line's own fields
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


def choose(log_format: str, app_env: str) -> str:
    """Return "json" or "text": LOG_FORMAT if set, else JSON in production."""
    return log_format or ("json" if app_env == "production" else "text")


def formatter(log_format: str) -> logging.Formatter:
    """Return the formatter of a LOG_FORMAT already chosen."""
    return JsonLines() if log_format == "json" else logging.Formatter(TEXT)


def prepare(handler: logging.Handler, log_format: str | None) -> logging.Handler:
    """Give a handler the request id, the phone filter and a format (None: keep its own)."""
    if log_format is not None:
        handler.setFormatter(formatter(log_format))
    handler.addFilter(WithRequestId())
    handler.addFilter(HIDE_PHONES)
    return handler


def setup(log_format: str, level: int = logging.INFO) -> None:
    """Send every logger's lines to stderr, once per process, as logging.basicConfig would:
    a process whose root logger already has a handler is left as it is."""
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(prepare(logging.StreamHandler(sys.stderr), log_format))
    root.setLevel(level)
