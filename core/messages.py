"""The message API: reading a thread, reactions with their auto-moderation, reports, and review."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select

from core import activity, audit, removal, trees
from core.errors import AlreadyAnswered, InvalidInput, NotFound
from core.ids import as_uuid
from core.models import AuditLog, EmojiCount, Message, Reaction, Report, Role, User, utcnow
from core.sql import ROW_LOCK, add_counts, insert_ignore
from core.views import MessageView

EMOJIS = ("+1", "-1", "red_flag", "100", "rofl", "clap", "diamond", "heart_eyes", "disappointed", "poop", "skull")


class MessagesAPI:
    """Mixin of the service: what people do to messages other than answering tasks."""

    async def conversation(self, message_id: uuid.UUID | str) -> list[MessageView]:
        """The thread from the root down to a message."""
        async with self.db.read() as s:
            return [MessageView.of(m) for m in await self._thread(s, as_uuid(message_id, "message id"))]

    async def react(self, user_id: uuid.UUID, message_id: uuid.UUID | str, emoji: str, *, remove: bool = False) -> dict[str, int]:
        """Add (or remove) an emoji on a message; returns the message's emoji counts."""
        if emoji not in EMOJIS:
            raise InvalidInput(f"'{emoji}' is not one of the reactions: {', '.join(EMOJIS)}.")
        async with self.db.tx() as s:
            user = await self._user(s, user_id)
            msg = await s.get(Message, as_uuid(message_id, "message id"))
            if msg is None or msg.deleted:
                raise NotFound("That message does not exist.")
            if msg.user_id == user.id:
                raise InvalidInput("You cannot react to your own message.")
            if remove:
                await self._unreact(s, user, msg, emoji)
            else:
                opposite = {"+1": "-1", "-1": "+1"}.get(emoji)
                if opposite:  # +1 and -1 exclude each other
                    await self._unreact(s, user, msg, opposite)
                if await insert_ignore(
                    s, Reaction.__table__, {"message_id": msg.id, "user_id": user.id, "emoji": emoji, "created_at": utcnow()},
                    ["message_id", "user_id", "emoji"],
                ):  # fmt: skip
                    await add_counts(s, EmojiCount.__table__, {"message_id": msg.id, "emoji": emoji}, {"count": 1})
                    await self._after_reaction(s, msg, emoji, +1)
            rows = await s.execute(select(EmojiCount.emoji, EmojiCount.count).where(EmojiCount.message_id == msg.id))
            return {e: c for e, c in rows if c > 0 and not e.startswith("_")}

    async def _unreact(self, s, user: User, msg: Message, emoji: str) -> None:
        res = await s.execute(
            delete(Reaction).where(Reaction.message_id == msg.id, Reaction.user_id == user.id, Reaction.emoji == emoji)
        )
        if res.rowcount:
            await add_counts(s, EmojiCount.__table__, {"message_id": msg.id, "emoji": emoji}, {"count": -1})
            await self._after_reaction(s, msg, emoji, -1)

    async def _after_reaction(self, s, msg: Message, emoji: str, delta: int) -> None:
        counter = {"+1": "upvotes_received", "-1": "downvotes_received", "red_flag": "red_flags_received"}.get(emoji)
        if counter:
            await activity.count(s, msg.user_id, **{counter: delta})
        if emoji == "red_flag" and delta > 0:
            flags = await s.scalar(
                select(EmojiCount.count).where(EmojiCount.message_id == msg.id, EmojiCount.emoji == "red_flag")
            )
            if flags >= self.settings.tree.auto_mod_red_flags:
                await self._auto_remove(s, msg, f"{flags} red flags")

    async def _auto_remove(self, s, msg: Message, reason: str) -> None:
        """Auto-moderation: hide a message the community flagged, with its replies; a flagged prompt aborts its tree."""
        removed = await removal.delete_subtree(s, self.settings, msg, reason)
        # Recorded as a deletion (with no actor) so a moderator's undelete restores exactly this.
        audit.record(s, None, "delete", "message", msg.id, reason=reason, ids=[str(i) for i in removed], auto=True)
        if msg.depth == 0:
            tree = await trees.lock_tree(s, msg.tree_id)
            trees.set_state(tree, trees.TreeState.aborted_low_grade)

    async def report(self, user_id: uuid.UUID, message_id: uuid.UUID | str, reason: str) -> None:
        """Report a message to the moderators, with a reason."""
        reason = (reason or "").strip()
        if not reason:
            raise InvalidInput("Please say why you are reporting this message.")
        if len(reason) > 1000:
            raise InvalidInput("Please keep the reason under 1000 characters.")
        async with self.db.tx() as s:
            user = await self._user(s, user_id)
            msg = await s.get(Message, as_uuid(message_id, "message id"))
            if msg is None:
                raise NotFound("That message does not exist.")
            if not await insert_ignore(
                s, Report.__table__, {"message_id": msg.id, "user_id": user.id, "reason": reason, "created_at": utcnow()},
                ["message_id", "user_id"],
            ):  # fmt: skip
                raise AlreadyAnswered("You have already reported this message; the moderators will look at it.")

    async def review(self, actor_id: uuid.UUID, message_id: uuid.UUID | str, accept: bool, *, reason: str | None = None) -> MessageView:
        """A moderator's decision on a message: it settles its review at once and is recorded."""
        async with self.db.tx() as s:
            await self._require(s, actor_id, Role.moderator)
            msg = await s.get(Message, as_uuid(message_id, "message id"), with_for_update=ROW_LOCK)
            if msg is None:
                raise NotFound("That message does not exist.")
            if msg.review_result is None:
                await trees.decide_review(s, self.settings, msg, accept, actor_id=actor_id, reason=reason)
            elif msg.review_result != accept:
                msg.review_result = accept
                s.add(AuditLog(actor_id=actor_id, action="approve" if accept else "reject", target_type="message",
                               target_id=str(msg.id), reason=reason, details={"overrides_review": True}))  # fmt: skip
                tree = await trees.lock_tree(s, msg.tree_id)
                if msg.depth == 0 and not accept:
                    trees.set_state(tree, trees.TreeState.aborted_low_grade)
                    await trees.release_reservations(s, tree.id)
                else:
                    await s.flush()
                    await trees.advance(s, self.settings, tree)
            return MessageView.of(msg)
