"""Campaign expansion: the audience streamed into outbox rows, batch by batch."""

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, String, func, literal, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.infra.db import commit_soon
from app.infra.models import Campaign, Contact, Message, utcnow
from app.messaging import outbox
from app.messaging.campaigns.audience import recipients
from app.messaging.campaigns.text import PLACEHOLDERS, message_for, placeholders, render

log = logging.getLogger(__name__)
# Contacts a page: each page costs a few statements and a commit, some 10 ms in all, which
# pages of 1,000 paid on every 1,000 recipients (18,000 a second against 21,000 with 5,000;
# bench/campaign.py). A page holds the campaign's row locked some 0.25 s: a pause waits that.
EXPAND_BATCH = 5000
# Distinct texts kept rendered and priced: enough for every template without {name},
# bounded so that memory does not grow with the audience.
TEXTS_KEPT = 4096


def expand(
    db: Session, campaign_id: int, config, batch: int = EXPAND_BATCH, heartbeat=None
) -> Campaign:
    """Stream the audience into outbox rows, one committed batch at a time.

    A batch is the audience among the next batch contacts by id. The cursor (the last
    contact id looked at) is saved with each batch's rows, so an expansion cut short
    resumes where it stopped; idempotency keys make a replay harmless.

    Each batch holds the campaign's row locked until it commits, and reads its cursor
    and counts afresh under the lock: an expansion running at the same time (its worker's
    Redis lock lost) waits, then goes on from where this one left, and neither counts
    nor spends on a stale total.
    """
    campaign = db.get(Campaign, campaign_id)
    if campaign is None or campaign.status not in ("scheduled", "expanding"):
        return campaign
    campaign.status = "expanding"
    db.commit()
    subject = occurrence_subject(campaign)
    audience, prefix = json.loads(campaign.audience), f"campaign:{subject}:"
    texts = Texts(config, json.loads(campaign.messages))
    # Stop early when someone paused or cancelled the campaign meanwhile.
    while _locked(db, campaign_id).status in ("expanding", "paused"):
        if (upto := _bound(db, campaign.cursor, batch)) is None:
            break
        page = db.execute(pending(audience, prefix, campaign.cursor, upto)).all()
        over_budget = _queue(db, campaign, subject, page, texts)
        if not over_budget:
            campaign.cursor = upto
        # Rows and cursor commit together: a commit lost in a crash is redone by the replay.
        commit_soon(db)
        if heartbeat:
            heartbeat()
        if over_budget:
            break
    campaign = _locked(db, campaign_id)  # as the last batch, here or elsewhere, left it
    if campaign.status == "expanding":
        campaign.status = "sending"
    campaign.expanded_at = utcnow()
    db.commit()
    if db.get_bind().dialect.name == "postgresql":
        # The outbox may have grown a hundredfold: planned on the statistics of before, the
        # sender's claim would sort every queued row, where its index reads only the first.
        # A hint, not a duty: behind a vacuum's lock it gives up (autovacuum analyzes later).
        try:
            db.execute(text("SET LOCAL lock_timeout = '2s'"))
            db.execute(text("ANALYZE outbox"))
            db.commit()
        except OperationalError:
            db.rollback()
            log.info("campaign %s: the outbox was not analyzed (locked)", campaign_id)
    return campaign


def _locked(db: Session, campaign_id: int) -> Campaign:
    """Lock the campaign's row until the next commit and read it afresh; SQLite has no row
    locks, and serialises writers anyway."""
    # FOR NO KEY UPDATE: an outbox row of the campaign added meanwhile, whose foreign key
    # takes a KEY SHARE lock, does not wait for the batch; another expansion does.
    query = select(Campaign).where(Campaign.id == campaign_id).with_for_update(key_share=True)
    return db.scalars(query.execution_options(populate_existing=True)).one()


def pending(audience: dict, prefix: str, after: int, upto: int) -> Select:
    """Select, in id order, the audience's contacts in (after, upto] with no row under prefix.

    A replayed batch (a worker lost half-way) finds its rows there and skips them,
    so they count neither twice nor against the budget.
    """
    columns = [getattr(Contact, name) for name in ("id", "phone", "language", *PLACEHOLDERS)]
    # Each contact's key looked up in the outbox's unique index. As a plain NOT EXISTS,
    # PostgreSQL made it an anti-join that hashed the whole outbox for every page, history
    # and all: 16 ms a page at 50,000 rows, growing with the outbox (a 100,000 campaign
    # expanded at 14,000 a second, not 23,000). OFFSET keeps the subquery a subquery: the
    # planner may not turn it into a join (PostgreSQL's simplify_EXISTS_query).
    key = literal(prefix, String) + Contact.phone
    queued = select(Message.id).where(Message.key == key).offset(0).exists()
    query = recipients(audience, paged=True).with_only_columns(*columns)
    return query.where(Contact.id > after, Contact.id <= upto, ~queued).order_by(Contact.id)


def _bound(db: Session, after: int, size: int) -> int | None:
    """Return the id of the size-th contact after id after, or of the last; None if none.

    Cutting the page by id alone keeps it an index range whatever the audience, even on
    a table just filled, whose statistics would make a filtered LIMIT scan every row.
    """
    ids = select(Contact.id).where(Contact.id > after).order_by(Contact.id).limit(size)
    return db.scalar(select(func.max(ids.subquery().c.id)))


class Texts:
    """Each contact's text, rendered and priced once per distinct text."""

    def __init__(self, config: Mapping, messages: dict[str, str], kept: int = TEXTS_KEPT):
        self.config, self.messages, self.kept = config, messages, kept
        self.templates: dict[str | None, tuple[str, tuple[str, ...]]] = {}
        self.known: dict[tuple, tuple] = {}

    def of(self, contact) -> tuple:
        """Return (body, encoding, parts, estimated cost) of the text a contact gets."""
        found = self.templates.get(contact.language)
        if found is None:
            template = message_for(self.messages, contact.language)
            found = self.templates[contact.language] = (template, placeholders(template))
        template, names = found
        # Only the values the template shows tell one text from another.
        key = (template, *(getattr(contact, name) for name in names))
        found = self.known.get(key)
        if found is None:
            if len(self.known) >= self.kept:
                self.known.clear()
            body, guess = outbox.priced(self.config, render(template, contact))
            found = self.known[key] = (body, guess.encoding, guess.parts, guess.cost)
        return found


def _queue(db: Session, campaign: Campaign, subject: str, page: list, texts: Texts) -> bool:
    """Add one page's rows, up to the budget; True if the budget ran out."""
    now, spent, budget = utcnow(), campaign.estimated_cost, campaign.budget
    rows, costs, last, over_budget = [], {}, None, False
    for contact in page:
        body, encoding, parts, cost = texts.of(contact)
        if budget is not None and spent + cost > budget:
            over_budget = True
            break
        spent += cost
        key = f"campaign:{subject}:{contact.phone}"
        costs[key], last = cost, contact.id
        rows.append({
            "key": key, "kind": "campaign", "phone": contact.phone, "body": body,
            "encoding": encoding, "parts": parts, "estimated_cost": cost, "status": "queued",
            "urgent": False, "not_before": now, "attempts": 0, "created_at": now,
            "campaign_id": campaign.id,
        })  # fmt: skip
    # Only what went in counts: a row another worker added meanwhile was counted there.
    added = outbox.insert_new(db, rows)
    campaign.recipients += len(added)
    campaign.estimated_cost += sum((costs[key] for key in added), Decimal(0))
    if over_budget:
        campaign.reason = f"budget reached after {campaign.recipients} recipients"
        if last is not None:
            campaign.cursor = last
    return over_budget


def occurrence_subject(campaign: Campaign) -> str:
    """Return the idempotency subject of a campaign's current occurrence."""
    # The first occurrence keeps the plain id, so its keys read campaign:7:+223...
    return str(campaign.id) if not campaign.occurrence else f"{campaign.id}.{campaign.occurrence}"


def due(db: Session, now: datetime) -> list[int]:
    """Return campaigns to expand: started, or stopped half-way by a lost worker."""
    query = select(Campaign.id).where(
        ((Campaign.status == "scheduled") & (Campaign.start_at <= now))
        | (Campaign.status == "expanding")
    )
    return list(db.scalars(query))
