"""Trees grown through the real service API by simulated people, so Discord tests start where they need to."""

from __future__ import annotations

import itertools
import uuid

from core.models import TaskType
from core.service import Chorus
from tests.core.crowd import answer, people

_batch = itertools.count()


async def crowd(core: Chorus, n: int):
    """n fresh simulated members."""
    return await people(core, n, prefix=f"seed{next(_batch)}-")


async def prompt(core: Chorus, text: str = "How do volcanoes form?", *, accept: bool = True) -> uuid.UUID:
    """A prompt by a simulated author, accepted by two simulated reviews unless told not to."""
    author, *reviewers = await crowd(core, 3)
    task = await core.request_task(author.id, type=TaskType.initial_prompt)
    root = (await core.submit_reply(author.id, task.id, text)).created_message_id
    if accept:
        for r in reviewers:
            await answer(core, r, await core.request_task(r.id, type=TaskType.label_initial_prompt))
    return root


async def reply(core: Chorus, kind: TaskType, text: str, *, accept: bool = True) -> uuid.UUID:
    """A reply of a kind by a simulated member, accepted by two simulated reviews unless told not to."""
    author, *reviewers = await crowd(core, 3)
    task = await core.request_task(author.id, type=kind)
    mid = (await core.submit_reply(author.id, task.id, text)).created_message_id
    label = TaskType.label_assistant_reply if kind == TaskType.assistant_reply else TaskType.label_prompter_reply
    if accept:
        for r in reviewers:
            t = await core.request_task(r.id, type=label)
            assert t.target.id == mid
            await answer(core, r, t)
    return mid
