"""Submissions: replies, rankings, labels and skips, each checked and stored in one transaction."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import activity, label_means, trees
from core.config import Settings
from core.errors import (
    AlreadyAnswered,
    DuplicateText,
    EmptyText,
    InvalidRanking,
    NotYourTask,
    SlotTaken,
    TaskExpired,
    TaskNotFound,
    TextTooLong,
)
from core.labels import CATALOGUE, validate
from core.models import (
    Ballot,
    EmojiCount,
    Label,
    Message,
    Task,
    TaskState,
    TaskType,
    Tree,
    TreeState,
    User,
    utcnow,
)
from core.sql import ROW_LOCK, add_counts
from core.tasks import SKIP_EMOJI


async def load_task(session: AsyncSession, user: User, task_id: uuid.UUID, *, for_update: bool = True) -> Task:
    """The user's own pending task, locked; a typed error for anyone else's, a done or an expired one."""
    q = select(Task).where(Task.id == task_id)
    if for_update:
        q = q.with_for_update(**ROW_LOCK)
    task = await session.scalar(q)
    if task is None:
        raise TaskNotFound()
    if task.user_id != user.id:
        raise NotYourTask()
    if task.state == TaskState.done:
        raise AlreadyAnswered()
    if task.state == TaskState.skipped:
        raise AlreadyAnswered("You skipped this task. Request a new one with /task.")
    if task.state in (TaskState.expired, TaskState.cancelled):
        raise TaskExpired()
    if task.expires_at <= utcnow():
        task.state = TaskState.expired
        raise TaskExpired()
    return task


def check_text(settings: Settings, text: str | None) -> str:
    """The text to store, stripped; a typed error when it is empty or too long."""
    text = (text or "").strip()
    if not text:
        raise EmptyText()
    limit = settings.task.message_max_chars
    if len(text) > limit:
        raise TextTooLong(f"Your message has {len(text)} characters; the limit is {limit}. Please shorten it.")
    return text


async def check_not_duplicate(session: AsyncSession, settings: Settings, user: User, text: str) -> None:
    """Refuse the same text from the same person within the duplicate window."""
    since = utcnow() - dt.timedelta(minutes=settings.task.duplicate_window_minutes)
    dup = await session.scalar(
        select(Message.id).where(Message.user_id == user.id, Message.created_at > since, Message.text == text).limit(1)
    )
    if dup is not None:
        raise DuplicateText()


async def submit_text(session: AsyncSession, settings: Settings, user: User, task: Task, text: str) -> Message:
    """Store a prompt or a reply; a reply's capacity is checked again under the tree's lock."""
    now = utcnow()
    if task.type == TaskType.initial_prompt:
        tree = Tree(id=uuid.uuid4(), state=TreeState.initial_prompt_review, lang=task.lang, author_id=user.id,
                    origin="chorus", created_at=now, updated_at=now)  # fmt: skip
        session.add(tree)
        await session.flush()
        msg = Message(id=tree.id, tree_id=tree.id, parent_id=None, role="prompter", depth=0)
        counter = "prompts"
    else:
        tree = await trees.lock_tree(session, task.tree_id)
        parent = await session.get(Message, task.message_id, populate_existing=True)
        if not await trees.slot_free(session, settings, tree, parent, now, exclude=task.id):
            # Keep the text so the person can paste it into their next task.
            task.draft = text
            task.state = TaskState.cancelled
            raise SlotTaken()
        role = "assistant" if parent.role == "prompter" else "prompter"
        msg = Message(id=uuid.uuid4(), tree_id=tree.id, parent_id=parent.id, role=role, depth=parent.depth + 1)
        counter = f"{role}_replies"
    msg.lang, msg.text, msg.user_id, msg.task_id, msg.created_at = task.lang, text, user.id, task.id, now
    session.add(msg)
    _finish(task, now)
    await activity.count(session, user.id, **{counter: 1})
    return msg


def _finish(task: Task, now: dt.datetime) -> None:
    task.state = TaskState.done
    task.done_at = now
    task.reserved_until = None
    task.draft = None


async def submit_ranking(
    session: AsyncSession, settings: Settings, user: User, task: Task, ranking: list | None
) -> tuple[Ballot, Tree]:
    """Store one ballot: a permutation of the replies shown, or None for 'none is acceptable'."""
    shown: list[str] = list(task.payload.get("candidates", []))
    if ranking is None:
        order, not_rankable = [], True
    else:
        order = [str(x) for x in ranking]
        if sorted(order) != sorted(shown) or len(set(order)) != len(order):
            raise InvalidRanking(f"Please order all {len(shown)} replies, each exactly once.")
        not_rankable = False
    # A second ballot by the same person on the same set is refused by the schema (the caller
    # turns the IntegrityError into AlreadyAnswered), so no look-up is needed here.
    tree = await trees.lock_tree(session, task.tree_id)
    ballot = Ballot(parent_id=task.message_id, user_id=user.id, task_id=task.id, ranking=order, not_rankable=not_rankable)
    session.add(ballot)
    _finish(task, utcnow())
    await activity.count(session, user.id, rankings=1)
    await session.flush()
    if tree.state in trees.RANKING_STATES:
        await trees.maybe_score(session, settings, tree)
    return ballot, tree


async def submit_labels(
    session: AsyncSession, settings: Settings, user: User, task: Task, values: dict
) -> tuple[Label, Message]:
    """Store one label set; as a review it may decide whether the message is accepted."""
    asked = list(task.payload.get("labels", []))
    clean = validate(values, asked)
    # One label set per person and message is a schema constraint: a duplicate fails on insert.
    tree = await trees.lock_tree(session, task.tree_id)
    msg = await session.get(Message, task.message_id, populate_existing=True)
    is_review = msg.review_result is None and not msg.deleted
    mode = task.payload.get("mode", "full")
    label = Label(message_id=msg.id, user_id=user.id, task_id=task.id, values=clean, mode=mode, is_review=is_review)
    session.add(label)
    await label_means.fold(session, msg.id, clean)
    _finish(task, utcnow())
    await activity.count(session, user.id, **{"labels_simple" if mode == "simple" else "labels_full": 1})
    if any(clean.get(n, 0) > 0 for n in CATALOGUE if CATALOGUE[n].kind == "flag"):
        await activity.count(session, msg.user_id, flag_labels_received=1)
    await session.flush()
    if is_review:
        msg.review_count += 1
        required = settings.tree.reviews_initial_prompt if msg.depth == 0 else settings.tree.reviews_reply
        if msg.review_count >= required:
            threshold = settings.tree.acceptance_threshold_prompt if msg.depth == 0 else settings.tree.acceptance_threshold_reply
            score = await trees.review_score(session, msg.id)
            await trees.decide_review(session, settings, msg, score > threshold, tree=tree)
    return label, msg


async def skip(session: AsyncSession, settings: Settings, user: User, task: Task) -> None:
    """Skip a task: its slot is released and it is never offered to this person again."""
    task.state = TaskState.skipped
    task.done_at = utcnow()
    task.reserved_until = None
    if task.message_id is not None:
        emoji = SKIP_EMOJI[TaskType(task.type).kind]
        await add_counts(session, EmojiCount.__table__, {"message_id": task.message_id, "emoji": emoji}, {"count": 1})
    if task.tree_id is not None and TaskType(task.type).kind == "write":
        # A released slot may have been the last thing keeping the tree in growth.
        tree = await trees.lock_tree(session, task.tree_id)
        await session.flush()
        await trees.advance(session, settings, tree)

