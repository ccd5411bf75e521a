"""A few simulated people who take and answer tasks through the real service API."""

from __future__ import annotations

from core.errors import NoTaskAvailable
from core.models import TaskType
from core.service import Chorus
from core.views import TaskView


async def people(core: Chorus, n: int, prefix: str = "p", platform: str = "console"):
    """Create n members."""
    return [await core.user_from_identity(platform, f"{prefix}{i}", display_name=f"{prefix}{i}") for i in range(n)]


async def answer(core: Chorus, user, task: TaskView, *, good: bool = True, text: str | None = None):
    """Answer any task the way a cooperative (good) or a spamming volunteer would."""
    if task.kind == "write":
        return await core.submit_reply(user.id, task.id, text or f"{task.type.value} by {user.display_name} on {task.id}")
    if task.kind == "rank":
        ids = [c.id for c in task.candidates]
        return await core.submit_ranking(user.id, task.id, sorted(ids, key=str))
    values = {"spam": 0.0 if good else 1.0}
    if any(spec.name == "quality" for spec in task.labels):
        values["quality"] = 0.75
    return await core.submit_labels(user.id, task.id, values)


async def work(core: Chorus, crowd, rounds: int, *, type: TaskType | None = None) -> int:
    """Each person in turn takes a task and answers it; returns how many were answered."""
    done = 0
    for _ in range(rounds):
        for user in crowd:
            try:
                task = await core.request_task(user.id, type=type)
            except NoTaskAvailable:
                continue
            await answer(core, user, task)
            done += 1
    return done
