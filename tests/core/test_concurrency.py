"""Dozens of people at once: limits hold, nothing acknowledged goes missing (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import select

from core import errors, trees
from core.models import Ballot, Label, Message
from core.service import Chorus
from tests.conftest import make_settings
from tests.core.crowd import people
from tests.core.invariants import check_invariants

LIMITS = dict(tree_goal_tree_size=6, tree_reviews_initial_prompt=2, tree_reviews_reply=2, tree_max_tree_depth=3,
              tree_ballots_per_sibling_set=2, tree_max_children=3, tree_max_active_trees_per_lang=3)  # fmt: skip


async def volunteer(core: Chorus, user, rounds: int, rng: random.Random, acked: dict) -> None:
    """Take and answer tasks, recording every acknowledged submission."""
    for i in range(rounds):
        try:
            task = await core.request_task(user.id)
            if task.kind == "write":
                res = await core.submit_reply(user.id, task.id, f"{user.display_name} round {i}: {rng.random()}")
                acked["messages"].add(res.created_message_id)
            elif task.kind == "rank":
                order = [c.id for c in task.candidates]
                rng.shuffle(order)
                await core.submit_ranking(user.id, task.id, order)
                acked["ballots"].add((task.target.id, user.id))
            else:
                await core.submit_labels(user.id, task.id, {"spam": float(rng.random() < 0.1)})
                acked["labels"].add((task.target.id, user.id))
        except (errors.NoTaskAvailable, errors.SlotTaken):
            await asyncio.sleep(0)


async def test_many_concurrent_volunteers(db_url):
    settings = make_settings(db_url, **LIMITS)
    core = Chorus.open_on(settings, seed=11)
    try:
        crowd = await people(core, 36)
        # Seed prompts so there is work of every kind from the start.
        for u in crowd[:6]:
            t = await core.request_task(u.id, type="initial_prompt")
            await core.submit_reply(u.id, t.id, f"Question from {u.display_name}")
        acked: dict = {"messages": set(), "ballots": set(), "labels": set()}
        await asyncio.gather(*(volunteer(core, u, 12, random.Random(i), acked) for i, u in enumerate(crowd)))
        summary = await check_invariants(core, settings)
        async with core.db.read() as s:
            stored = set((await s.scalars(select(Message.id))).all())
            ballots = {(b.parent_id, b.user_id) for b in (await s.scalars(select(Ballot))).all()}
            labels = {(lb.message_id, lb.user_id) for lb in (await s.scalars(select(Label))).all()}
        assert acked["messages"] <= stored
        assert acked["ballots"] <= ballots
        assert acked["labels"] <= labels
        assert summary["ballots"] > 0 and summary["trees"]["ready_for_export"] > 0, summary
    finally:
        await core.close()


async def test_tree_lock_does_not_block_new_tasks_on_the_tree(db_url):
    """A writer holding a tree's lock must not block a task that merely names the tree.

    PostgreSQL checks a foreign key by taking FOR KEY SHARE on the referenced row; a FOR UPDATE
    lock blocks that, and two such transactions deadlocked in the crowd test above.
    """
    if not db_url.startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers")
    core = Chorus.open_on(make_settings(db_url, tree_reviews_initial_prompt=2), seed=3)
    try:
        author, reviewer = await people(core, 2)
        t = await core.request_task(author.id, type="initial_prompt")
        await core.submit_reply(author.id, t.id, "Why is the sky blue?")
        async with core.db.tx() as s:
            tree_id = (await s.scalars(select(Message.tree_id))).one()
            await trees.lock_tree(s, tree_id)
            # The label task names the locked tree; it must be handed out while the lock is held.
            task = await asyncio.wait_for(core.request_task(reviewer.id, type="label_initial_prompt"), 10)
        assert task.target.tree_id == tree_id
    finally:
        await core.close()
