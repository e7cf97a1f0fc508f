"""Gunicorn settings for the Procfile and `kalan dev`: logs that never show the webhook token
nor a phone number, in JSON in production; the metrics' files of workers that ended kept;
the loaded app kept out of the garbage collector's full passes."""

import gc
import logging
import os
import re
import sys

from gunicorn.glogging import Logger
from prometheus_client import multiprocess

from app.infra import logs, metrics
from app.infra.config_error import ConfigError

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
            # Read before any app is made: the settings gunicorn's own lines follow.
            chosen = logs.choose(os.environ.get("LOG_FORMAT", ""), os.environ.get("APP_ENV", ""))
            for handler in log.handlers:
                logs.prepare(handler, "json" if chosen == "json" else None)


# Gunicorn reads the settings it knows from this module: `gunicorn -c python:app.web.gunicorn_conf`.
logger_class = TokenHidingLogger


def on_starting(server) -> None:
    """Empty PROMETHEUS_MULTIPROC_DIR, whose files sum the workers' metrics: a new server
    counts from zero, as Prometheus expects of a restarted process. A folder that is not
    Kalan's alone stops the start, in one line."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        try:
            metrics.empty(metrics.claim(folder))
        except ConfigError as exc:
            sys.stderr.write(f"kalan: cannot start: {exc}\n")
            raise SystemExit(3) from None


def child_exit(server, worker) -> None:
    """Forget a worker that ended in the metrics' files (its counts stay in the sums)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker) -> None:
    """Move what the worker has loaded, the app and its imports, out of the collector's reach."""
    # A full collection walked every object the worker had loaded, some 130,000 of them
    # that live as long as it does: 30 to 80 ms of CPU (more on a busy machine) during
    # which the hop it fell on, and every hop queued behind that worker, waited. It came
    # every few thousand hops and made the paced crowd's p99 (issue 19). Frozen, they are
    # never walked again, and a full collection walks what hops leave behind only. The
    # garbage of the loading is collected first: frozen, it would never be freed.
    gc.collect()
    gc.freeze()
