"""The service API every front end calls: one async method per thing a person does.

Each method is one transaction. Methods take ids and plain values and return views, so a front end
never holds a database session or an ORM object across an await.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core import activity, submit, trees
from core.community import CommunityAPI
from core.config import Settings, load_settings
from core.db import Database, upgrade
from core.errors import (
    AlreadyAnswered,
    InvalidInput,
    NoTaskAvailable,
    NotFound,
    NotYourTask,
    PermissionDenied,
    SlotTaken,
    TaskNotFound,
    UserBanned,
)
from core.ids import as_uuid
from core.messages import EMOJIS, MessagesAPI
from core.models import (
    AuditLog,
    Identity,
    Message,
    Role,
    Task,
    TaskState,
    TaskType,
    User,
    utcnow,
)
from core.moderation import ModerationAPI
from core.points import PointsAPI
from core.sql import insert_ignore
from core.tasks import TaskPicker, pending_tasks
from core.views import SubmitResult, TaskView, UserView

# Between housekeeping passes a request skips them (it still runs them before reporting no task).
HOUSEKEEPING_SECONDS = 30.0
PLATFORMS = ("console", "discord", "telegram", "oasst", "sim")


class Chorus(MessagesAPI, CommunityAPI, ModerationAPI, PointsAPI):
    """The Chorus core, bound to one database and one set of settings; each mixin is one area of the API."""

    def __init__(self, db: Database, settings: Settings, *, seed: int | None = None):
        self.db = db
        self.settings = settings
        self.rng = random.Random(seed)
        db.rng = self.rng  # draws inside transactions (the lottery) follow the same seed
        self._housekeeping_at: dict[str, float] = {}
        self._events_pruned_at = float("-inf")

    @classmethod
    async def open(cls, settings: Settings | None = None, *, migrate: bool = True, seed: int | None = None) -> Chorus:
        """Connect to the configured database, upgrading its schema first unless told not to."""
        settings = settings or load_settings()
        if migrate:
            await upgrade(settings.database_url)
        return cls(Database(settings.database_url), settings, seed=seed)

    @classmethod
    def open_on(cls, settings: Settings, *, seed: int | None = None) -> Chorus:
        """A core on an already migrated database."""
        return cls(Database(settings.database_url), settings, seed=seed)

    async def close(self) -> None:
        """Release the database connections."""
        await self.db.dispose()

    # --- users -------------------------------------------------------------------------------

    async def user_from_identity(
        self, platform: str, external_id: str | int, *, display_name: str, username: str | None = None, lang: str | None = None
    ) -> UserView:
        """The user behind a platform account, created on first sight."""
        if platform not in PLATFORMS:
            raise InvalidInput(f"Unknown platform '{platform}'.")
        external_id = str(external_id)
        # Nearly every call finds the user: read first, so the common case takes no write lock.
        async with self.db.read() as s:
            user = await s.scalar(
                select(User).join(Identity).where(Identity.platform == platform, Identity.external_id == external_id)
            )
            if user is not None:
                return UserView.of(user)
        async with self.db.tx() as s:
            row = await s.execute(
                select(User).join(Identity).where(Identity.platform == platform, Identity.external_id == external_id)
            )
            user = row.scalar_one_or_none()
            if user is None:
                role = Role.maintainer if (platform, external_id) in self.settings.maintainer_identities else Role.member
                user = User(
                    id=uuid.uuid4(), display_name=display_name[:100] or "someone", role=role,
                    lang=lang or self.settings.default_lang,
                )  # fmt: skip
                s.add(user)
                await s.flush()
                inserted = await insert_ignore(
                    s, Identity.__table__,
                    {"user_id": user.id, "platform": platform, "external_id": external_id, "username": username},
                    ["platform", "external_id"],
                )  # fmt: skip
                if not inserted:  # another process created it a moment ago: use theirs
                    await s.delete(user)
                    user = (
                        await s.execute(
                            select(User).join(Identity).where(Identity.platform == platform, Identity.external_id == external_id)
                        )
                    ).scalar_one()
            return UserView.of(user)

    async def get_user(self, user_id: uuid.UUID) -> UserView:
        """A user by id."""
        async with self.db.read() as s:
            return UserView.of(await self._user(s, user_id, allow_banned=True))

    async def link_identity(self, user_id: uuid.UUID, platform: str, external_id: str | int) -> None:
        """Attach another platform account to a user (one person, several platforms)."""
        async with self.db.tx() as s:
            await self._user(s, user_id)
            if not await insert_ignore(
                s, Identity.__table__, {"user_id": user_id, "platform": platform, "external_id": str(external_id)},
                ["platform", "external_id"],
            ):  # fmt: skip
                raise InvalidInput("That account is already linked to a Chorus user.")

    async def set_language(self, user_id: uuid.UUID, lang: str) -> UserView:
        """Set the language a user's tasks come in (a BCP-47 tag such as en or pt-BR)."""
        lang = (lang or "").strip()
        if not lang or len(lang) > 32 or not all(p.isalnum() for p in lang.split("-")):
            raise InvalidInput(f"'{lang}' is not a language tag. Use a code such as en, de or pt-BR.")
        async with self.db.tx() as s:
            user = await self._user(s, user_id, allow_banned=True)
            user.lang = lang
            return UserView.of(user)

    async def set_role(self, actor_id: uuid.UUID, user_id: uuid.UUID, role: Role | str, *, reason: str | None = None) -> UserView:
        """Give a user a role; only maintainers may."""
        role = Role(role)
        async with self.db.tx() as s:
            await self._require(s, actor_id, Role.maintainer)
            user = await self._user(s, user_id, allow_banned=True)
            s.add(AuditLog(actor_id=actor_id, action="set_role", target_type="user", target_id=str(user_id),
                           reason=reason, details={"from": user.role, "to": role.value}))  # fmt: skip
            user.role = role.value
            return UserView.of(user)

    async def _user(self, s, user_id: uuid.UUID, *, allow_banned: bool = False) -> User:
        user = await s.get(User, as_uuid(user_id, "user id"))
        if user is None:
            raise NotFound("That user does not exist.")
        if user.banned and not allow_banned:
            raise UserBanned()
        return user

    async def _require(self, s, actor_id: uuid.UUID, role: Role) -> User:
        actor = await self._user(s, actor_id)
        if Role(actor.role).level < role.level:
            raise PermissionDenied(f"Only {role.value}s may do that.")
        return actor

    # --- tasks -------------------------------------------------------------------------------

    async def request_task(
        self, user_id: uuid.UUID, *, type: TaskType | str | None = None, lang: str | None = None, resume: bool = True
    ) -> TaskView:
        """The user's next task: their open one of that kind if any (so nothing is lost), else a new one."""
        type_ = TaskType(type) if type else None
        if type_ == TaskType.rank_prompter_replies and not self.settings.tree.rank_prompter_replies:
            raise InvalidInput("Ranking user replies is turned off in this community.")
        async with self.db.tx() as s:
            user = await self._user(s, user_id)
            lang = lang or user.lang
            pending = await pending_tasks(s, user.id, utcnow())
            if resume:
                for task in pending:
                    if task.lang == lang and (type_ is None or task.type == type_) and await self._still_valid(s, task):
                        return await self._view(s, task)
            try:
                picker = TaskPicker(s, self.settings, self.rng, user, lang)
                task = await picker.pick(type_, pending, housekeeping=self._housekeeping_due(lang))
            except NoTaskAvailable as exc:
                nothing = exc  # still commit the housekeeping (lottery, stale trees) done on the way
            else:
                await s.flush()
                return await self._view(s, task)
        raise nothing

    def _housekeeping_due(self, lang: str) -> bool:
        """Whether this process should run the lottery and the stale-tree sweep for a language now."""
        now = time.monotonic()
        if now - self._housekeeping_at.get(lang, -HOUSEKEEPING_SECONDS) < HOUSEKEEPING_SECONDS:
            return False
        self._housekeeping_at[lang] = now
        return True

    async def _still_valid(self, s, task: Task) -> bool:
        """Whether an open task can still be answered; a reply task whose slot lapsed re-reserves it."""
        if TaskType(task.type).kind != "write" or task.message_id is None:
            return True
        if task.reserved_until and task.reserved_until > utcnow():
            return True
        now = utcnow()
        tree = await trees.lock_tree(s, task.tree_id)
        parent = await s.get(Message, task.message_id, populate_existing=True)
        if await trees.slot_free(s, self.settings, tree, parent, now, exclude=task.id):
            task.reserved_until = now + dt.timedelta(seconds=self.settings.tree.reply_lock_seconds)
            return True
        task.state = TaskState.cancelled
        return False

    async def get_task(self, user_id: uuid.UUID, task_id: uuid.UUID | str) -> TaskView:
        """One of the user's tasks as it stands now (to show it again after a restart)."""
        async with self.db.read() as s:
            task = await s.get(Task, as_uuid(task_id, "task id"))
            if task is None:
                raise TaskNotFound()
            if task.user_id != as_uuid(user_id):
                raise NotYourTask()
            return await self._view(s, task)

    async def current_tasks(self, user_id: uuid.UUID) -> list[TaskView]:
        """The user's open tasks, newest first."""
        async with self.db.read() as s:
            return [await self._view(s, t) for t in await pending_tasks(s, as_uuid(user_id), utcnow())]

    async def _view(self, s, task: Task) -> TaskView:
        conversation: list[Message] = []
        candidates: list[Message] = []
        if task.message_id is not None:
            # One query: the thread and the candidates all live in the task's tree.
            by_id = {m.id: m for m in await s.scalars(select(Message).where(Message.tree_id == task.tree_id))}
            conversation = self._chain(by_id, task.message_id)
            candidates = [by_id[c] for c in map(uuid.UUID, task.payload.get("candidates") or []) if c in by_id]
        return TaskView.of(task, conversation, candidates)

    @staticmethod
    def _chain(by_id: dict, message_id: uuid.UUID) -> list[Message]:
        """The messages from the root down to message_id, given every message of its tree."""
        chain = [by_id[message_id]] if message_id in by_id else []
        while chain and chain[-1].parent_id in by_id:
            chain.append(by_id[chain[-1].parent_id])
        return chain[::-1]

    async def _thread(self, s, message_id: uuid.UUID) -> list[Message]:
        tree_id = await s.scalar(select(Message.tree_id).where(Message.id == message_id))
        if tree_id is None:
            return []
        by_id = {m.id: m for m in await s.scalars(select(Message).where(Message.tree_id == tree_id))}
        return self._chain(by_id, message_id)

    async def save_draft(self, user_id: uuid.UUID, task_id: uuid.UUID | str, text: str | None) -> None:
        """Keep text the person is writing, so a restart or a mis-click does not lose it."""
        async with self.db.tx() as s:
            user = await self._user(s, user_id)
            task = await submit.load_task(s, user, as_uuid(task_id, "task id"))
            task.draft = text

    async def set_task_ui(self, user_id: uuid.UUID, task_id: uuid.UUID | str, ui: dict) -> None:
        """Store a front end's state for a task (which chat message shows it, a half-done ranking)."""
        async with self.db.tx() as s:
            user = await self._user(s, user_id)
            task = await submit.load_task(s, user, as_uuid(task_id, "task id"))
            task.ui = dict(ui)

    async def submit_reply(self, user_id: uuid.UUID, task_id: uuid.UUID | str, text: str) -> SubmitResult:
        """Answer a writing task (a prompt, or a reply as the user or as the assistant)."""
        try:
            async with self.db.tx() as s:
                user = await self._user(s, user_id)
                task = await submit.load_task(s, user, as_uuid(task_id, "task id"))
                if TaskType(task.type).kind != "write":
                    raise InvalidInput("This task asks for a ranking or labels, not a text.")
                clean = submit.check_text(self.settings, text)
                await submit.check_not_duplicate(s, self.settings, user, clean)
                try:
                    msg = await submit.submit_text(s, self.settings, user, task, clean)
                except SlotTaken:
                    await s.commit()  # keep the text in the task's draft
                    raise
                activity.touch(user)
                await s.flush()
                return SubmitResult(task.id, "Thank you! Your message was saved and will be reviewed.", msg.id)
        except IntegrityError:
            raise AlreadyAnswered() from None

    async def submit_ranking(
        self, user_id: uuid.UUID, task_id: uuid.UUID | str, ranking: Sequence[uuid.UUID | str] | None
    ) -> SubmitResult:
        """Answer a ranking task with the replies best first, or None for 'none of these is acceptable'."""
        try:
            async with self.db.tx() as s:
                user = await self._user(s, user_id)
                task = await submit.load_task(s, user, as_uuid(task_id, "task id"))
                if TaskType(task.type).kind != "rank":
                    raise InvalidInput("This task does not ask for a ranking.")
                _, tree = await submit.submit_ranking(s, self.settings, user, task, None if ranking is None else list(ranking))
                activity.touch(user)
                return SubmitResult(task.id, "Thank you! Your ranking was saved.", tree_state=tree.state)
        except IntegrityError:
            raise AlreadyAnswered("You have already ranked these replies.") from None

    async def submit_labels(self, user_id: uuid.UUID, task_id: uuid.UUID | str, labels: dict[str, float]) -> SubmitResult:
        """Answer a labelling task; label names are those the task lists, values in [0, 1]."""
        try:
            async with self.db.tx() as s:
                user = await self._user(s, user_id)
                task = await submit.load_task(s, user, as_uuid(task_id, "task id"))
                if TaskType(task.type).kind != "label":
                    raise InvalidInput("This task does not ask for labels.")
                _, msg = await submit.submit_labels(s, self.settings, user, task, labels)
                activity.touch(user)
                return SubmitResult(task.id, "Thank you! Your labels were saved.")
        except IntegrityError:
            raise AlreadyAnswered("You have already labelled this message.") from None

    async def skip_task(self, user_id: uuid.UUID, task_id: uuid.UUID | str) -> SubmitResult:
        """Skip a task: it will not be offered to this person again."""
        async with self.db.tx() as s:
            user = await self._user(s, user_id)
            task = await submit.load_task(s, user, as_uuid(task_id, "task id"))
            await submit.skip(s, self.settings, user, task)
            return SubmitResult(task.id, "Skipped. Request another task whenever you like.")


__all__ = ["Chorus", "EMOJIS"]
