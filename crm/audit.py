"""The audit log: who changed what, when."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from crm.models import Base, Timestamp

OPERATOR = "operator (ivr command)"
"""The actor of what is done with the `ivr` command on the server, where nobody signs in."""


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[str] = mapped_column(Text, default="{}")


async def record(
    session: AsyncSession,
    *,
    actor: Any,
    action: str,
    entity: str,
    entity_id: Any = None,
    details: dict[str, Any] | None = None,
    now: datetime,
) -> None:
    """Append one audit row.

    `actor` is an `Actor`, a description of who acted without an account (such as `OPERATOR`),
    or None for the system itself.
    """
    if isinstance(actor, str):
        user_id, who = None, actor
    else:
        user_id, who = getattr(actor, "user_id", None), getattr(actor, "email", "system")
    session.add(
        AuditEntry(
            at=now,
            user_id=user_id,
            actor=who,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            details=json.dumps(details or {}, ensure_ascii=False, default=str),
        )
    )


async def list_entries(
    session: AsyncSession, *, page: int, per_page: int
) -> tuple[list[AuditEntry], int]:
    """A page of the audit log, newest first, and the total count."""
    total = await session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    rows = await session.scalars(
        select(AuditEntry)
        .order_by(AuditEntry.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows), total
