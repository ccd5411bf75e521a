"""The audit log: writing an entry inside the action's transaction, and reading entries back as views."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import AuditLog, User


@dataclass(frozen=True)
class AuditEntry:
    """Who did what to what, when and why."""

    id: int
    created_at: dt.datetime
    actor_id: uuid.UUID | None
    actor_name: str | None  # None: an automatic decision (auto-moderation, a stale tree)
    action: str
    target_type: str
    target_id: str
    reason: str | None
    details: dict | None


def record(
    session: AsyncSession, actor_id: uuid.UUID | None, action: str, target_type: str, target_id: object,
    *, reason: str | None = None, **details,
) -> None:  # fmt: skip
    """Add an audit entry to the current transaction: it commits, or rolls back, with the action."""
    session.add(
        AuditLog(
            actor_id=actor_id, action=action, target_type=target_type, target_id=str(target_id),
            reason=reason, details=details or None,
        )
    )  # fmt: skip


async def entries(session: AsyncSession, *, limit: int, target_id: str | None = None) -> list[AuditEntry]:
    """The newest entries first, optionally only those about one target."""
    q = (
        select(AuditLog, User.display_name)
        .outerjoin(User, User.id == AuditLog.actor_id)
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .limit(limit)
    )
    if target_id is not None:
        q = q.where(AuditLog.target_id == str(target_id))
    rows = await session.execute(q)
    return [
        AuditEntry(a.id, a.created_at, a.actor_id, name, a.action, a.target_type, a.target_id, a.reason, a.details)
        for a, name in rows
    ]


async def last_details(session: AsyncSession, action: str, target_id: object) -> dict | None:
    """The details of the newest entry of one action on one target (to undo exactly what it did)."""
    return await session.scalar(
        select(AuditLog.details)
        .where(AuditLog.action == action, AuditLog.target_id == str(target_id))
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .limit(1)
    )
