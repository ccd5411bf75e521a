"""Simulated volunteers doing random tasks through the real service API, and the invariants they must keep.

It is a demo, a load generator and an end-to-end check: trees must flow from prompt to
ready_for_export with every rule intact, whatever order the volunteers' work arrives in.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable

from sqlalchemy import func, select

from core.errors import ChorusError, NoTaskAvailable
from core.models import Ballot, Message, Task, TaskState, Tree
from core.service import Chorus
from core.views import TaskView, UserView

WORDS = (
    "river light garden engine letter winter market theory bridge music window planet story recipe "
    "forest signal harbor language number mountain paper doctor island memory kitchen circuit"
).split()


def parse_langs(spec: str | None) -> dict[str, float]:
    """A language mix such as 'en=0.7,de=0.3' (weights need not sum to 1); 'en' alone means en only."""
    if not spec:
        return {"en": 1.0}
    mix: dict[str, float] = {}
    for part in spec.split(","):
        name, _, weight = part.strip().partition("=")
        try:
            mix[name.strip()] = float(weight) if weight else 1.0
        except ValueError:
            raise ValueError(f"'{part}' is not lang=weight (e.g. en=0.7)") from None
        if not name.strip() or mix[name.strip()] < 0:
            raise ValueError(f"'{part}' is not lang=weight (e.g. en=0.7)")
    if not sum(mix.values()):
        raise ValueError("the language weights add up to zero")
    return mix


class Volunteer:
    """One simulated person: mostly cooperative, sometimes skipping, rarely a spammer."""

    def __init__(self, user: UserView, rng: random.Random, spammer: bool):
        self.user, self.rng, self.spammer = user, rng, spammer

    def text(self, task: TaskView) -> str:
        words = " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(4, 20)))
        # The task id keeps every text unique: the duplicate-text rule is not what is simulated.
        return f"{words} ({task.type.value} {str(task.id)[:8]})"

    async def do(self, core: Chorus, task: TaskView) -> str:
        """Answer (or skip) one task; returns what was done."""
        uid, rng = self.user.id, self.rng
        if rng.random() < 0.03:
            await core.skip_task(uid, task.id)
            return "skipped"
        if task.kind == "write":
            await core.submit_reply(uid, task.id, "buy cheap pills now " + self.text(task) if self.spammer else self.text(task))
        elif task.kind == "rank":
            if rng.random() < 0.02:
                await core.submit_ranking(uid, task.id, None)
            else:
                # Volunteers broadly agree (shorter replies first here) with some personal noise.
                order = sorted(task.candidates, key=lambda c: len(c.text) + rng.gauss(0, 15))
                await core.submit_ranking(uid, task.id, [c.id for c in order])
        else:
            target = task.target
            spam = target is not None and target.text.startswith("buy cheap pills")
            values: dict[str, float] = {"spam": 1.0 if (spam or self.spammer) and rng.random() < 0.9 else 0.0}
            for spec in task.labels:
                if spec.kind == "likert":
                    values[spec.name] = rng.choice((0.0, 0.25, 0.5, 0.75, 1.0))
                elif spec.name not in values and spec.kind == "yes_no":
                    values[spec.name] = 0.0
            await core.submit_labels(uid, task.id, values)
            if target is not None and target.author_id != uid and rng.random() < 0.1:
                await core.react(uid, target.id, rng.choice(("+1", "-1", "heart_eyes")))
        return task.type.value


async def simulate(
    core: Chorus,
    *,
    users: int,
    tasks: int,
    seed: int = 0,
    langs: dict[str, float] | None = None,
    concurrency: int = 1,
    spammers: float = 0.05,
    progress: Callable[[int, int], None] | None = None,
    latencies: list[float] | None = None,
) -> dict:
    """Run `tasks` task requests by `users` volunteers; a JSON-ready summary of what happened.

    `latencies`, when given, receives every step's seconds (to merge runs of several processes).
    """
    if users < 1 or tasks < 0 or concurrency < 1:
        raise ValueError("--users and --concurrency must be at least 1, --tasks at least 0")
    rng = random.Random(seed)
    langs = langs or {"en": 1.0}
    names, weights = list(langs), list(langs.values())
    crowd = []
    run = uuid.UUID(int=rng.getrandbits(128)).hex[:8]  # a fresh crowd per run, even on the same database
    for i in range(users):
        lang = rng.choices(names, weights)[0]
        user = await core.user_from_identity("sim", f"{seed}-{run}-{i}", display_name=f"sim{i}", lang=lang)
        crowd.append(Volunteer(user, random.Random(rng.getrandbits(64)), rng.random() < spammers))
    done: Counter = Counter()
    errors: Counter = Counter()
    latencies = [] if latencies is None else latencies
    counter = iter(range(tasks))
    started = time.perf_counter()

    async def worker() -> None:
        for n in counter:
            v = rng.choice(crowd)
            t0 = time.perf_counter()
            try:
                task = await core.request_task(v.user.id)
                done[await v.do(core, task)] += 1
            except NoTaskAvailable:
                done["no_task_available"] += 1
            except ChorusError as exc:  # expected refusals (a slot taken meanwhile, ...): counted, not fatal
                errors[exc.code] += 1
            except Exception as exc:  # a fault in the core (a deadlock, ...): reported, and the load goes on
                errors[f"internal:{type(exc).__name__}"] += 1
            latencies.append(time.perf_counter() - t0)
            if progress:
                progress(n + 1, tasks)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    async with core.db.read() as s:
        states = dict((await s.execute(select(Tree.state, func.count()).group_by(Tree.state))).all())
        messages = await s.scalar(select(func.count()).select_from(Message))
    latencies.sort()

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else None

    return {
        "users": users, "tasks": tasks, "seed": seed, "langs": langs, "concurrency": concurrency,
        "done": dict(sorted(done.items())), "errors": dict(sorted(errors.items())),
        "trees": dict(sorted(states.items())), "messages": messages,
        "seconds": round(elapsed, 2), "tasks_per_second": round(tasks / elapsed, 1) if elapsed else None,
        "latency_ms": {"p50": pct(0.5), "p99": pct(0.99)},
        "invariant_violations": await check_invariants(core),
    }  # fmt: skip


async def check_invariants(core: Chorus) -> list[str]:
    """Every broken rule found in the database, in words (empty when all hold).

    Roles alternate and depths follow parents; sibling sets and trees grown in Chorus keep their
    limits; nobody ranks a set holding their own reply or ranks a set twice; in exported trees the
    ranks of each ranked sibling set are a permutation; nobody holds more open tasks than allowed.
    """
    t = core.settings.tree
    bad: list[str] = []
    async with core.db.read() as s:
        rows = (await s.execute(select(
            Message.id, Message.tree_id, Message.parent_id, Message.role, Message.depth, Message.user_id,
            Message.review_result, Message.deleted, Message.rank,
        ))).all()  # fmt: skip
        trees = dict((await s.execute(select(Tree.id, Tree.state))).all())
        native = set((await s.scalars(select(Tree.id).where(Tree.origin == "chorus"))).all())
        ballots = (await s.execute(select(Ballot.parent_id, Ballot.user_id, Ballot.not_rankable))).all()
        open_tasks = (await s.execute(
            select(Task.user_id, func.count()).where(Task.state == TaskState.pending).group_by(Task.user_id)
        )).all()  # fmt: skip
    by_id = {r.id: r for r in rows}
    live_children: dict = defaultdict(list)
    tree_size: Counter = Counter()
    children: dict = defaultdict(list)
    for m in rows:
        if m.parent_id is None:
            if m.role != "prompter" or m.depth != 0:
                bad.append(f"prompt {m.id} is not a prompter message at depth 0")
            continue
        parent = by_id.get(m.parent_id)
        children[m.parent_id].append(m)
        if parent is None:
            bad.append(f"message {m.id} has a missing parent")
            continue
        if m.role == parent.role:
            bad.append(f"message {m.id}: roles do not alternate ({parent.role} then {m.role})")
        if m.depth != parent.depth + 1 or m.tree_id != parent.tree_id:
            bad.append(f"message {m.id}: depth or tree does not follow its parent")
        if m.tree_id in native and m.depth > t.max_tree_depth:
            bad.append(f"message {m.id} is deeper than {t.max_tree_depth}")
        if not m.deleted and m.review_result is not False:
            live_children[m.parent_id].append(m)
    for m in rows:
        if m.tree_id in native and not m.deleted and m.review_result is not False:
            tree_size[m.tree_id] += 1
    for parent_id, kids in live_children.items():
        parent = by_id[parent_id]
        cap = t.max_prompter_children if parent.role == "assistant" else t.max_children
        if parent.tree_id in native and len(kids) > cap:
            bad.append(f"message {parent_id} has {len(kids)} replies, over its limit of {cap}")
    for tree_id, n in tree_size.items():
        if n > t.goal_tree_size:
            bad.append(f"tree {tree_id} has {n} messages, over its goal size of {t.goal_tree_size}")
    seen = set()
    for parent_id, user_id, _ in ballots:
        if (parent_id, user_id) in seen:
            bad.append(f"user {user_id} ranked the replies to {parent_id} twice")
        seen.add((parent_id, user_id))
        if user_id is not None and any(k.user_id == user_id for k in children.get(parent_id, [])):
            bad.append(f"user {user_id} ranked a set holding their own reply (parent {parent_id})")
    for parent_id, kids in children.items():
        parent = by_id.get(parent_id)
        if parent is None or trees.get(parent.tree_id) != "ready_for_export" or parent.tree_id not in native:
            continue
        ranks = sorted(k.rank for k in kids if k.review_result and not k.deleted and k.rank is not None)
        if ranks and ranks != list(range(len(ranks))):
            bad.append(f"the ranks under {parent_id} are {ranks}, not a permutation")
    for user_id, n in open_tasks:
        if n > core.settings.task.max_pending_per_user:
            bad.append(f"user {user_id} holds {n} open tasks, over the limit")
    return bad
