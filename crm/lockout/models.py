"""Wrong request numbers typed on the line, the guards they are counted under, lockouts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from crm.models import Base, Timestamp


class Lockout(Base):
    """A caller locked out of the line for guessing request numbers."""

    __tablename__ = "lockouts"
    __table_args__ = (
        Index("ix_lockouts_locked", "locked_at", "id"),
        # The lockouts whose letter to the admins is still to be written.
        Index(
            "ix_lockouts_alert_pending",
            "alert_pending",
            sqlite_where=text("alert_pending"),
            postgresql_where=text("alert_pending"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    caller: Mapped[str] = mapped_column(String(32))
    """The number the guessing came from (a manager's phone)."""
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("managers.id"), index=True)
    wrong_count: Mapped[int] = mapped_column(Integer)
    """Wrong numbers in the window when the lock came (of the caller's number or of the
    manager, whichever reached the limit)."""
    locked_at: Mapped[datetime] = mapped_column(Timestamp)
    locked_until: Mapped[datetime] = mapped_column(Timestamp)
    unlocked_at: Mapped[datetime | None] = mapped_column(Timestamp)
    unlocked_by: Mapped[str | None] = mapped_column(String(254))
    alert_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CallerGuard(Base):
    """One caller number (`phone:+7…`) or one manager (`manager:12`) that typed a wrong
    number: the row its count is serialized on, and its lock."""

    __tablename__ = "caller_guards"

    key: Mapped[str] = mapped_column(String(48), primary_key=True)
    counted_since: Mapped[datetime | None] = mapped_column(Timestamp)
    """Wrong numbers before this do not count (set by a lock and by an unlock)."""
    locked_until: Mapped[datetime | None] = mapped_column(Timestamp)
    lockout_id: Mapped[int | None] = mapped_column(ForeignKey("lockouts.id"), index=True)


class WrongNumber(Base):
    """A request number typed that was no request of the caller's company (or no number)."""

    __tablename__ = "wrong_numbers"
    __table_args__ = (
        Index("ix_wrong_numbers_caller_at", "caller", "at"),
        Index("ix_wrong_numbers_manager_at", "manager_id", "at"),
        Index("ix_wrong_numbers_at", "at"),  # forgetting those out of every window
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    caller: Mapped[str] = mapped_column(String(32))
    manager_id: Mapped[int] = mapped_column(ForeignKey("managers.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(Timestamp)
    result: Mapped[str] = mapped_column(String(32))
    """`not_found` (also another company's request) or `invalid_number`."""
