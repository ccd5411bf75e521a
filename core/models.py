"""The schema: users, conversation trees, tasks, labels, ballots, reactions and their bookkeeping.

Every uniqueness the domain has is a constraint here, so a duplicated delivery from a platform
cannot create duplicate data whatever a front end does.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    true,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    """The current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class Role(StrEnum):
    member = "member"
    moderator = "moderator"
    maintainer = "maintainer"

    @property
    def level(self) -> int:
        """Rank of the role: a higher role can do everything a lower one can."""
        return ("member", "moderator", "maintainer").index(self.value)


class TreeState(StrEnum):
    initial_prompt_review = "initial_prompt_review"
    prompt_lottery_waiting = "prompt_lottery_waiting"
    growing = "growing"
    ranking = "ranking"
    ready_for_scoring = "ready_for_scoring"
    ready_for_export = "ready_for_export"
    aborted_low_grade = "aborted_low_grade"
    halted_by_moderator = "halted_by_moderator"
    scoring_failed = "scoring_failed"
    backlog_ranking = "backlog_ranking"


class TaskType(StrEnum):
    initial_prompt = "initial_prompt"
    prompter_reply = "prompter_reply"
    assistant_reply = "assistant_reply"
    rank_assistant_replies = "rank_assistant_replies"
    rank_prompter_replies = "rank_prompter_replies"
    label_initial_prompt = "label_initial_prompt"
    label_prompter_reply = "label_prompter_reply"
    label_assistant_reply = "label_assistant_reply"

    @property
    def kind(self) -> str:
        """'write', 'rank' or 'label': what the person does."""
        if self.value.startswith("rank"):
            return "rank"
        if self.value.startswith("label"):
            return "label"
        return "write"


class TaskState(StrEnum):
    pending = "pending"
    done = "done"
    skipped = "skipped"
    expired = "expired"
    cancelled = "cancelled"


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime(), dict: JSON, list: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16), default=Role.member, server_default=Role.member)
    lang: Mapped[str] = mapped_column(String(32), default="en", server_default="en")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    banned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    banned_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_active_at: Mapped[dt.datetime | None]
    streak_start_at: Mapped[dt.datetime | None]


class Identity(Base):
    """A user's account on one platform; one person may link several."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    username: Mapped[str | None] = mapped_column(String(100))


class Tree(Base):
    __tablename__ = "trees"
    __table_args__ = (Index("ix_trees_state_lang", "state", "lang", "updated_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    state: Mapped[str] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(32))
    origin: Mapped[str | None] = mapped_column(String(32))
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Last accepted work or state change: stale-tree handling keys off it.
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    halted_reason: Mapped[str | None] = mapped_column(Text)
    state_before_halt: Mapped[str | None] = mapped_column(String(32))


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_user_created", "user_id", "created_at"),
        # Messages awaiting review: what label tasks draw from.
        Index(
            "ix_messages_under_review",
            "lang",
            "created_at",
            sqlite_where=text("review_result IS NULL AND deleted = 0"),
            postgresql_where=text("review_result IS NULL AND deleted = false"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tree_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("trees.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # prompter | assistant
    depth: Mapped[int] = mapped_column(Integer, default=0)
    lang: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    review_count: Mapped[int] = mapped_column(Integer, default=0)
    review_result: Mapped[bool | None] = mapped_column(Boolean)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    rank: Mapped[int | None] = mapped_column(Integer)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    model_name: Mapped[str | None] = mapped_column(String(256))
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    # One answer per task: the task that produced this message.
    task_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    detoxify: Mapped[dict | None] = mapped_column(JSON)
    # oasst fields Chorus does not model (kept so an import round-trips).
    extra: Mapped[dict | None] = mapped_column(JSON)


class MessageRevision(Base):
    """A message's earlier text, kept when it is edited."""

    __tablename__ = "message_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    edited_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    edited_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_user_state", "user_id", "state"),
        Index("ix_tasks_user_message", "user_id", "message_id"),
        Index("ix_tasks_message_state", "message_id", "state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    type: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=TaskState.pending)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    lang: Mapped[str] = mapped_column(String(32))
    tree_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("trees.id", ondelete="CASCADE"))
    # The message the task is about: the parent to reply to or rank the children of, or the one to label.
    message_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    # A reply task holds one of its parent's slots until then.
    reserved_until: Mapped[dt.datetime | None]
    done_at: Mapped[dt.datetime | None]
    # Ranking: the candidate ids in the order shown; labels: the label names asked and the mode.
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    # Text the person has written but not sent; kept so nothing is lost to a mis-click or a restart.
    draft: Mapped[str | None] = mapped_column(Text)
    # The front end's own state for this task (which chat message shows it, a half-done ranking).
    ui: Mapped[dict] = mapped_column(JSON, default=dict)


class Label(Base):
    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("message_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    task_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    values: Mapped[dict] = mapped_column(JSON)
    mode: Mapped[str] = mapped_column(String(8), default="full")
    is_review: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LabelMeans(Base):
    """A message's label means and counts, as the JSON text of the oasst export's labels object."""

    __tablename__ = "label_means"

    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    # {"name": {"value": mean, "count": n}, ...}, written by core.label_means (floats by repr: exact).
    labels: Mapped[str] = mapped_column(Text)
    ratings: Mapped[int] = mapped_column(Integer)  # label sets folded in: the largest count (each set answers spam)


class Ballot(Base):
    """One person's ranking of one sibling set (the children of parent_id), best first."""

    __tablename__ = "ballots"
    __table_args__ = (UniqueConstraint("parent_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    parent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    task_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    ranking: Mapped[list] = mapped_column(JSON)  # message ids as strings, best first
    not_rankable: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RankingResult(Base):
    """The consensus of one sibling set: how much the ballots agreed and whether a tie-break decided."""

    __tablename__ = "ranking_results"

    parent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    tree_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("trees.id", ondelete="CASCADE"), index=True)
    order: Mapped[list] = mapped_column(JSON)
    agreement: Mapped[float | None] = mapped_column(Float)
    contested: Mapped[bool] = mapped_column(Boolean, default=False)
    ballots: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Reaction(Base):
    __tablename__ = "reactions"
    __table_args__ = (UniqueConstraint("message_id", "user_id", "emoji"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    emoji: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class EmojiCount(Base):
    """How many times an emoji (or a skip pseudo-emoji) was given to a message."""

    __tablename__ = "emoji_counts"
    __table_args__ = {"sqlite_with_rowid": False}  # migration 0002: rows in the key's B-tree

    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    emoji: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("message_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution: Mapped[str | None] = mapped_column(String(32))


class AuditLog(Base):
    """Who did what to what, when and why: every moderation action and automatic decision."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(32))
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class UserActivity(Base):
    """One user's counted contributions on one day: points and leaderboards sum these rows."""

    __tablename__ = "user_activity"
    __table_args__ = (Index("ix_user_activity_day", "day"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    prompts: Mapped[int] = mapped_column(Integer, default=0)
    assistant_replies: Mapped[int] = mapped_column(Integer, default=0)
    prompter_replies: Mapped[int] = mapped_column(Integer, default=0)
    labels_simple: Mapped[int] = mapped_column(Integer, default=0)
    labels_full: Mapped[int] = mapped_column(Integer, default=0)
    rankings: Mapped[int] = mapped_column(Integer, default=0)
    accepted_prompts: Mapped[int] = mapped_column(Integer, default=0)
    accepted_assistant_replies: Mapped[int] = mapped_column(Integer, default=0)
    accepted_prompter_replies: Mapped[int] = mapped_column(Integer, default=0)
    ranked_first: Mapped[int] = mapped_column(Integer, default=0)
    ranked_second: Mapped[int] = mapped_column(Integer, default=0)
    ranked_third: Mapped[int] = mapped_column(Integer, default=0)
    red_flags_received: Mapped[int] = mapped_column(Integer, default=0)
    upvotes_received: Mapped[int] = mapped_column(Integer, default=0)
    downvotes_received: Mapped[int] = mapped_column(Integer, default=0)
    spam_prompts: Mapped[int] = mapped_column(Integer, default=0)
    flag_labels_received: Mapped[int] = mapped_column(Integer, default=0)


ACTIVITY_COUNTERS = tuple(
    c.name for c in UserActivity.__table__.columns if c.name not in ("user_id", "day")
)


class CommunitySettings(Base):
    """Settings of one Discord server or Telegram group (language, channels, roles)."""

    __tablename__ = "community_settings"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PostedItem(Base):
    """A chat message a bot posted about a Chorus object (a moderation card, an open task)."""

    __tablename__ = "posted_items"
    __table_args__ = (Index("ix_posted_items_object", "kind", "object_id"),)

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    chat_message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # e.g. "review", "report", "open_task"
    object_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ProcessedEvent(Base):
    """A platform event already handled (a Telegram update id): redeliveries are dropped."""

    __tablename__ = "processed_events"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Job(Base):
    """Work for exactly one worker (a retraining run), claimed with SKIP LOCKED."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_created", "state", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
