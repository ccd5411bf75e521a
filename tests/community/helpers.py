"""Set-ups shared by the community tests: staff with roles, and trees grown by a simulated crowd."""

from __future__ import annotations

from sqlalchemy import select

from core.models import Message, TaskType, Tree
from core.service import Chorus
from tests.conftest import make_settings
from tests.core.crowd import answer, people, work

# Small trees so a handful of simulated people finish one in a few rounds.
SMALL = dict(
    tree_goal_tree_size=5, tree_reviews_initial_prompt=2, tree_reviews_reply=2, tree_max_tree_depth=2,
    tree_ballots_per_sibling_set=2, tree_max_children=2, maintainers="console:boss",
)  # fmt: skip


def open_core(db_url: str, **overrides) -> Chorus:
    """A core on a fresh database with small trees and console:boss as maintainer."""
    return Chorus.open_on(make_settings(db_url, **{**SMALL, **overrides}), seed=7)


async def staff(core: Chorus):
    """A maintainer (boss) and a moderator (mod) named by the maintainer."""
    boss = await core.user_from_identity("console", "boss", display_name="boss")
    mod = await core.user_from_identity("console", "mod", display_name="mod")
    mod = await core.set_role(boss.id, mod.id, "moderator")
    return boss, mod


async def write_prompt(core: Chorus, author, text: str = "How do volcanoes form?"):
    """A new prompt by `author`, in review; returns its message id (also its tree id)."""
    task = await core.request_task(author.id, type=TaskType.initial_prompt)
    return (await core.submit_reply(author.id, task.id, text)).created_message_id


async def accept_prompt(core: Chorus, root, reviewers) -> None:
    """Peers label the prompt as fine until it is accepted."""
    for user in reviewers:
        t = await core.request_task(user.id, type=TaskType.label_initial_prompt)
        assert t.target.id == root
        await answer(core, user, t)


async def grown_tree(core: Chorus, author, crowd, rounds: int = 12):
    """A tree grown by the crowd; returns its root id once it is ready for export."""
    root = await write_prompt(core, author)
    await accept_prompt(core, root, crowd[:2])
    await work(core, crowd, rounds)
    assert await tree_state(core, root) == "ready_for_export"
    return root


async def tree_state(core: Chorus, tree_id) -> str:
    async with core.db.read() as s:
        return await s.scalar(select(Tree.state).where(Tree.id == tree_id))


async def messages_of(core: Chorus, tree_id) -> list[Message]:
    async with core.db.read() as s:
        return list((await s.scalars(select(Message).where(Message.tree_id == tree_id).order_by(Message.depth))).all())


__all__ = ["SMALL", "open_core", "staff", "write_prompt", "accept_prompt", "grown_tree", "tree_state", "messages_of", "people", "work", "answer"]
