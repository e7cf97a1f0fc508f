"""The durable records of voice calls: each call as the gateway reported it, and calls to make."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from app.infra.models import Base, UTCDateTime, utcnow

DIRECTIONS = ("inbound", "outbound")
# Why a call happened: a caller dialled in; a caller's missed call was rejected; we called
# back after a missed call; we called an agent for a lesson.
REASONS = ("inbound", "missed", "callback", "lesson")
# queued → sending → sent, or failed / unknown; queued → skipped when it must not be made.
# "unknown": the request may have reached the gateway and no answer came; never made again.
STATUSES = ("queued", "sending", "sent", "failed", "unknown", "skipped")


class Call(Base):
    """One voice session of the gateway, from its first request to its last."""

    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(8))
    number: Mapped[str | None] = mapped_column(String(20))  # ours: called, or calling out
    # The person's phone; None once the call made a report, as ussd_events keeps none then.
    phone: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(12))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_s: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    hangup_cause: Mapped[str | None] = mapped_column(String(64))


class CallRequest(Base):
    """A call Kalan is to place, once, through the gateway."""

    __tablename__ = "call_requests"
    __table_args__ = (
        Index("ix_call_requests_due", "status", "due_at"),
        Index("ix_call_requests_phone", "phone", "reason"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # reason:phone:moment
    phone: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(12))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    session_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # the gateway's
    error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
