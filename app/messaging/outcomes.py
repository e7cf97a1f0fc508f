"""What a provider's answer makes of each row of its request: the changes to write."""

from collections.abc import Mapping
from datetime import datetime

from app.infra.gateway import FAILED, NOT_TRIED, RETRY, SENT, UNKNOWN, GatewayError
from app.messaging.claims import Change, Claimed
from app.messaging.outbox import fail, release, retry, retry_at, settle_unknown


def of_failure(part: list[Claimed], exc: GatewayError, now: datetime, config: Mapping) -> list:
    """Return the changes a failure of the whole request makes: unknown outcomes if it may
    have left, retries if not."""
    changes = [Change(message) for message in part]
    for change in changes:
        if exc.unknown:
            settle_unknown(change, exc.reason, now, config["SMS_RECONCILE_S"])
        else:
            retry(change, exc.reason, now, config["SMS_MAX_ATTEMPTS"])
    return changes


def of_answer(
    part: list[Claimed], results, now: datetime, config: Mapping
) -> tuple[list[Change], dict[int, str]]:
    """Return each row's change from its recipient's result, and how each row counts (sent,
    unknown, retried, failed; a row never asked counts as none)."""
    by_phone = {result.phone: result for result in results}
    stopped = any(r.outcome not in (SENT, FAILED) and r.status != NOT_TRIED for r in results)
    changes, counted = [], {}
    for message in part:
        result = by_phone.get(message.phone)
        change = Change(message)
        changes.append(change)
        if result is not None and result.outcome == SENT:  # the common case, set at once
            change.values.update(
                status="sent", sent_at=now, provider_id=result.provider_id, cost=result.cost,
                provider_parts=result.parts, lease_owner=None, lease_until=None,
                status_code=result.status_code, provider_status=result.status,
            )  # fmt: skip
            counted[message.id] = "sent"
            continue
        change.status_code = result.status_code if result else None
        change.provider_status = result.status if result else None
        if result is not None and result.status == NOT_TRIED:
            # Never asked: no attempt spent. At once if the batch ran out of time; after
            # a while if the provider's answer to another said it is busy or down.
            _unasked(change, retry_at(1, now) if stopped else now)
        elif result is None or result.outcome == UNKNOWN:
            reason = result.status if result and result.status else "not in the answer"
            settle_unknown(change, reason, now, config["SMS_RECONCILE_S"])
            counted[message.id] = "unknown"
        elif result.outcome == RETRY:
            retry(change, result.status or "retry", now, config["SMS_MAX_ATTEMPTS"])
            counted[message.id] = "retried"
        elif result.outcome == FAILED:
            fail(change, result.status or "failed", now)
            counted[message.id] = "failed"
    return changes, counted


def never_asked(part: list[Claimed], now: datetime) -> list[Change]:
    """Return the changes that put started rows back in the queue: no attempt spent."""
    changes = [Change(message) for message in part]
    for change in changes:
        _unasked(change, now)
    return changes


def _unasked(change: Change, when: datetime) -> None:
    """Put a started row back in the queue for when, its provider forgotten."""
    release(change, when)
    change.provider = None
