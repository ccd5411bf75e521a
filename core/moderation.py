"""Moderation: the review and report queue, deletion, halting, bans, edits, and the audit log.

Every action checks the actor's role here in the core (a front end cannot forget to), runs in one
transaction, and writes its audit entry in that same transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import false, func, select, update

from core import audit, purge, removal, submit, trees
from core.audit import AuditEntry
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.ids import as_uuid
from core.models import (
    EmojiCount,
    Identity,
    Message,
    MessageRevision,
    Report,
    Role,
    Task,
    TaskState,
    Tree,
    TreeState,
    User,
    utcnow,
)
from core.sql import ROW_LOCK
from core.views import MessageView, UserView

QUEUE_KINDS = ("review", "report")
WAITING_PROMPT_STATES = (TreeState.initial_prompt_review.value, TreeState.prompt_lottery_waiting.value)


@dataclass(frozen=True)
class QueueItem:
    """Something waiting for a moderator: a new prompt to review, or a reported message."""

    kind: str  # "review" or "report"
    message: MessageView
    reasons: list[str]
    created_at: dt.datetime


def _reason(reason: str | None, *, required: bool) -> str | None:
    reason = (reason or "").strip() or None
    if required and reason is None:
        raise InvalidInput("Please give a reason: it goes into the audit log.")
    if reason is not None and len(reason) > 1000:
        raise InvalidInput("Please keep the reason under 1000 characters.")
    return reason


class ModerationAPI:
    """Mixin of the service: what moderators and maintainers do."""

    # --- the queue -----------------------------------------------------------------------------

    async def moderation_queue(
        self, actor_id: uuid.UUID, *, kind: str | None = None, lang: str | None = None, limit: int = 20
    ) -> list[QueueItem]:
        """Prompts awaiting review and messages with open reports, oldest first."""
        if kind is not None and kind not in QUEUE_KINDS:
            raise InvalidInput(f"'{kind}' is not a queue: use review or report.")
        if not 1 <= limit <= 200:
            raise InvalidInput("The queue shows between 1 and 200 items.")
        async with self.db.read() as s:
            await self._require(s, actor_id, Role.moderator)
            items: list[QueueItem] = []
            if kind in (None, "review"):
                items += await self._review_items(s, lang, limit)
            if kind in (None, "report"):
                items += await self._report_items(s, lang, limit)
        items.sort(key=lambda i: i.created_at)
        return items[:limit]

    async def _review_items(self, s, lang: str | None, limit: int) -> list[QueueItem]:
        q = (
            select(Message)
            .join(Tree, Tree.id == Message.tree_id)
            .where(
                Tree.state == TreeState.initial_prompt_review, Message.parent_id.is_(None),
                Message.review_result.is_(None), Message.deleted == false(),
            )  # fmt: skip
            .order_by(Message.created_at)
            .limit(limit)
        )
        if lang:
            q = q.where(Message.lang == lang)
        out = []
        for m in await s.scalars(q):
            reasons = [f"new prompt, {m.review_count} peer review(s) so far"]
            out.append(QueueItem("review", MessageView.of(m), reasons, m.created_at))
        return out

    async def _report_items(self, s, lang: str | None, limit: int) -> list[QueueItem]:
        open_ = Report.resolved_at.is_(None)
        first = (
            select(Report.message_id, func.min(Report.created_at).label("first"))
            .where(open_)
            .group_by(Report.message_id)
            .order_by(func.min(Report.created_at))
            .limit(limit)
        )
        if lang:
            first = first.join(Message, Message.id == Report.message_id).where(Message.lang == lang)
        firsts = dict((await s.execute(first)).all())
        if not firsts:
            return []
        msgs = {m.id: m for m in await s.scalars(select(Message).where(Message.id.in_(firsts)))}
        reasons: dict[uuid.UUID, list[str]] = {}
        for mid, reason in await s.execute(
            select(Report.message_id, Report.reason).where(open_, Report.message_id.in_(firsts)).order_by(Report.created_at)
        ):
            reasons.setdefault(mid, []).append(reason)
        flags = dict(
            (
                await s.execute(
                    select(EmojiCount.message_id, EmojiCount.count).where(
                        EmojiCount.message_id.in_(firsts), EmojiCount.emoji == "red_flag", EmojiCount.count > 0
                    )
                )
            ).all()
        )
        out = []
        for mid, created in firsts.items():
            extra = [f"{flags[mid]} red flag(s)"] if mid in flags else []
            out.append(QueueItem("report", MessageView.of(msgs[mid]), reasons.get(mid, []) + extra, created))
        return out

    async def resolve_reports(
        self, actor_id: uuid.UUID, message_id: uuid.UUID | str, *, action: str = "dismiss", reason: str | None = None
    ) -> int:
        """Close a message's open reports, dismissing them or deleting the message; returns how many were closed."""
        if action not in ("dismiss", "delete"):
            raise InvalidInput(f"'{action}' is not a decision on reports: use dismiss or delete.")
        reason = _reason(reason, required=False)
        async with self.db.tx() as s:
            actor = await self._require(s, actor_id, Role.moderator)
            msg = await self._message(s, message_id)
            res = await s.execute(
                update(Report)
                .where(Report.message_id == msg.id, Report.resolved_at.is_(None))
                .values(resolved_at=utcnow(), resolved_by=actor.id, resolution=action)
            )
            closed = res.rowcount or 0
            if closed == 0:
                raise InvalidInput("That message has no open reports.")
            removed: list[uuid.UUID] = []
            if action == "delete" and not msg.deleted:
                removed = await removal.delete_subtree(s, self.settings, msg, reason)
                audit.record(s, actor.id, "delete", "message", msg.id, reason=reason, ids=[str(i) for i in removed])
            audit.record(s, actor.id, "resolve_reports", "message", msg.id, reason=reason, decision=action, reports=closed)
            return closed

    # --- messages ------------------------------------------------------------------------------

    async def _message(self, s, message_id, *, lock: bool = False) -> Message:
        msg = await s.get(Message, as_uuid(message_id, "message id"), with_for_update=ROW_LOCK if lock else None)
        if msg is None:
            raise NotFound("That message does not exist.")
        return msg

    async def delete_message(self, actor_id: uuid.UUID, message_id: uuid.UUID | str, *, reason: str | None = None) -> int:
        """Delete a message with every reply below it (soft: undelete restores); returns how many were deleted."""
        reason = _reason(reason, required=False)
        async with self.db.tx() as s:
            actor = await self._require(s, actor_id, Role.moderator)
            msg = await self._message(s, message_id)
            if msg.deleted:
                raise InvalidInput("That message is already deleted.")
            removed = await removal.delete_subtree(s, self.settings, msg, reason)
            audit.record(s, actor.id, "delete", "message", msg.id, reason=reason, ids=[str(i) for i in removed])
            return len(removed)

    async def undelete_message(self, actor_id: uuid.UUID, message_id: uuid.UUID | str, *, reason: str | None = None) -> int:
        """Restore a deleted message and what its deletion removed with it; returns how many were restored."""
        reason = _reason(reason, required=False)
        async with self.db.tx() as s:
            actor = await self._require(s, actor_id, Role.moderator)
            msg = await self._message(s, message_id)
            if not msg.deleted:
                raise InvalidInput("That message is not deleted.")
            if msg.parent_id is not None:
                parent = await s.get(Message, msg.parent_id)
                if parent is not None and parent.deleted:
                    raise InvalidInput("Its parent message is deleted: undelete the parent first.")
            # Restore exactly what the last deletion of this message removed, not replies deleted on their own.
            details = await audit.last_details(s, "delete", msg.id) or {}
            ids = [uuid.UUID(i) for i in details.get("ids", [])]
            restored = await removal.restore_subtree(s, self.settings, msg, ids)
            audit.record(s, actor.id, "undelete", "message", msg.id, reason=reason, ids=[str(i) for i in restored])
            return len(restored)

    async def edit_message(self, actor_id: uuid.UUID, message_id: uuid.UUID | str, text: str) -> MessageView:
        """Change a message's text: its author within the grace window, a moderator at any time; revisions kept."""
        async with self.db.tx() as s:
            actor = await self._user(s, actor_id)
            msg = await self._message(s, message_id, lock=True)
            is_mod = Role(actor.role).level >= Role.moderator.level
            if not is_mod:
                if msg.user_id != actor.id:
                    raise PermissionDenied("You can only edit your own messages.")
                grace = self.settings.task.edit_grace_minutes
                if utcnow() - msg.created_at > dt.timedelta(minutes=grace):
                    raise PermissionDenied(f"Messages can be edited for {grace} minutes after sending; that time has passed.")
            if msg.deleted:
                raise InvalidInput("That message is deleted; undelete it before editing.")
            clean = submit.check_text(self.settings, text)
            if clean == msg.text:
                raise InvalidInput("The new text is the same as the current one.")
            s.add(MessageRevision(message_id=msg.id, text=msg.text, edited_by=actor.id, edited_at=utcnow()))
            msg.text, msg.edited = clean, True
            audit.record(s, actor.id, "edit", "message", msg.id, own=msg.user_id == actor.id)
            return MessageView.of(msg)

    async def message_revisions(self, actor_id: uuid.UUID, message_id: uuid.UUID | str) -> list[tuple[dt.datetime, str]]:
        """Earlier texts of a message, oldest first (moderators, or the author)."""
        async with self.db.read() as s:
            actor = await self._user(s, actor_id)
            msg = await self._message(s, message_id)
            if msg.user_id != actor.id and Role(actor.role).level < Role.moderator.level:
                raise PermissionDenied("Only moderators may see the history of someone else's message.")
            rows = await s.execute(
                select(MessageRevision.edited_at, MessageRevision.text)
                .where(MessageRevision.message_id == msg.id)
                .order_by(MessageRevision.id)
            )
            return [(at, text) for at, text in rows]

    # --- trees ---------------------------------------------------------------------------------

    async def _tree(self, s, tree_or_message_id) -> Tree:
        key = as_uuid(tree_or_message_id, "tree or message id")
        tree_id = key if await s.get(Tree, key) is not None else None
        if tree_id is None:
            msg = await s.get(Message, key)
            if msg is None:
                raise NotFound("No tree or message has that id.")
            tree_id = msg.tree_id
        return await trees.lock_tree(s, tree_id)

    async def halt_tree(self, actor_id: uuid.UUID, tree_or_message_id: uuid.UUID | str, *, reason: str) -> str:
        """Stop a tree (no more tasks from it) until a moderator resumes it; returns its new state."""
        reason = _reason(reason, required=True)
        async with self.db.tx() as s:
            actor = await self._require(s, actor_id, Role.moderator)
            tree = await self._tree(s, tree_or_message_id)
            if tree.state == TreeState.halted_by_moderator:
                raise InvalidInput("That tree is already halted.")
            before = tree.state
            await removal.halt_and_release(s, tree, reason)
            audit.record(s, actor.id, "halt", "tree", tree.id, reason=reason, before=before)
            return tree.state

    async def resume_tree(self, actor_id: uuid.UUID, tree_or_message_id: uuid.UUID | str, *, reason: str | None = None) -> str:
        """Let a halted tree carry on from the state it was halted in; returns its new state."""
        reason = _reason(reason, required=False)
        async with self.db.tx() as s:
            actor = await self._require(s, actor_id, Role.moderator)
            tree = await self._tree(s, tree_or_message_id)
            if tree.state != TreeState.halted_by_moderator:
                raise InvalidInput(f"That tree is not halted (it is {tree.state}).")
            await removal.resume(s, self.settings, tree)
            audit.record(s, actor.id, "resume", "tree", tree.id, reason=reason, to=tree.state)
            return tree.state

    # --- users ---------------------------------------------------------------------------------

    async def _target(self, s, actor: User, user_id) -> User:
        user = await self._user(s, user_id, allow_banned=True)
        if user.id == actor.id:
            raise InvalidInput("You cannot do that to yourself.")
        if Role(user.role).level >= Role(actor.role).level:
            raise PermissionDenied(f"You cannot act on a {user.role}: ask a maintainer.")
        return user

    async def ban_user(self, actor_id: uuid.UUID, user_id: uuid.UUID | str, *, reason: str) -> UserView:
        """Ban a user: their open tasks are cancelled and their waiting prompts halted."""
        reason = _reason(reason, required=True)
        async with self.db.tx() as s:
            actor = await self._require(s, actor_id, Role.moderator)
            user = await self._target(s, actor, user_id)
            if user.banned:
                raise InvalidInput(f"{user.display_name} is already banned.")
            user.banned, user.banned_reason = True, reason
            cancelled = await s.execute(
                update(Task)
                .where(Task.user_id == user.id, Task.state == TaskState.pending)
                .values(state=TaskState.cancelled, reserved_until=None)
            )
            waiting = (
                await s.scalars(
                    select(Tree)
                    .where(Tree.author_id == user.id, Tree.state.in_(WAITING_PROMPT_STATES))
                    .with_for_update(**ROW_LOCK)
                )
            ).all()
            for tree in waiting:
                await removal.halt_and_release(s, tree, f"{removal.AUTHOR_BANNED}: {reason}")
            audit.record(s, actor.id, "ban", "user", user.id, reason=reason,
                         tasks_cancelled=cancelled.rowcount or 0, trees_halted=[str(t.id) for t in waiting])  # fmt: skip
            return UserView.of(user)

    async def unban_user(self, actor_id: uuid.UUID, user_id: uuid.UUID | str, *, reason: str | None = None) -> UserView:
        """Lift a ban; the prompts the ban halted go back in line."""
        reason = _reason(reason, required=False)
        async with self.db.tx() as s:
            actor = await self._require(s, actor_id, Role.moderator)
            user = await self._target(s, actor, user_id)
            if not user.banned:
                raise InvalidInput(f"{user.display_name} is not banned.")
            user.banned, user.banned_reason = False, None
            halted = (
                await s.scalars(
                    select(Tree)
                    .where(Tree.author_id == user.id, Tree.state == TreeState.halted_by_moderator)
                    .with_for_update(**ROW_LOCK)
                )
            ).all()
            resumed = [t for t in halted if (t.halted_reason or "").startswith(removal.AUTHOR_BANNED)]
            for tree in resumed:
                await removal.resume(s, self.settings, tree)
            audit.record(s, actor.id, "unban", "user", user.id, reason=reason, trees_resumed=[str(t.id) for t in resumed])
            return UserView.of(user)

    async def purge_user(self, actor_id: uuid.UUID, user_id: uuid.UUID | str, *, reason: str) -> dict:
        """Remove a user's data on request (maintainers only); returns what was removed, by kind."""
        reason = _reason(reason, required=True)
        async with self.db.tx() as s:
            actor = await self._require(s, actor_id, Role.maintainer)
            user = await self._target(s, actor, user_id)
            if not user.enabled and user.display_name == purge.PURGED_NAME:
                raise InvalidInput("That user's data was already purged.")
            counts = await purge.purge(s, self.settings, user, reason)
            audit.record(s, actor.id, "purge", "user", user.id, reason=reason, **counts)
            return counts

    async def find_user(self, platform: str, external_id: str | int) -> UserView | None:
        """The user behind a platform account, or None if Chorus has never seen it."""
        async with self.db.read() as s:
            user = await s.scalar(
                select(User).join(Identity).where(Identity.platform == platform, Identity.external_id == str(external_id))
            )
            return UserView.of(user) if user else None

    async def audit_log(self, actor_id: uuid.UUID, *, limit: int = 50, target_id: uuid.UUID | str | None = None) -> list[AuditEntry]:
        """The newest audit entries (moderators only), optionally about one message, tree or user."""
        if not 1 <= limit <= 1000:
            raise InvalidInput("The audit log shows between 1 and 1000 entries.")
        async with self.db.read() as s:
            await self._require(s, actor_id, Role.moderator)
            return await audit.entries(s, limit=limit, target_id=None if target_id is None else str(target_id))
