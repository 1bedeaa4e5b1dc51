"""A bridged conversation's recording: Twilio keeps the audio, this row says whose it is."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, text, true
from sqlalchemy.orm import Mapped, mapped_column

from crm.models import Base, Timestamp


class CallRecording(Base):
    __tablename__ = "call_recordings"
    __table_args__ = (
        Index("ix_call_recordings_request", "request_id", "id"),
        # Recordings of no conversation, still to be deleted at Twilio (a background job).
        Index(
            "ix_call_recordings_discard",
            "id",
            sqlite_where=text("NOT kept AND deleted_at IS NULL"),
            postgresql_where=text("NOT kept AND deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_sid: Mapped[str] = mapped_column(String(64), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    dial_id: Mapped[int | None] = mapped_column(ForeignKey("dial_attempts.id", ondelete="CASCADE"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"))
    kept: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """False: of no consented conversation (a voicemail, a dial not announced as recorded);
    it is deleted at Twilio by the background job `recordings_discard`."""
    duration_seconds: Mapped[int] = mapped_column(Integer, default=0)
    channels: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    deleted_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """Deleted here and at Twilio; the row stays so the history says it existed."""
    deleted_by: Mapped[str | None] = mapped_column(String(254))
