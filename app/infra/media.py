"""Media kept beside the records: the voice recordings that come with reports."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.infra.models import Base, UTCDateTime

STATUSES = ("pending", "fetched", "failed")


class Recording(Base):
    """A recording made on a call (a report's site, said aloud), fetched and kept with its case.

    Nothing here names the caller: no number, times to the hour as the case's, and the
    provider's URL (which its call logs may tie to a number) forgotten once fetched.
    """

    __tablename__ = "recordings"
    __table_args__ = (Index("ix_recordings_due", "status", "not_before"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    source_url: Mapped[str | None] = mapped_column(String(1000))  # None once fetched or failed
    # Under RECORDINGS_DIR: "<case id>/<random>", and the file's suffix once fetched.
    path: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # see STATUSES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When a pending recording is tried next, or when the fetch that holds it lets go.
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    size: Mapped[int | None] = mapped_column(Integer)  # bytes of audio, before encryption
    content_type: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())  # to the hour, as its case
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # to the hour
    error: Mapped[str | None] = mapped_column(String(200))  # why the last try failed
