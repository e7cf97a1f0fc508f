"""Campaign expansion: the audience streamed into outbox rows, batch by batch."""

import json
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.infra.models import Campaign, Contact, Message, utcnow
from app.messaging import outbox
from app.messaging.campaigns.audience import recipients
from app.messaging.campaigns.text import message_for, render

EXPAND_BATCH = 1000


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


def due(db: Session, now: datetime) -> list[int]:
    """Return campaigns to expand: started, or stopped half-way by a lost worker."""
    query = select(Campaign.id).where(
        ((Campaign.status == "scheduled") & (Campaign.start_at <= now))
        | (Campaign.status == "expanding")
    )
    return list(db.scalars(query))
