"""Gunicorn settings for the Procfile and `kalan dev`: logs that never show the webhook token."""

import logging
import re

from gunicorn.glogging import Logger

# Africa's Talking calls back with ?token=WEBHOOK_TOKEN; whoever reads a log must not
# be able to forge a callback. Any parameter ending in "token" is hidden alike.
TOKEN = re.compile(r"(token=)[^&;#\s\"']*", re.IGNORECASE)
# A console search by phone number (/console/contacts?q=7600...) must not leave the
# number in the access log after its contact is deleted: searches are hidden too.
SEARCH = re.compile(r"([?&]q=)[^&;#\s\"']*")


def hide_token(text: str) -> str:
    """Return text with every token parameter's value, and every search, replaced by [hidden]."""
    return SEARCH.sub(r"\1[hidden]", TOKEN.sub(r"\1[hidden]", text))


class HideToken(logging.Filter):
    """Hide token values in a record's message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        if isinstance(record.msg, str):
            record.msg = hide_token(record.msg)
        if isinstance(record.args, dict):
            # In place: gunicorn's atoms are a dict subclass that answers "-" for
            # a missing key, and copying it would escape its quotes twice.
            for key, value in record.args.items():
                if isinstance(value, str):
                    record.args[key] = hide_token(value)
        elif isinstance(record.args, tuple):
            record.args = tuple(
                hide_token(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


HIDE_TOKEN = HideToken()


class TokenHidingLogger(Logger):
    """Gunicorn's logger, with tokens hidden from its access and error logs."""

    def setup(self, cfg) -> None:
        """Set gunicorn's handlers up, then filter both loggers."""
        super().setup(cfg)
        # The access log has the request line and the raw URI; the error log has
        # the URI of a request that failed.
        for log in (self.access_log, self.error_log):
            log.addFilter(HIDE_TOKEN)


# Gunicorn reads the settings it knows from this module: `gunicorn -c python:app.web.gunicorn_conf`.
logger_class = TokenHidingLogger
