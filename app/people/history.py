"""A contact's history for the console: training, certificate, campaigns, SMS both ways.

Never their reports: a report keeps nothing that links it to a phone, and the receipt SMS of
a contactable reporter (which names the case's reference) is left out too.
"""

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.infra.models import Campaign, Certificate, Contact, Message, ModuleProgress
from app.infra.sms_records import InboundMessage

SHOWN = 100  # messages listed each way; the count says how many there are
HIDDEN_KINDS = ("receipt",)  # would tie the phone to a case


@dataclass
class History:
    """What the console shows of one contact, newest messages first."""

    progress: list[ModuleProgress] = field(default_factory=list)
    certificate: Certificate | None = None
    campaigns: list[tuple[Campaign, Message]] = field(default_factory=list)
    sent: list[Message] = field(default_factory=list)
    sent_total: int = 0
    received: list[InboundMessage] = field(default_factory=list)
    received_total: int = 0


def history(db: Session, contact: Contact, order: list[str]) -> History:
    """Gather a contact's history; order lists the course's modules as taken."""
    rank = {module: n for n, module in enumerate(order)}
    progress = db.scalars(select(ModuleProgress).where(ModuleProgress.contact_id == contact.id))
    shown = (Message.phone == contact.phone, Message.kind.not_in(HIDDEN_KINDS))
    sent = select(Message).where(*shown).order_by(Message.created_at.desc(), Message.id.desc())
    heard = InboundMessage.phone == contact.phone
    newest = (InboundMessage.received_at.desc(), InboundMessage.id.desc())
    received = select(InboundMessage).where(heard).order_by(*newest)
    campaigns = (
        select(Campaign, Message)
        .join(Message, Message.campaign_id == Campaign.id)
        .where(Message.phone == contact.phone)
        .order_by(Message.created_at.desc(), Message.id.desc())
    )
    return History(
        progress=sorted(progress, key=lambda p: (rank.get(p.module, len(rank)), p.module)),
        certificate=db.scalars(
            select(Certificate).where(Certificate.contact_id == contact.id)
        ).first(),
        campaigns=[tuple(row) for row in db.execute(campaigns.limit(SHOWN))],
        sent=list(db.scalars(sent.limit(SHOWN))),
        sent_total=db.scalar(select(func.count()).select_from(Message).where(*shown)),
        received=list(db.scalars(received.limit(SHOWN))),
        received_total=db.scalar(select(func.count()).select_from(InboundMessage).where(heard)),
    )
