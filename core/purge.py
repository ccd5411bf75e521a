"""Removing one person's data on request, leaving every tree they touched consistent."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import activity, label_means, removal, trees
from core.config import Settings
from core.models import (
    Ballot,
    EmojiCount,
    Identity,
    Label,
    Message,
    MessageRevision,
    Reaction,
    Report,
    Task,
    Tree,
    User,
    UserActivity,
)
from core.sql import add_counts

RECEIVED = {"+1": "upvotes_received", "-1": "downvotes_received", "red_flag": "red_flags_received"}
PURGED_NAME = "purged user"


async def _reactions(session: AsyncSession, user: User) -> int:
    rows = (
        await session.execute(
            select(Reaction.message_id, Reaction.emoji, Message.user_id)
            .join(Message, Message.id == Reaction.message_id)
            .where(Reaction.user_id == user.id)
        )
    ).all()
    for message_id, emoji, author in rows:
        await add_counts(session, EmojiCount.__table__, {"message_id": message_id, "emoji": emoji}, {"count": -1})
        if emoji in RECEIVED:  # the author's troll score and upvotes no longer include this vote
            await activity.count(session, author, **{RECEIVED[emoji]: -1})
    await session.execute(delete(Reaction).where(Reaction.user_id == user.id))
    return len(rows)


async def _labels(session: AsyncSession, user: User) -> int:
    labels = (await session.scalars(select(Label).where(Label.user_id == user.id))).all()
    for label in labels:  # each rating comes out of its message's means
        await label_means.fold(session, label.message_id, {n: float(v) for n, v in label.values.items()}, remove=True)
        await session.delete(label)
    return len(labels)


async def _ballots(session: AsyncSession, user: User) -> tuple[int, set]:
    rows = (
        await session.execute(
            select(Ballot.id, Message.tree_id).join(Message, Message.id == Ballot.parent_id).where(Ballot.user_id == user.id)
        )
    ).all()
    await session.execute(delete(Ballot).where(Ballot.user_id == user.id))
    return len(rows), {tree_id for _, tree_id in rows}


async def _messages(session: AsyncSession, settings: Settings, user: User, reason: str) -> tuple[int, set]:
    own = (await session.scalars(select(Message).where(Message.user_id == user.id).order_by(Message.depth))).all()
    touched = set()
    for msg in own:
        touched.add(msg.tree_id)
        # Replies below a removed message lose their context: they go with it, as a deletion does.
        await removal.delete_subtree(session, settings, msg, f"author's data purged ({reason})")
    ids = [m.id for m in own]
    for msg in own:
        msg.text, msg.user_id, msg.detoxify, msg.extra = "", None, None, None
    if ids:
        await session.execute(delete(MessageRevision).where(MessageRevision.message_id.in_(ids)))
    return len(own), touched


async def purge(session: AsyncSession, settings: Settings, user: User, reason: str) -> dict[str, int]:
    """Remove a user's contributions and accounts; returns how many of each kind were removed."""
    counts = {"reactions": await _reactions(session, user), "labels": await _labels(session, user)}
    counts["ballots"], ballot_trees = await _ballots(session, user)
    counts["messages"], message_trees = await _messages(session, settings, user, reason)
    for tree_id in sorted(ballot_trees - message_trees, key=str):
        await removal.after_change(session, settings, await trees.lock_tree(session, tree_id))
    await session.execute(update(Tree).where(Tree.author_id == user.id).values(author_id=None))
    await session.execute(update(Report).where(Report.user_id == user.id).values(user_id=None))
    await session.execute(update(MessageRevision).where(MessageRevision.edited_by == user.id).values(edited_by=None))
    counts["tasks"] = (await session.execute(delete(Task).where(Task.user_id == user.id))).rowcount or 0
    counts["identities"] = (await session.execute(delete(Identity).where(Identity.user_id == user.id))).rowcount or 0
    await session.execute(delete(UserActivity).where(UserActivity.user_id == user.id))
    # The row stays so the audit log keeps pointing somewhere; nothing in it identifies the person.
    user.display_name, user.enabled, user.banned_reason = PURGED_NAME, False, None
    user.last_active_at = user.streak_start_at = None
    return counts
