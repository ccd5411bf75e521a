"""What bots need to keep nothing in memory: per-community settings, posted-message mapping,
redelivery de-duplication, and roles that come from the platform."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select

from core.errors import InvalidInput
from core.models import (
    AuditLog,
    CommunitySettings,
    PostedItem,
    ProcessedEvent,
    Role,
    User,
    utcnow,
)
from core.sql import ROW_LOCK, insert_ignore

# Event ids are remembered longer than any redelivery (Telegram keeps an update for 24 hours) and
# any posting slot (at most a week), then forgotten, so the table does not grow for ever.
EVENT_MEMORY_DAYS = 8
PRUNE_EVENTS_EVERY_SECONDS = 3600

# Settings a community may set, with their defaults; values are strings, lists of strings or ints.
COMMUNITY_DEFAULTS: dict[str, object] = {
    "lang": None,  # default language of tasks posted there (None: the user's own)
    "task_channel": None,  # where open tasks are posted on a schedule
    "moderation_channel": None,  # where prompts awaiting review and reports are posted
    "moderator_roles": [],  # platform role ids whose members are Chorus moderators
    "maintainer_roles": [],  # platform role ids whose members are Chorus maintainers
    "moderators": [],  # platform user ids who are moderators there (Telegram has no roles)
    "approve_emoji": None,  # reaction that approves (bot's default when None)
    "reject_emoji": None,  # reaction that rejects
    "post_interval_minutes": 60,  # how often open tasks are posted in the task channel
}


@dataclass(frozen=True)
class Post:
    """A chat message a bot posted about a Chorus object."""

    platform: str
    chat_id: str
    chat_message_id: str
    kind: str
    object_id: str


class CommunityAPI:
    """Mixin of the service: storage for the bots' cross-restart state."""

    async def community_settings(self, platform: str, scope_id: str | int) -> dict:
        """The settings of a server or group, with defaults for what was never set."""
        async with self.db.read() as s:
            row = await s.get(CommunitySettings, (platform, str(scope_id)))
            return {**COMMUNITY_DEFAULTS, **(row.data if row else {})}

    async def all_community_settings(self, platform: str) -> dict[str, dict]:
        """Every configured community of a platform: scope id to settings."""
        async with self.db.read() as s:
            rows = await s.scalars(select(CommunitySettings).where(CommunitySettings.platform == platform))
            return {r.scope_id: {**COMMUNITY_DEFAULTS, **r.data} for r in rows}

    async def update_community_settings(
        self, actor_id: uuid.UUID | None, platform: str, scope_id: str | int, **changes
    ) -> dict:
        """Change a community's settings; only maintainers may (actor None: the platform's own admin, checked by the bot)."""
        unknown = sorted(set(changes) - set(COMMUNITY_DEFAULTS))
        if unknown:
            raise InvalidInput(f"'{unknown[0]}' is not a community setting ({', '.join(COMMUNITY_DEFAULTS)}).")
        async with self.db.tx() as s:
            if actor_id is not None:
                await self._require(s, actor_id, Role.maintainer)
            row = await s.get(CommunitySettings, (platform, str(scope_id)), with_for_update=ROW_LOCK)
            if row is None:
                row = CommunitySettings(platform=platform, scope_id=str(scope_id), data={})
                s.add(row)
            row.data = {**(row.data or {}), **changes}
            row.updated_at = utcnow()
            s.add(AuditLog(actor_id=actor_id, action="community_settings", target_type="community",
                           target_id=f"{platform}:{scope_id}", details=changes))  # fmt: skip
            return {**COMMUNITY_DEFAULTS, **row.data}

    async def record_post(self, platform: str, chat_id: str | int, chat_message_id: str | int, kind: str, object_id) -> None:
        """Remember that a chat message shows a Chorus object (so a reaction on it can be mapped back)."""
        async with self.db.tx() as s:
            await insert_ignore(
                s, PostedItem.__table__,
                {"platform": platform, "chat_id": str(chat_id), "chat_message_id": str(chat_message_id),
                 "kind": kind, "object_id": str(object_id), "created_at": utcnow()},
                ["platform", "chat_id", "chat_message_id"],
            )  # fmt: skip

    async def find_post(self, platform: str, chat_id: str | int, chat_message_id: str | int) -> Post | None:
        """What a chat message posted by a bot shows, if anything."""
        async with self.db.read() as s:
            row = await s.get(PostedItem, (platform, str(chat_id), str(chat_message_id)))
            return Post(row.platform, row.chat_id, row.chat_message_id, row.kind, row.object_id) if row else None

    async def posts_of(self, kind: str, object_id) -> list[Post]:
        """Every chat message that shows one Chorus object (to edit them when it is decided)."""
        async with self.db.read() as s:
            rows = await s.scalars(select(PostedItem).where(PostedItem.kind == kind, PostedItem.object_id == str(object_id)))
            return [Post(r.platform, r.chat_id, r.chat_message_id, r.kind, r.object_id) for r in rows]

    async def first_delivery(self, platform: str, event_id: str | int) -> bool:
        """True the first time an event id is seen; False for a redelivery (drop it)."""
        async with self.db.tx() as s:
            fresh = await insert_ignore(
                s, ProcessedEvent.__table__,
                {"platform": platform, "event_id": str(event_id), "created_at": utcnow()}, ["platform", "event_id"],
            )  # fmt: skip
            if time.monotonic() - self._events_pruned_at >= PRUNE_EVENTS_EVERY_SECONDS:
                self._events_pruned_at = time.monotonic()
                old = utcnow() - dt.timedelta(days=EVENT_MEMORY_DAYS)
                await s.execute(delete(ProcessedEvent).where(ProcessedEvent.created_at < old))
            return fresh

    async def sync_platform_role(self, user_id: uuid.UUID, role: Role | str, *, source: str) -> None:
        """Set a user's role to what their platform roles say (member or moderator).

        The bot vouches for the platform: it read the member's server roles itself. Maintainer is
        never granted or taken away this way unless the community maps a platform role to it.
        """
        role = Role(role)
        async with self.db.tx() as s:
            user = await s.get(User, user_id, with_for_update=ROW_LOCK)
            if user is None or user.role == role.value:
                return
            if user.role == Role.maintainer and role != Role.maintainer:
                return  # maintainers are named by maintainers, not by a platform role
            s.add(AuditLog(action="platform_role", target_type="user", target_id=str(user_id),
                           details={"from": user.role, "to": role.value, "source": source}))  # fmt: skip
            user.role = role.value
