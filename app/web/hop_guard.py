"""What a gateway's hop answers when the conversation fails: the same for USSD and calls."""

import logging
from collections.abc import Callable

from flask import abort, current_app
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from app import cases
from app.conversation.hop import Refused
from app.infra.sessions import Busy


def guard(
    run: Callable[[], tuple], channel: str, log: logging.Logger, metrics=None
) -> tuple[object, str | None, str | None]:
    """Run a hop; return (reply, node, None), or (None, None, the apology's copy key).

    Flask-free, for either edge. A hop that names another caller's session raises
    Refused, which each edge answers with 403. The hop's changes were never saved
    when it fails, so stored progress is intact. metrics, if given, counts each failure
    by its cause.
    """
    try:
        reply, node = run()
        return reply, node, None
    except Refused:
        _count(metrics, "refused")
        raise
    except cases.CaseError as exc:
        # The case moved, or left the caller's hands, since the screen was shown.
        log.info("desk change refused: %s", exc)
        return None, None, "desk.conflict"
    except Busy:
        # The first copy of this hop is still running after LOCK_WAIT_S: it will answer.
        _count(metrics, "busy")
        log.warning("a doubled %s hop gave up waiting for its session", channel)
        return None, None, "error.unavailable"
    except (RedisError, SQLAlchemyError):
        _count(metrics, "storage")
        log.exception("storage unavailable during a %s hop", channel)
        return None, None, "error.unavailable"
    except Exception:
        _count(metrics, "flow")
        log.exception("flow error during a %s hop", channel)
        return None, None, "error.unexpected"


def _count(metrics, cause: str) -> None:
    """Count a failed hop by cause (storage, flow, refused, busy) for /metrics."""
    if metrics is not None:
        metrics.error(cause)


def guarded(run: Callable[[], tuple], channel: str) -> tuple[object, str | None, str | None]:
    """guard() inside a Flask request: Refused becomes a 403."""
    try:
        return guard(run, channel, current_app.logger, current_app.extensions["metrics"])
    except Refused as exc:
        abort(403, str(exc))
