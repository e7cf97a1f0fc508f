"""Campaigns: an audience streamed into the outbox, with progress and brakes."""

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.orm import Session

from app.infra.models import Campaign, Contact, Message, utcnow
from app.messaging import outbox
from app.messaging.audience import (  # noqa: F401 (re-exported: the console and CLI use them here)
    COLUMNS,
    TRAINING,
    in_area,
    parse_audience,
    recipients,
    within,
)
from app.messaging.campaign_text import (  # noqa: F401 (re-exported: the console and CLI use them here)
    PLACEHOLDERS,
    CampaignError,
    PlaceholderError,
    check_messages,
    message_for,
    render,
)
from app.messaging.segments import estimate

EXPAND_BATCH = 1000
OPEN = ("queued", "claimed", "sending")


def _pairs(rows) -> dict:
    """Turn (key, count) rows into a dict (a Result has keys(), so dict() misreads it)."""
    return {key: count for key, count in rows}


MAX_BUDGET = Decimal(10) ** 10


def parse_budget(text: str) -> Decimal:
    """Read a budget: a positive, finite amount below 10^10."""
    try:
        amount = Decimal(text.strip())
        if amount.is_finite():  # as stored: four decimals, so 9999999999.99999 is 10^10
            amount = amount.quantize(Decimal("0.0001"))
    except InvalidOperation:
        raise CampaignError(f"budget must be an amount such as 50000, not {text!r}") from None
    if not amount.is_finite() or not 0 < amount < MAX_BUDGET:
        raise CampaignError(f"budget must be between 0 and {MAX_BUDGET:,}, not {text!r}")
    return amount


def preview(db: Session, messages: dict[str, str], audience: dict, config) -> dict:
    """Count recipients and estimate parts and cost before anything is created."""
    base = recipients(audience).subquery()
    by_lang = _pairs(db.execute(select(base.c.language, func.count()).group_by(base.c.language)))
    price = outbox.part_cost(config)
    total, cost, parts, encodings = 0, Decimal(0), {}, {}
    for lang, count in by_lang.items():
        # Placeholders count as blank: names vary, and braces are not sent.
        template = render(message_for(messages, lang), Contact())
        text = outbox.row(config, "preview", 0, "+0", template)["body"]
        guess = estimate(text, price)
        parts[lang or "fr"] = guess.parts
        encodings[lang or "fr"] = guess.encoding
        total += count
        cost += guess.cost * count
    return {"recipients": total, "parts": parts, "encodings": encodings, "cost": cost}


def create(db: Session, name: str, messages: dict, audience: dict, **options) -> Campaign:
    """Create a campaign to start at options["start_at"] (default now); the caller commits.

    options["scope"] records the area an audience from within() is held in.
    """
    scope = options.get("scope")
    if scope and not audience.get("area"):  # the caller holds it there: within()
        raise CampaignError(f"the audience of a campaign for {scope} must be held inside it")
    if not name.strip():
        raise CampaignError("a campaign needs a name")
    if not messages or not all(m.strip() for m in messages.values()):
        raise CampaignError("a campaign needs a message")
    check_messages(messages)
    campaign = Campaign(
        name=name.strip()[:120],
        messages=json.dumps(messages, ensure_ascii=False),
        audience=json.dumps(audience, ensure_ascii=False),
        start_at=options.get("start_at") or utcnow(),
        rate=options.get("rate"),
        budget=options.get("budget"),
        repeat_days=options.get("repeat_days"),
        occurrence=0,
        status="scheduled",
        cursor=0,
        recipients=0,
        estimated_cost=Decimal(0),
        created_at=utcnow(),
        scope=scope,
        created_by=options.get("created_by"),
    )
    db.add(campaign)
    db.flush()
    return campaign


def expand(
    db: Session, campaign_id: int, config, batch: int = EXPAND_BATCH, heartbeat=None
) -> Campaign:
    """Stream the audience into outbox rows, one committed batch at a time.

    The cursor (last contact id) is saved with each batch, so an expansion cut
    short resumes where it stopped; idempotency keys make a replay harmless.
    """
    campaign = db.get(Campaign, campaign_id)
    if campaign is None or campaign.status not in ("scheduled", "expanding"):
        return campaign
    campaign.status = "expanding"
    db.commit()
    messages = json.loads(campaign.messages)
    query = recipients(json.loads(campaign.audience)).order_by(Contact.id)
    subject = occurrence_subject(campaign)
    for contacts in _batches(db, query, campaign, batch):
        rows, over_budget = [], False
        # A replayed batch (a worker lost half-way) must not count twice.
        keys = [f"campaign:{subject}:{c.phone}" for c in contacts]
        queued = set(db.scalars(select(Message.key).where(Message.key.in_(keys))))
        for contact in contacts:
            if f"campaign:{subject}:{contact.phone}" in queued:
                campaign.cursor = contact.id
                continue
            row = outbox.row(
                config,
                "campaign",
                subject,
                contact.phone,
                render(message_for(messages, contact.language), contact),
                campaign_id=campaign.id,
            )
            if campaign.budget is not None and (
                campaign.estimated_cost + row["estimated_cost"] > campaign.budget
            ):
                over_budget = True
                break
            rows.append(row)
            campaign.estimated_cost += row["estimated_cost"]
            campaign.cursor = contact.id
        campaign.recipients += outbox.insert(db, rows)
        if over_budget:
            campaign.reason = f"budget reached after {campaign.recipients} recipients"
        db.commit()
        if heartbeat:
            heartbeat()
        if over_budget:
            break
    db.refresh(campaign)
    if campaign.status == "expanding":
        campaign.status = "sending"
    campaign.expanded_at = utcnow()
    db.commit()
    return campaign


def occurrence_subject(campaign: Campaign) -> str:
    """Return the idempotency subject of a campaign's current occurrence."""
    # The first occurrence keeps the plain id, so its keys read campaign:7:+223...
    return str(campaign.id) if not campaign.occurrence else f"{campaign.id}.{campaign.occurrence}"


def _batches(db: Session, query: Select, campaign: Campaign, size: int) -> Iterator[list]:
    """Yield contacts after the campaign's cursor, size at a time (keyset paging)."""
    while True:
        page = list(db.scalars(query.where(Contact.id > campaign.cursor).limit(size)))
        if not page:
            return
        yield page
        # Stop early when someone paused or cancelled the campaign meanwhile.
        db.refresh(campaign, ["status"])
        if campaign.status not in ("expanding", "paused"):
            return


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


def set_status(db: Session, campaign_id: int, action: str) -> Campaign:
    """Pause, resume or cancel a campaign; raise CampaignError when it cannot."""
    campaign = db.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError(f"no campaign {campaign_id}")
    allowed = {
        "pause": ({"scheduled", "expanding", "sending"}, "paused"),
        "resume": ({"paused"}, None),
        "cancel": ({"scheduled", "expanding", "sending", "paused", "failed"}, "cancelled"),
    }
    if action not in allowed:
        raise CampaignError(f"unknown action {action!r}")
    sources, target = allowed[action]
    if campaign.status not in sources:
        raise CampaignError(f"campaign {campaign_id} is {campaign.status}: cannot {action}")
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


def due(db: Session, now: datetime) -> list[int]:
    """Return campaigns to expand: started, or stopped half-way by a lost worker."""
    query = select(Campaign.id).where(
        ((Campaign.status == "scheduled") & (Campaign.start_at <= now))
        | (Campaign.status == "expanding")
    )
    return list(db.scalars(query))
