"""The conversation-tree state machine: review decisions, growth limits, lottery, scoring.

Every function here runs inside the caller's transaction and with the tree row locked where it
changes the tree, so concurrent submissions on PostgreSQL see each other's effects.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from functools import cache

from sqlalchemy import Integer, and_, bindparam, case, delete, false, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core import activity
from core.config import Settings
from core.consensus import consensus
from core.db import db_rng
from core.models import (
    AuditLog,
    Ballot,
    Label,
    Message,
    RankingResult,
    Task,
    TaskState,
    TaskType,
    Tree,
    TreeState,
    utcnow,
)
from core.sql import ROW_LOCK

REPLY_TYPES = (TaskType.assistant_reply.value, TaskType.prompter_reply.value)
RANKING_STATES = (TreeState.ranking.value, TreeState.backlog_ranking.value)
CHILD = aliased(Message, name="child")  # built once: an alias re-creates every column proxy


def live(m=Message):
    """A message that still counts: not deleted and not rejected in review."""
    return and_(m.deleted == false(), or_(m.review_result.is_(None), m.review_result == true()))


def accepted(m=Message):
    """A message accepted in review and not deleted."""
    return and_(m.deleted == false(), m.review_result == true())


async def lock_tree(session: AsyncSession, tree_id: uuid.UUID) -> Tree:
    """Load a tree with its row locked until the transaction ends (a no-op lock on SQLite)."""
    tree = await session.scalar(
        select(Tree).where(Tree.id == tree_id).with_for_update(**ROW_LOCK).execution_options(populate_existing=True)
    )
    assert tree is not None, tree_id
    return tree


def set_state(tree: Tree, state: TreeState) -> None:
    """Move a tree to a new state and mark it as active now."""
    tree.state = state.value
    tree.updated_at = utcnow()


def reply_cap(settings: Settings, parent_role: str) -> int:
    """How many replies a parent of this role may have."""
    t = settings.tree
    return t.max_prompter_children if parent_role == "assistant" else t.max_children


def active_reservations(now, *, exclude: uuid.UUID | None = None):
    """Pending reply tasks whose slot reservation has not run out."""
    cond = and_(Task.type.in_(REPLY_TYPES), Task.state == TaskState.pending, Task.reserved_until > now)
    return and_(cond, Task.id != exclude) if exclude is not None else cond


# Capacity counts are prebuilt statements run with bound values (built once: see core.tasks), each
# a single row of scalar subqueries, so a capacity check costs one round trip to the database.
NO_ID = uuid.UUID(int=0)  # matches no row: the `exclude` of a check made for no task, or "no parent"


def _held(where):
    """Reply slots held by reservations, other than the asking task's own."""
    held = and_(where, active_reservations(bindparam("now"), exclude=bindparam("exclude")))
    return select(func.count()).select_from(Task).where(held).scalar_subquery()


def _live_count(where):
    return select(func.count()).select_from(Message).where(where, live()).scalar_subquery()


@cache
def _loads_query():
    parent, tree = bindparam("parent_id"), bindparam("tree_id")
    return select(
        _live_count(Message.parent_id == parent) + _held(Task.message_id == parent),
        _live_count(Message.tree_id == tree) + _held(Task.tree_id == tree),
    )


@cache
def _parents_with_room_query():
    """A parent in the tree that could take another reply (no row: every sibling set is full)."""
    children = select(func.count()).select_from(CHILD).where(CHILD.parent_id == Message.id, live(CHILD)).scalar_subquery()
    load = children + _held(Task.message_id == Message.id)
    cap = case(
        (Message.role == "assistant", bindparam("max_prompter_children", type_=Integer)),
        else_=bindparam("max_children", type_=Integer),
    )
    return (
        select(Message.id)
        .where(Message.tree_id == bindparam("tree_id"), accepted(), Message.depth < bindparam("max_depth", type_=Integer))
        .where(load < cap)
        .limit(1)
    )


async def tree_load(session: AsyncSession, tree_id: uuid.UUID, now: dt.datetime, *, exclude: uuid.UUID | None = None) -> int:
    """Live messages plus reserved reply slots in a tree: what the goal size limits."""
    params = {"parent_id": NO_ID, "tree_id": tree_id, "now": now, "exclude": exclude or NO_ID}
    return (await session.execute(_loads_query(), params)).one()[1]


async def slot_free(
    session: AsyncSession, settings: Settings, tree: Tree, parent: Message, now: dt.datetime,
    *, exclude: uuid.UUID | None = None,
) -> bool:  # fmt: skip
    """Whether a reply to `parent` may be added now: the tree grows, the parent still counts, and
    neither the parent's sibling set nor the tree is full (`exclude`: the asking task's own slot).

    Call it with the tree locked, so the answer holds until the transaction ends.
    """
    if tree.state != TreeState.growing or parent.deleted or parent.review_result is False:
        return False
    params = {"parent_id": parent.id, "tree_id": tree.id, "now": now, "exclude": exclude or NO_ID}
    parent_load, load = (await session.execute(_loads_query(), params)).one()
    return parent_load < reply_cap(settings, parent.role) and load < settings.tree.goal_tree_size


async def rankable_parents(session: AsyncSession, settings: Settings, tree_id: uuid.UUID) -> list[uuid.UUID]:
    """Parents in a tree with at least two accepted replies of a role that is ranked."""
    child = CHILD
    roles = ["assistant"] + (["prompter"] if settings.tree.rank_prompter_replies else [])
    rows = await session.execute(
        select(child.parent_id)
        .where(child.tree_id == tree_id, child.parent_id.is_not(None), child.role.in_(roles), accepted(child))
        .group_by(child.parent_id)
        .having(func.count() >= 2)
    )
    return [r[0] for r in rows]


async def has_room(session: AsyncSession, settings: Settings, tree: Tree, now: dt.datetime) -> bool:
    """Whether any parent in a growing tree could still take a reply (two queries)."""
    if await tree_load(session, tree.id, now) >= settings.tree.goal_tree_size:
        return False
    t = settings.tree
    params = {
        "tree_id": tree.id, "now": now, "exclude": NO_ID, "max_depth": t.max_tree_depth,
        "max_children": t.max_children, "max_prompter_children": t.max_prompter_children,
    }  # fmt: skip
    return (await session.execute(_parents_with_room_query(), params)).first() is not None


async def pending_reviews(session: AsyncSession, tree_id: uuid.UUID) -> int:
    """Messages of a tree still waiting for their review decision."""
    return await session.scalar(
        select(func.count()).select_from(Message).where(
            Message.tree_id == tree_id, Message.review_result.is_(None), Message.deleted == false()
        )
    )


async def finish_growing(session: AsyncSession, settings: Settings, tree: Tree) -> None:
    """End a tree's growth: rank it if it has sibling sets, else export it or abort it if empty."""
    if await rankable_parents(session, settings, tree.id):
        set_state(tree, TreeState.ranking)
    else:
        replies = await session.scalar(
            select(func.count()).select_from(Message).where(Message.tree_id == tree.id, Message.depth > 0, accepted())
        )
        set_state(tree, TreeState.ready_for_export if replies else TreeState.aborted_low_grade)
    # A growing slot just opened: let a waiting prompt take it.
    await session.flush()
    await run_lottery(session, settings, tree.lang, db_rng(session))


async def advance(session: AsyncSession, settings: Settings, tree: Tree) -> None:
    """Move a tree on if its current stage is complete; never leaves a tree with nothing to do."""
    now = utcnow()
    if tree.state == TreeState.growing:
        if await pending_reviews(session, tree.id) == 0 and not await has_room(session, settings, tree, now):
            await finish_growing(session, settings, tree)
    if tree.state in RANKING_STATES:
        await maybe_score(session, settings, tree)


async def decide_review(
    session: AsyncSession, settings: Settings, msg: Message, accept: bool, *, actor_id: uuid.UUID | None = None,
    reason: str | None = None, tree: Tree | None = None,
) -> None:
    """Record a review decision on a message and apply its consequences to the tree.

    `tree`: the message's tree when the caller has already locked it in this transaction.
    """
    if tree is None or tree.id != msg.tree_id:
        tree = await lock_tree(session, msg.tree_id)
    msg.review_result = accept
    if accept:
        counter = "accepted_prompts" if msg.depth == 0 else f"accepted_{msg.role}_replies"
        await activity.count(session, msg.user_id, **{counter: 1})
    elif msg.depth == 0:
        await activity.count(session, msg.user_id, spam_prompts=1)
    if actor_id is not None:
        session.add(
            AuditLog(
                actor_id=actor_id, action="approve" if accept else "reject",
                target_type="message", target_id=str(msg.id), reason=reason,
            )
        )  # fmt: skip
    if msg.depth == 0:
        if tree.state == TreeState.initial_prompt_review:
            set_state(tree, TreeState.prompt_lottery_waiting if accept else TreeState.aborted_low_grade)
            if accept:  # the language may have room right now
                await session.flush()
                await run_lottery(session, settings, tree.lang, db_rng(session))
        return
    tree.updated_at = utcnow()
    await advance(session, settings, tree)


async def review_score(session: AsyncSession, message_id: uuid.UUID) -> float:
    """Open-Assistant's acceptance score: 1 - (mean spam vote + mean language-mismatch vote)."""
    rows = (await session.scalars(select(Label.values).where(Label.message_id == message_id, Label.is_review == true()))).all()
    if not rows:
        return 1.0
    spam = sum(float(v.get("spam", 0)) for v in rows) / len(rows)
    mismatch = sum(float(v.get("lang_mismatch", 0)) for v in rows) / len(rows)
    return 1.0 - (spam + mismatch)


async def run_lottery(session: AsyncSession, settings: Settings, lang: str, rng: random.Random) -> int:
    """Activate waiting prompts while the language has room, drawing an author first (fair per author)."""
    activated = 0
    growing = await session.scalar(
        select(func.count()).select_from(Tree).where(Tree.state == TreeState.growing, Tree.lang == lang)
    )
    while growing < settings.tree.max_active_trees_per_lang:
        authors = (
            await session.scalars(
                select(Tree.author_id)
                .where(Tree.state == TreeState.prompt_lottery_waiting, Tree.lang == lang)
                .distinct()
                .limit(settings.tree.max_prompts_waiting_per_lang)
            )
        ).all()
        if not authors:
            break
        author = rng.choice(sorted(authors, key=str))
        cond = Tree.author_id.is_(None) if author is None else Tree.author_id == author
        tree = await session.scalar(
            select(Tree)
            .where(Tree.state == TreeState.prompt_lottery_waiting, Tree.lang == lang, cond)
            .order_by(Tree.created_at)
            .limit(1)
            .with_for_update(skip_locked=True, **ROW_LOCK)
        )
        if tree is None:
            break
        set_state(tree, TreeState.growing)
        growing += 1
        activated += 1
    return activated


async def sweep_stale(session: AsyncSession, settings: Settings, lang: str, limit: int = 10) -> int:
    """Move on trees that stopped receiving work: no tree may stall forever.

    A stale growing tree ends its growth. A stale tree in ranking is scored once every sibling set
    has at least one ballot, or exported at once when it has no set to rank; otherwise it goes to
    the back of the ranking queue, so the sweep reaches other trees next time.
    """
    cutoff = utcnow() - dt.timedelta(hours=settings.tree.stale_tree_hours)
    stale = (
        await session.scalars(
            select(Tree)
            .where(Tree.state.in_([TreeState.growing, *RANKING_STATES]), Tree.lang == lang, Tree.updated_at < cutoff)
            .order_by(Tree.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True, **ROW_LOCK)
        )
    ).all()
    for tree in stale:
        before = tree.state
        if tree.state == TreeState.growing:
            await finish_growing(session, settings, tree)
        elif not await maybe_score(session, settings, tree, min_ballots=1):
            tree.updated_at = utcnow()
            continue
        session.add(AuditLog(action="stale_tree", target_type="tree", target_id=str(tree.id),
                             details={"from": before, "to": tree.state}))  # fmt: skip
    return len(stale)


async def maybe_score(session: AsyncSession, settings: Settings, tree: Tree, *, min_ballots: int | None = None) -> bool:
    """Score a tree in ranking once every sibling set has its ballots (`min_ballots`, by default the
    configured number); True when scored."""
    required = settings.tree.ballots_per_sibling_set if min_ballots is None else min_ballots
    parents = await rankable_parents(session, settings, tree.id)
    if parents:
        counts = dict(
            (
                await session.execute(
                    select(Ballot.parent_id, func.count()).where(Ballot.parent_id.in_(parents)).group_by(Ballot.parent_id)
                )
            ).all()
        )
        if any(counts.get(p, 0) < required for p in parents):
            return False
    set_state(tree, TreeState.ready_for_scoring)
    try:
        async with session.begin_nested():
            await score_tree(session, settings, tree, parents)
    except Exception as exc:  # a bad ballot must not lose the tree: park it for a maintainer
        set_state(tree, TreeState.scoring_failed)
        session.add(AuditLog(action="scoring_failed", target_type="tree", target_id=str(tree.id), reason=repr(exc)))
        return False
    set_state(tree, TreeState.ready_for_export)
    return True


async def score_tree(session: AsyncSession, settings: Settings, tree: Tree, parents: list[uuid.UUID]) -> None:
    """Compute and store the consensus ranking of every sibling set of a tree."""
    await session.execute(delete(RankingResult).where(RankingResult.tree_id == tree.id))
    for parent_id in parents:
        children = (await session.scalars(select(Message).where(Message.parent_id == parent_id, accepted()))).all()
        ids = {str(c.id) for c in children}
        ballots = (
            await session.scalars(select(Ballot).where(Ballot.parent_id == parent_id, Ballot.not_rankable == false()))
        ).all()
        # A reply deleted after a ballot was cast is dropped from that ballot, not from the set.
        lists = [[c for c in b.ranking if c in ids] for b in ballots]
        lists = [b for b in lists if b]
        result = consensus(lists)
        rank_of = {c: i for i, c in enumerate(result.order)}
        for c in children:
            c.rank = rank_of.get(str(c.id))
            place = {0: "ranked_first", 1: "ranked_second", 2: "ranked_third"}.get(c.rank)
            if place:
                await activity.count(session, c.user_id, **{place: 1})
        session.add(
            RankingResult(
                parent_id=parent_id, tree_id=tree.id, order=result.order,
                agreement=result.agreement, contested=result.contested, ballots=len(ballots),
            )
        )  # fmt: skip


async def release_reservations(session: AsyncSession, tree_id: uuid.UUID) -> None:
    """Cancel the pending reply tasks of a tree that stopped growing."""
    await session.execute(
        update(Task)
        .where(Task.tree_id == tree_id, Task.type.in_(REPLY_TYPES), Task.state == TaskState.pending)
        .values(state=TaskState.cancelled)
    )
