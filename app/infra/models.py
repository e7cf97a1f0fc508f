"""The durable records: contacts and USSD session outcomes."""

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ROLES = ("agent", "community", "supervisor", "focal_point")


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no offset: without this, the same column would come back
    aware from PostgreSQL and naive from SQLite.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    """Return the current time in UTC, timezone-aware."""
    return datetime.now(UTC)


def hour_of(moment: datetime) -> datetime:
    """Round a moment down to its hour: a time kept coarse cannot be matched to a call."""
    return moment.replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    """Round a moment down to its day (UTC midnight)."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def today() -> datetime:
    """Return today's UTC midnight: when a contact was created or seen, to the day."""
    return day_of(utcnow())


class Base(DeclarativeBase):
    """Declarative base shared by every table."""


class Contact(Base):
    """A phone we know: who it belongs to, in which language, in what role."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), unique=True)  # E.164
    name: Mapped[str | None] = mapped_column(String(60))
    language: Mapped[str | None] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(16), default="community", index=True)
    organisation: Mapped[str | None] = mapped_column(String(60))
    region: Mapped[str | None] = mapped_column(String(60))
    cercle: Mapped[str | None] = mapped_column(String(60))
    commune: Mapped[str | None] = mapped_column(String(60))
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The consent behind the last opt-in: when, who noted it (a console user, or "sms"), how.
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consent_by: Mapped[str | None] = mapped_column(String(254))
    consent_how: Mapped[str | None] = mapped_column(String(16))  # call, visit, written, sms
    consent_note: Mapped[str | None] = mapped_column(String(200))
    unreachable_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_streak: Mapped[int] = mapped_column(Integer, default=0)
    # The local hour an agent asked to be called at for lessons; None: reminders by SMS.
    call_hour: Mapped[int | None] = mapped_column(Integer)
    # To the day only: a first call in the same minute as a report would name its reporter.
    first_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=today)


class UssdEvent(Base):
    """The gateway's end-of-session notification: how and where a session ended."""

    __tablename__ = "ussd_events"
    __table_args__ = (Index("ix_ussd_events_last_node", "status", "last_node"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(String(16))
    service_code: Mapped[str | None] = mapped_column(String(32))
    network_code: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    cost: Mapped[str | None] = mapped_column(String(32))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    hops: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    last_node: Mapped[str | None] = mapped_column(String(64))
    labels: Mapped[str | None] = mapped_column(Text)  # training screens shown, "|"-joined
    date: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Campaign(Base):
    """An SMS campaign: messages per language, an audience, a schedule and limits."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    messages: Mapped[str] = mapped_column(Text)  # JSON: {"fr": "...", ...}
    audience: Mapped[str] = mapped_column(Text)  # JSON: {"role": "agent", ...}
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rate: Mapped[int | None] = mapped_column(Integer)  # messages per second
    repeat_days: Mapped[int | None] = mapped_column(Integer)  # None: sent once
    occurrence: Mapped[int] = mapped_column(Integer, default=0)
    budget: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    reason: Mapped[str | None] = mapped_column(String(200))
    cursor: Mapped[int] = mapped_column(Integer, default=0)  # last contact id expanded
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    estimated_cost: Mapped[Decimal] = mapped_column(Numeric(14, 4), default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expanded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scope: Mapped[str | None] = mapped_column(String(40))  # "cercle=kadiolo": never beyond it
    created_by: Mapped[str | None] = mapped_column(String(254))  # console user's email


GIVEN = text("provider_id IS NOT NULL")  # the outbox's rows the provider has given an id
UNKEYED = text("place_key IS NULL AND place IS NOT NULL")  # a case to give its site's key
RECEIPT_KEPT = text("kind = 'receipt' AND phone <> ''")  # a receipt whose number is kept


class Message(Base):
    """One SMS to one phone, from the decision to send to the delivery report."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "not_before"),
        Index("ix_outbox_campaign", "campaign_id", "status"),
        # A row is written twice as it goes out (sending, then its outcome), each write a new
        # entry in every index that takes the row: the provider's id only from the last
        # (migration 0022).
        Index("ix_outbox_provider_id", "provider_id", postgresql_where=GIVEN,
              sqlite_where=GIVEN),
        # The sender's choice's order, of the queued rows only (migration 0021).
        Index("ix_outbox_queued", "urgent", "id",
              postgresql_where=text("status = 'queued'"), sqlite_where=text("status = 'queued'")),
        # The receipts whose number the tick has yet to forget (migration 0024).
        Index("ix_outbox_receipts_kept", "id", postgresql_where=RECEIPT_KEPT,
              sqlite_where=RECEIPT_KEPT),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # kind:subject:recipient
    kind: Mapped[str] = mapped_column(String(24))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    phone: Mapped[str] = mapped_column(String(16), index=True)  # "" once forgotten
    body: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(8))
    parts: Mapped[int] = mapped_column(Integer)
    estimated_cost: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    status: Mapped[str] = mapped_column(String(12), default="queued")
    not_before: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(40))
    # Who carries it (set as the request starts); a reply may be pinned to the provider
    # (via) and our number (sender) the person wrote to.
    provider: Mapped[str | None] = mapped_column(String(24))
    via: Mapped[str | None] = mapped_column(String(24))
    sender: Mapped[str | None] = mapped_column(String(32))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    provider_status: Mapped[str | None] = mapped_column(String(40))
    cost: Mapped[str | None] = mapped_column(String(32))
    provider_parts: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(200))
    delivery_status: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ModuleProgress(Base):
    """Where a learner stands in one module: position, attempt, scores."""

    __tablename__ = "module_progress"
    __table_args__ = (UniqueConstraint("contact_id", "module", name="uq_progress_contact_module"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    module: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12), default="started")  # started, passed, failed
    position: Mapped[str] = mapped_column(String(32), default="")  # the screen last shown
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    score: Mapped[int | None] = mapped_column(Integer)  # correct answers, last finished attempt
    best_score: Mapped[int | None] = mapped_column(Integer)
    questions: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Steps taken in the module: a step written behind moves the row only past this count,
    # whatever the clocks of the nodes that queued and wrote them (app/training/behind.py).
    step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Recall(Base):
    """A recall quiz: a passed module's questions asked again days later, by USSD or SMS."""

    __tablename__ = "recalls"
    __table_args__ = (UniqueConstraint("contact_id", "module", name="uq_recall_contact_module"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    module: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    postponed: Mapped[int] = mapped_column(Integer, default=0)  # times "Plus tard" was chosen
    asking: Mapped[str | None] = mapped_column(String(32))  # the question an SMS awaits
    sms_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    right: Mapped[int | None] = mapped_column(Integer)
    questions: Mapped[int | None] = mapped_column(Integer)


class Certificate(Base):
    """Proof that an agent passed every module, checkable by its short code."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), unique=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    modules: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    questions: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QuizAnswer(Base):
    """One answer to one quiz question, in one attempt; the first per attempt counts."""

    __tablename__ = "quiz_answers"
    __table_args__ = (
        UniqueConstraint("contact_id", "question", "attempt", name="uq_answer_attempt"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    module: Mapped[str] = mapped_column(String(16))
    question: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer)  # 0 is the pre-test
    choice: Mapped[int] = mapped_column(Integer)
    correct: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Case(Base):
    """A report of a child at risk, followed until it is closed. Never a child's name."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_place", "cercle", "sector", "status"),
        # The cases still without their site's key, which the tick keys (migration 0025).
        Index("ix_cases_unkeyed", "id", postgresql_where=UNKEYED, sqlite_where=UNKEYED),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(8), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="new")
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    sector: Mapped[str | None] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(32))
    cercle: Mapped[str | None] = mapped_column(String(32))
    place: Mapped[str | None] = mapped_column(String(60))
    # The place as reports about one site are matched (app/cases/filing.site_key).
    place_key: Mapped[str | None] = mapped_column(String(120))
    children: Mapped[str | None] = mapped_column(String(8))
    age: Mapped[str | None] = mapped_column(String(8))
    sex: Mapped[str | None] = mapped_column(String(8))
    school: Mapped[str | None] = mapped_column(String(8))
    hazard: Mapped[str | None] = mapped_column(String(16))
    contactable: Mapped[bool] = mapped_column(Boolean, default=False)
    reporter_phone: Mapped[str | None] = mapped_column(Text)  # encrypted, contactable only
    assignee: Mapped[str | None] = mapped_column(String(16))  # a field agent's phone
    verify_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A report about a case already open is kept, linked to it, not opened again.
    linked_to: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    reports: Mapped[int] = mapped_column(Integer, default=1)  # reports pooled in this case
    referred_to: Mapped[str | None] = mapped_column(String(24))  # the service, once referred
    referred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    follow_ups: Mapped[int] = mapped_column(Integer, default=0)  # done, of CASE_FOLLOW_UP_DAYS
    follow_up_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The current due date's reminder to the assignee, then escalation to supervisors.
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CaseEvent(Base):
    """One step of a case: who moved it, when, from what to what, and why."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    actor: Mapped[str] = mapped_column(String(300))  # "console:" and an email of up to 254
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    assignee: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FocalPoint(Base):
    """A supervisor or field agent who receives the cases of some areas."""

    __tablename__ = "focal_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), unique=True)
    role: Mapped[str] = mapped_column(String(12))  # supervisor, agent
    pin_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FocalArea(Base):
    """One area a focal point covers: a cercle, a region, or "all"."""

    __tablename__ = "focal_areas"
    __table_args__ = (UniqueConstraint("focal_point_id", "area", name="uq_focal_area"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    focal_point_id: Mapped[int] = mapped_column(ForeignKey("focal_points.id"), index=True)
    area: Mapped[str] = mapped_column(String(32), index=True)


class User(Base):
    """A person who signs in to the web console."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2
    role: Mapped[str] = mapped_column(String(12))  # admin, supervisor, viewer
    scope: Mapped[str | None] = mapped_column(String(40))  # "cercle=kadiolo"; None: everywhere
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Bumped by sign-out, a password change or disabling: every older cookie dies.
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """Who looked at or took what from the console, and when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(254), index=True)
    action: Mapped[str] = mapped_column(String(32))  # case.view, cases.export, login...
    target: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
