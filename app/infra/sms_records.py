"""The durable records of SMS traffic besides the outbox: delivery reports and inbound SMS."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.infra.models import Base, UTCDateTime, utcnow


class DeliveryReport(Base):
    """A delivery report as received; each provider's (id, status) is applied once."""

    __tablename__ = "delivery_reports"
    __table_args__ = (
        UniqueConstraint(
            "provider", "provider_id", "status", name="uq_delivery_reports_provider_id_status"
        ),
        # By the provider's id alone, as the send's record and the sweep ask (migration 0023).
        Index("ix_delivery_reports_provider_id", "provider_id"),
        # The reports still waiting for their SMS, as the tick's sweep asks (migration 0024),
        # in each dialect's words for applied.is_(False).
        Index(
            "ix_delivery_reports_waiting",
            "provider_id",
            "provider",
            postgresql_where=text("applied IS false"),
            sqlite_where=text("applied IS 0"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str | None] = mapped_column(String(24))  # who sent the report
    status: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(16))
    network_code: Mapped[str | None] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(String(64))
    retry_count: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[str | None] = mapped_column(String(32))  # as a provider prices it in reports
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InboundMessage(Base):
    """An SMS a phone sent to the service, stored once per provider id."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str | None] = mapped_column(String(24))  # whom the person wrote through
    phone: Mapped[str | None] = mapped_column(String(16), index=True)
    to: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    link_id: Mapped[str | None] = mapped_column(String(64))
    network_code: Mapped[str | None] = mapped_column(String(16))
    date: Mapped[str | None] = mapped_column(String(40))
    keyword: Mapped[str | None] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recall: Mapped[bool] = mapped_column(Boolean, default=False)  # a recall quiz's answer
    # Neither a keyword nor a recall answer: a supervisor reads it, answers it or sets it aside.
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_by: Mapped[str | None] = mapped_column(String(254))
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
