"""A campaign's lifecycle: progress, pause, resume and cancel, brakes, failure and finish."""

from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from app.infra.models import Campaign, Message, utcnow
from app.messaging.campaigns.text import CampaignError

OPEN = ("queued", "claimed", "sending")
# What may be done to a campaign: the states it may be done from, and the state it leads to
# (resume: back to sending, or to scheduled if it was paused before it was expanded).
ACTIONS = {
    "pause": (("scheduled", "expanding", "sending"), "paused"),
    "resume": (("paused",), None),
    "cancel": (("scheduled", "expanding", "sending", "paused", "failed"), "cancelled"),
}


def _pairs(rows) -> dict:
    """Turn (key, count) rows into a dict (a Result has keys(), so dict() misreads it)."""
    return {key: count for key, count in rows}


def progress(db: Session, campaign_id: int) -> dict:
    """Count the campaign's messages by state, and how far it has got."""
    rows = db.execute(
        select(Message.status, func.count())
        .where(Message.campaign_id == campaign_id)
        .group_by(Message.status)
    )
    counts = _pairs(rows)
    total = sum(counts.values())
    queued = sum(counts.get(s, 0) for s in OPEN)
    pending_unknown = db.scalar(
        select(func.count()).where(
            Message.campaign_id == campaign_id,
            Message.status == "unknown",
            Message.finished_at.is_(None),
        )
    )
    done = total - queued - pending_unknown
    expanded = db.scalar(select(Campaign.expanded_at).where(Campaign.id == campaign_id))
    if expanded is None:  # still growing: never call it finished
        percent = 0 if total == 0 else min(99, int(100 * done / total))
    else:
        percent = 100 if total == 0 else int(100 * done / total)
    return {
        "total": total,
        "queued": queued,
        "sent": counts.get("sent", 0),
        "delivered": counts.get("delivered", 0),
        "failed": counts.get("failed", 0),
        "cancelled": counts.get("cancelled", 0),
        "unknown": counts.get("unknown", 0),
        "percent": percent,
    }


def actions(status: str) -> list[str]:
    """Return what may be done to a campaign in this state, in the order pages offer it."""
    return [action for action, (sources, _) in ACTIONS.items() if status in sources]


def set_status(db: Session, campaign_id: int, action: str) -> Campaign:
    """Pause, resume or cancel a campaign; raise CampaignError when it cannot."""
    if action not in ACTIONS:
        raise CampaignError(f"unknown action {action!r}")
    # Locked and read afresh: a worker may have finished or paused it since it was shown.
    campaign = db.get(Campaign, campaign_id, with_for_update=True, populate_existing=True)
    if campaign is None:
        raise CampaignError(f"no campaign {campaign_id}")
    sources, target = ACTIONS[action]
    if campaign.status not in sources:
        status = campaign.status
        db.rollback()  # let the row go
        raise CampaignError(f"campaign {campaign_id} is {status}: cannot {action}")
    if action == "resume":
        target = "sending" if campaign.expanded_at else "scheduled"
        campaign.reason = None
    campaign.status = target
    if action == "pause":
        campaign.reason = "paused by a supervisor"
    if action == "cancel":
        db.execute(
            update(Message)
            .where(Message.campaign_id == campaign_id, Message.status == "queued")
            .values(status="cancelled", reason="campaign cancelled", finished_at=utcnow())
        )
    db.commit()
    return campaign


def stop(db: Session, campaign_id: int, reason: str) -> None:
    """Mark a campaign failed, with the reason, and leave its queued rows be."""
    db.rollback()
    db.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(status="failed", reason=reason[:200])
    )
    db.commit()


def brake(db: Session, campaign_id: int, threshold: float, window: int = 200) -> bool:
    """Pause a campaign whose failure rate over its last sends passes threshold."""
    recent = (
        select(Message.status)
        .where(
            Message.campaign_id == campaign_id,
            Message.status.in_(("sent", "delivered", "failed")),
            Message.sent_at.is_not(None) | (Message.status == "failed"),
        )
        .order_by(Message.id.desc())
        .limit(window)
        .subquery()
    )
    counts = _pairs(db.execute(select(recent.c.status, func.count()).group_by(recent.c.status)))
    total = sum(counts.values())
    # Too few sends say nothing yet; a tenth of the window is enough to judge.
    if total < max(10, window // 10) or counts.get("failed", 0) / total <= threshold:
        return False
    rate = counts.get("failed", 0) / total
    changed = db.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(("sending", "expanding")))
        .values(status="paused", reason=f"paused: {rate:.0%} of the last {total} sends failed")
    ).rowcount
    db.commit()
    return bool(changed)


def finish(db: Session, now: datetime) -> list[int]:
    """Close campaigns with nothing left to send: done, or scheduled again if repeating."""
    # A batch expanded just as the campaign was cancelled must not wait forever.
    stopped = select(Campaign.id).where(Campaign.status == "cancelled")
    db.execute(
        update(Message)
        .where(Message.status == "queued", Message.campaign_id.in_(stopped))
        .values(status="cancelled", reason="campaign cancelled", finished_at=now)
        .execution_options(synchronize_session=False)
    )
    done = []
    for campaign in db.scalars(select(Campaign).where(Campaign.status == "sending")):
        if campaign.expanded_at is None:
            continue
        left = db.scalar(
            select(func.count()).where(
                Message.campaign_id == campaign.id,
                (Message.status.in_(OPEN))
                | and_(Message.status == "unknown", Message.finished_at.is_(None)),
            )
        )
        if left:
            continue
        if campaign.repeat_days and not campaign.reason:
            # Next occurrence: same audience, read afresh, new idempotency keys.
            campaign.status, campaign.cursor, campaign.expanded_at = "scheduled", 0, None
            campaign.occurrence += 1
            campaign.start_at = campaign.start_at + timedelta(days=campaign.repeat_days)
        else:
            campaign.status = "done"
        done.append(campaign.id)
    db.commit()
    return done
