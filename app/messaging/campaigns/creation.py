"""Campaign creation: the budget read, the preview of its size and cost, the row made."""

import json
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.infra.models import Campaign, Contact, utcnow
from app.infra.segments import Estimate, estimate
from app.messaging import outbox
from app.messaging.campaigns.audience import recipients
from app.messaging.campaigns.text import (
    CampaignError,
    EmptyMessageError,
    check_messages,
    message_for,
    render,
)

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
    rows = db.execute(select(base.c.language, func.count()).group_by(base.c.language))
    by_lang = {lang: count for lang, count in rows}  # a Result has keys(): dict() misreads it
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


def sizes(messages: dict[str, str], config) -> dict[str, Estimate]:
    """Estimate each language's message as one SMS: encoding, parts and cost (blanks filled)."""
    price = outbox.part_cost(config)
    texts = {lang: outbox.row(config, "preview", 0, "+0", render(text, Contact()))["body"]
             for lang, text in messages.items()}  # fmt: skip
    return {lang: estimate(text, price) for lang, text in texts.items()}


def check(name: str, messages: dict, audience: dict, scope: str | None = None) -> None:
    """Refuse what create() would refuse, before anything is shown as ready to send."""
    if scope and not audience.get("area"):  # the caller holds it there: within()
        raise CampaignError(f"the audience of a campaign for {scope} must be held inside it")
    if not name.strip():
        raise CampaignError("a campaign needs a name")
    if not messages or not all(m.strip() for m in messages.values()):
        raise EmptyMessageError("a campaign needs a message")
    check_messages(messages)


def create(db: Session, name: str, messages: dict, audience: dict, **options) -> Campaign:
    """Create a campaign to start at options["start_at"] (default now); the caller commits.

    options["scope"] records the area an audience from within() is held in.
    """
    scope = options.get("scope")
    check(name, messages, audience, scope)
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
