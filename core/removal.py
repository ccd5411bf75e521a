"""Tree surgery for moderation: soft-deleting and restoring subtrees, halting and resuming trees.

Each function runs inside the caller's transaction with the tree row locked, and leaves the tree in
a state the task engine can work with: open tasks on removed messages are cancelled (their drafts
kept), capacity and stage are re-evaluated, and a scored tree's ranks stay a permutation of its
live replies.
"""

from __future__ import annotations

import uuid

from sqlalchemy import false, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import trees
from core.config import Settings
from core.consensus import consensus
from core.models import Ballot, Message, RankingResult, Task, TaskState, Tree, TreeState

# halted_reason prefixes of halts Chorus itself undoes (undeleting the prompt, unbanning the author).
PROMPT_DELETED = "Prompt deleted"
AUTHOR_BANNED = "Author banned"
CLOSED_STATES = (TreeState.halted_by_moderator.value, TreeState.aborted_low_grade.value)


async def subtree(session: AsyncSession, msg: Message) -> list[Message]:
    """A message and every message below it, parents before children."""
    rows = (await session.scalars(select(Message).where(Message.tree_id == msg.tree_id))).all()
    children: dict[uuid.UUID | None, list[Message]] = {}
    for m in rows:
        children.setdefault(m.parent_id, []).append(m)
    out, stack = [], [msg]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(children.get(node.id, []))
    return out


async def cancel_tasks_on(session: AsyncSession, message_ids: list[uuid.UUID]) -> int:
    """Cancel the open tasks about these messages (drafts stay on the task rows)."""
    if not message_ids:
        return 0
    res = await session.execute(
        update(Task)
        .where(Task.message_id.in_(message_ids), Task.state == TaskState.pending)
        .values(state=TaskState.cancelled, reserved_until=None)
    )
    return res.rowcount or 0


def halt(tree: Tree, reason: str) -> None:
    """Stop a tree where it stands, remembering the state to resume in."""
    tree.state_before_halt = tree.state
    tree.halted_reason = reason
    trees.set_state(tree, TreeState.halted_by_moderator)


async def halt_and_release(session: AsyncSession, tree: Tree, reason: str) -> None:
    """Halt a tree and cancel its open tasks (reply slots and all)."""
    halt(tree, reason)
    await session.execute(
        update(Task)
        .where(Task.tree_id == tree.id, Task.state == TaskState.pending)
        .values(state=TaskState.cancelled, reserved_until=None)
    )


async def resume(session: AsyncSession, settings: Settings, tree: Tree) -> None:
    """Put a halted tree back in the state it was halted in, and let it move on if it can."""
    before = tree.state_before_halt or TreeState.growing.value
    tree.state_before_halt = None
    tree.halted_reason = None
    trees.set_state(tree, TreeState(before))
    await session.flush()
    await trees.advance(session, settings, tree)


async def after_change(session: AsyncSession, settings: Settings, tree: Tree) -> None:
    """Re-evaluate a tree whose live messages changed: its stage, and its ranks if it was scored."""
    await session.flush()
    await rerank(session, tree)
    if tree.state not in CLOSED_STATES:
        await trees.advance(session, settings, tree)


async def rerank(session: AsyncSession, tree: Tree) -> None:
    """Recompute the stored consensus of a tree's scored sibling sets from its ballots and live replies.

    Unlike scoring, this awards no placement points again: it only keeps ranks consistent after
    a reply was deleted, restored, or a ballot purged.
    """
    results = (await session.scalars(select(RankingResult).where(RankingResult.tree_id == tree.id))).all()
    for result in results:
        children = (await session.scalars(select(Message).where(Message.parent_id == result.parent_id))).all()
        previous = set(result.order)
        ranked_roles = {m.role for m in children if str(m.id) in previous} or {"assistant"}
        live = [m for m in children if m.role in ranked_roles and m.review_result and not m.deleted]
        ids = {str(m.id) for m in live}
        ballots = (
            await session.scalars(select(Ballot).where(Ballot.parent_id == result.parent_id, Ballot.not_rankable == false()))
        ).all()
        lists = [b for b in ([c for c in b.ranking if c in ids] for b in ballots) if b]
        outcome = consensus(lists)
        rank_of = {c: i for i, c in enumerate(outcome.order)}
        for m in children:
            m.rank = rank_of.get(str(m.id))
        result.order, result.agreement, result.contested = outcome.order, outcome.agreement, outcome.contested
        result.ballots = len(ballots)


async def delete_subtree(session: AsyncSession, settings: Settings, msg: Message, reason: str | None) -> list[uuid.UUID]:
    """Soft-delete a message and its live descendants; deleting a prompt halts its tree."""
    tree = await trees.lock_tree(session, msg.tree_id)
    removed = [m for m in await subtree(session, msg) if not m.deleted]
    for m in removed:
        m.deleted = True
    ids = [m.id for m in removed]
    await cancel_tasks_on(session, ids)
    if msg.parent_id is None and tree.state not in CLOSED_STATES:
        await halt_and_release(session, tree, f"{PROMPT_DELETED}: {reason}" if reason else PROMPT_DELETED)
    await after_change(session, settings, tree)
    return ids


async def restore_subtree(session: AsyncSession, settings: Settings, msg: Message, ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Undelete the given messages of a subtree (those one deletion removed); restoring a prompt resumes its tree."""
    tree = await trees.lock_tree(session, msg.tree_id)
    wanted = set(ids) | {msg.id}
    restored = [m for m in await subtree(session, msg) if m.id in wanted and m.deleted]
    for m in restored:
        m.deleted = False
    if msg.parent_id is None:
        if tree.state == TreeState.halted_by_moderator and (tree.halted_reason or "").startswith(PROMPT_DELETED):
            await resume(session, settings, tree)
        elif tree.state == TreeState.aborted_low_grade and msg.review_result is not False:
            # Auto-moderation aborted it for red flags: a moderator restoring it sends it back in line.
            trees.set_state(tree, TreeState.prompt_lottery_waiting if msg.review_result else TreeState.initial_prompt_review)
    await after_change(session, settings, tree)
    return [m.id for m in restored]
