"""The task engine: which task a person gets next, chosen by bounded, indexed queries.

Candidate queries never load every candidate: each filters in SQL and returns a handful of rows,
from which one is drawn. A reply task reserves its parent's slot under the tree's row lock, so
concurrent requests cannot hand out more slots than the parent and the tree have.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from functools import cache

from sqlalchemy import Integer, and_, bindparam, case, exists, false, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import trees
from core.config import Settings
from core.errors import NoTaskAvailable, TooManyPendingTasks
from core.labels import labels_for
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
from core.sql import ROW_LOCK

# Open-Assistant's weights for a "random" request, among the kinds that have work.
RANDOM_WEIGHTS: dict[str, float] = {"rank": 10, "label_reply": 5, "label_prompt": 5, "reply": 2, "initial_prompt": 0.01}

FAMILY_TYPES: dict[str, tuple[TaskType, ...]] = {
    "rank": (TaskType.rank_assistant_replies, TaskType.rank_prompter_replies),
    "label_reply": (TaskType.label_assistant_reply, TaskType.label_prompter_reply),
    "label_prompt": (TaskType.label_initial_prompt,),
    "reply": (TaskType.assistant_reply, TaskType.prompter_reply),
    "initial_prompt": (TaskType.initial_prompt,),
}
SKIP_EMOJI = {"write": "_skip_reply", "rank": "_skip_ranking", "label": "_skip_labeling"}
SAMPLE = 8  # candidates drawn from per query: enough to spread concurrent users, never all rows
TREE_SAMPLE = 20  # growing trees sampled per reply-candidate query
RANK_TREES = 200  # oldest trees per ranking state whose sibling sets a ranking request looks at
CHILD = trees.CHILD


# The candidate statements are built once and run with bound values: building a statement of this
# size costs more Python than SQLite spends running it, and every request runs several.
USER_ID = bindparam("user_id")
LANG = bindparam("lang")
NOW = bindparam("now")


def _limit(name: str):
    return bindparam(name, type_=Integer)  # typed: PostgreSQL cannot infer a type inside CASE


def awaiting_review(tree_state: TreeState):
    """Messages in the request's language awaiting review, in trees in the given state.

    Written so the planner starts from the small partial index ix_messages_under_review
    (lang, created_at): the tree's state is a primary-key look-up per candidate, which SQLite
    cannot drive from, where a join let it walk every message of the language's trees.
    """
    tree_ok = exists().where(Tree.id == Message.tree_id, Tree.state == tree_state)
    return and_(Message.lang == LANG, Message.review_result.is_(None), Message.deleted == false(), tree_ok)


def _served_before(types: tuple[TaskType, ...], m=Message):
    """The user already had a task of these types on this message (answered, skipped or pending)."""
    return exists().where(Task.user_id == USER_ID, Task.message_id == m.id, Task.type.in_([t.value for t in types]))


def _not_author(m=Message):
    return or_(m.user_id.is_(None), m.user_id != USER_ID)


@cache
def _pending_query():
    return (
        select(Task)
        .where(Task.user_id == USER_ID, Task.state == TaskState.pending, Task.expires_at > NOW)
        .order_by(Task.created_at.desc())
    )


async def pending_tasks(session: AsyncSession, user_id: uuid.UUID, now: dt.datetime) -> list[Task]:
    """The user's tasks still open, newest first."""
    return list((await session.scalars(_pending_query(), {"user_id": user_id, "now": now})).all())


@cache
def _families_query():
    """One row of four indexed EXISTS: which task kinds have any work in the language."""

    def under_review(state: TreeState, *where):
        return exists(select(Message.id).where(awaiting_review(state), *where))

    return select(
        exists().where(Tree.state.in_(trees.RANKING_STATES), Tree.lang == LANG),
        under_review(TreeState.growing, Message.depth > 0),
        under_review(TreeState.initial_prompt_review, Message.depth == 0),
        exists().where(Tree.state == TreeState.growing, Tree.lang == LANG),
    )


@cache
def _waiting_prompts_query():
    waiting = [TreeState.prompt_lottery_waiting, TreeState.initial_prompt_review]
    return select(func.count()).select_from(Tree).where(Tree.lang == LANG, Tree.state.in_(waiting))


@cache
def _reply_query(roles: tuple[str, ...], lonely: bool):
    """Parents in a random sample of growing trees with a free reply slot for this user."""
    child = CHILD
    live_children = (
        select(func.count()).select_from(child).where(child.parent_id == Message.id, trees.live(child)).scalar_subquery()
    )
    reserved = (
        select(func.count())
        .select_from(Task)
        .where(Task.message_id == Message.id, trees.active_reservations(NOW))
        .scalar_subquery()
    )
    too_many_skips = exists().where(
        EmojiCount.message_id == Message.id, EmojiCount.emoji == "_skip_reply", EmojiCount.count >= _limit("max_skips")
    )
    # A random handful of the language's growing trees, drawn through the (state, lang) index:
    # the per-message capacity checks below then run on a few dozen rows, not on every tree.
    sample = (
        select(Tree.id).where(Tree.state == TreeState.growing, Tree.lang == LANG).order_by(func.random()).limit(TREE_SAMPLE)
    )
    # Per row: prompter parents take max_children replies, assistant parents max_prompter_children.
    cap = case((Message.role == "assistant", _limit("max_prompter_children")), else_=_limit("max_children"))
    q = select(Message).where(
        Message.tree_id.in_(sample),
        Message.role.in_(roles),
        trees.accepted(),
        Message.depth < _limit("max_depth"),
        _not_author(),
        not_(_served_before(FAMILY_TYPES["reply"])),
        not_(too_many_skips),
        live_children + reserved < cap,
    )
    if lonely:
        q = q.where(live_children == 1)  # a prompt with one answer is preferred for its second one
    return q.order_by(func.random()).limit(SAMPLE)


@cache
def _label_query(type_: TaskType):
    """The oldest messages awaiting review that this user may label with this task type."""
    labelled = exists().where(Label.message_id == Message.id, Label.user_id == USER_ID)
    if type_ == TaskType.label_initial_prompt:
        where = [awaiting_review(TreeState.initial_prompt_review), Message.depth == 0]
    else:
        role = "assistant" if type_ == TaskType.label_assistant_reply else "prompter"
        where = [awaiting_review(TreeState.growing), Message.depth > 0, Message.role == role]
    return (
        select(Message)
        .where(*where, _not_author(), not_(labelled), not_(_served_before((type_,))))
        .order_by(Message.created_at)  # oldest first: reviews finish and trees move on
        .limit(SAMPLE)
    )


@cache
def _rank_query(roles: tuple[str, ...], state: str):
    """Sibling sets this user may rank, in the oldest RANK_TREES trees of a ranking state.

    The per-set checks run on those trees only, found through the (state, lang, updated_at)
    index, in one statement: a language whose ranking trees have nothing left to rank (an
    imported backlog) costs one query per state, not one per tree.
    """
    child = CHILD
    accepted_children = (
        select(func.count())
        .select_from(child)
        .where(child.parent_id == Message.id, child.role.in_(roles), trees.accepted(child))
        .scalar_subquery()
    )
    ballots = select(func.count()).select_from(Ballot).where(Ballot.parent_id == Message.id).scalar_subquery()
    own_child = exists().where(child.parent_id == Message.id, child.user_id == USER_ID)
    voted = exists().where(Ballot.parent_id == Message.id, Ballot.user_id == USER_ID)
    oldest = (
        select(Tree.id, Tree.updated_at)
        .where(Tree.state == state, Tree.lang == LANG)
        .order_by(Tree.updated_at)
        .limit(RANK_TREES)
        .subquery()
    )
    return (
        select(Message)
        .join(oldest, Message.tree_id == oldest.c.id)
        .where(
            Message.deleted == false(),
            accepted_children >= 2,
            ballots < _limit("ballots_needed"),
            not_(own_child),
            not_(voted),
            not_(_served_before(FAMILY_TYPES["rank"])),
        )
        .order_by(oldest.c.updated_at)
        .limit(SAMPLE)
    )


@cache
def _siblings_query(roles: tuple[str, ...]):
    return select(Message).where(Message.parent_id == bindparam("parent_id"), Message.role.in_(roles), trees.accepted())


class TaskPicker:
    """Finds and creates the next task for one user in one language, inside a transaction."""

    def __init__(self, session: AsyncSession, settings: Settings, rng: random.Random, user: User, lang: str):
        self.s, self.settings, self.rng, self.user, self.lang = session, settings, rng, user, lang
        self.now = utcnow()
        t = settings.tree
        # The values of the prebuilt statements' bind parameters (extra keys are ignored).
        self.params = {
            "user_id": user.id, "lang": lang, "now": self.now, "max_depth": t.max_tree_depth,
            "max_skips": t.auto_mod_reply_skips, "max_children": t.max_children,
            "max_prompter_children": t.max_prompter_children, "ballots_needed": t.ballots_per_sibling_set,
        }  # fmt: skip

    def _new_task(self, type_: TaskType, *, message: Message | None = None, **fields) -> Task:
        task = Task(
            id=uuid.uuid4(),
            type=type_.value,
            user_id=self.user.id,
            lang=self.lang,
            tree_id=message.tree_id if message else None,
            message_id=message.id if message else None,
            created_at=self.now,
            expires_at=self.now + dt.timedelta(hours=self.settings.task.validity_hours),
            ui={},
            **{"payload": {}, **fields},
        )
        self.s.add(task)
        return task

    async def pick(self, type_: TaskType | None, pending: list[Task], *, housekeeping: bool) -> Task:
        """Create the next task, of a given type or drawn by weight among the kinds that have work.

        `pending` is the user's open tasks. Housekeeping (the prompt lottery, stale trees) runs when
        asked, and always before giving up, so a request never fails for want of it.
        """
        if len(pending) >= self.settings.task.max_pending_per_user:
            raise TooManyPendingTasks(
                f"You have {len(pending)} unfinished tasks, the most allowed. Finish or skip one first."
            )
        if housekeeping:
            await self.housekeeping()
        task = await self._draw(type_)
        if task is None and not housekeeping:
            await self.housekeeping()
            task = await self._draw(type_)
        if task is None:
            raise NoTaskAvailable()
        return task

    async def housekeeping(self) -> None:
        """Activate waiting prompts where trees have room, and move on trees that went stale."""
        await trees.run_lottery(self.s, self.settings, self.lang, self.rng)
        await trees.sweep_stale(self.s, self.settings, self.lang)

    async def _families_with_work(self) -> list[str]:
        """The task kinds that have any work in this language, found in one query of indexed EXISTS.

        A random request draws only among these, so it does not pay one empty candidate query per kind.
        """
        row = (await self.s.execute(_families_query(), self.params)).one()
        kinds = [k for k, has in zip(("rank", "label_reply", "label_prompt", "reply"), row, strict=True) if has]
        return [*kinds, "initial_prompt"]

    async def _draw(self, type_: TaskType | None) -> Task | None:
        if type_ is not None:
            families = [next(f for f, ts in FAMILY_TYPES.items() if type_ in ts)]
        else:
            families = await self._families_with_work()
        # Weighted draw without replacement: a family with no work gives way to the next draw.
        while families:
            fam = self.rng.choices(families, [RANDOM_WEIGHTS[f] for f in families])[0]
            task = await getattr(self, f"_try_{fam}")(type_)
            if task is not None:
                return task
            families.remove(fam)
        return None

    async def _try_initial_prompt(self, _type: TaskType | None) -> Task | None:
        waiting = await self.s.scalar(_waiting_prompts_query(), self.params)
        if waiting >= self.settings.tree.max_prompts_waiting_per_lang:
            return None
        return self._new_task(TaskType.initial_prompt)

    async def _try_reply(self, type_: TaskType | None) -> Task | None:
        roles = {TaskType.assistant_reply: ("prompter",), TaskType.prompter_reply: ("assistant",)}.get(
            type_, ("prompter", "assistant")
        )
        queries = []
        if "prompter" in roles and self.rng.random() < self.settings.tree.lonely_child_p:
            queries.append(_reply_query(roles, True))  # ranking needs two answers: finish a pair first
        queries.append(_reply_query(roles, False))
        for q in queries:
            for parent in (await self.s.scalars(q, self.params)).all():
                task = await self._reserve(parent)
                if task is not None:
                    return task
        return None

    async def _reserve(self, parent: Message) -> Task | None:
        """Reserve a reply slot under the tree's lock, re-checking capacity now that we hold it."""
        tree = await self.s.scalar(
            select(Tree).where(Tree.id == parent.tree_id).with_for_update(skip_locked=True, **ROW_LOCK)
        )
        if tree is None:
            return None  # another worker holds this tree right now: try the next candidate
        if not await trees.slot_free(self.s, self.settings, tree, parent, self.now):
            return None
        type_ = TaskType.assistant_reply if parent.role == "prompter" else TaskType.prompter_reply
        until = self.now + dt.timedelta(seconds=self.settings.tree.reply_lock_seconds)
        return self._new_task(type_, message=parent, reserved_until=until)

    async def _try_label_prompt(self, _type: TaskType | None) -> Task | None:
        return await self._try_label(TaskType.label_initial_prompt)

    async def _try_label_reply(self, type_: TaskType | None) -> Task | None:
        types = [type_] if type_ in FAMILY_TYPES["label_reply"] else list(FAMILY_TYPES["label_reply"])
        self.rng.shuffle(types)
        for t in types:
            task = await self._try_label(t)
            if task is not None:
                return task
        return None

    async def _try_label(self, type_: TaskType) -> Task | None:
        candidates = (await self.s.scalars(_label_query(type_), self.params)).all()
        if not candidates:
            return None
        target = self.rng.choice(candidates[:3])
        names = labels_for(type_, self.settings.task.label_mode)
        return self._new_task(type_, message=target, payload={"labels": names, "mode": self.settings.task.label_mode})

    async def _try_rank(self, type_: TaskType | None) -> Task | None:
        roles = ("assistant", "prompter") if self.settings.tree.rank_prompter_replies else ("assistant",)
        if type_ == TaskType.rank_prompter_replies:
            roles = ("prompter",) if self.settings.tree.rank_prompter_replies else ()
        elif type_ == TaskType.rank_assistant_replies:
            roles = ("assistant",)
        if not roles:
            return None
        candidates: list[Message] = []
        for state in trees.RANKING_STATES:  # live ranking before the imported backlog
            candidates = (await self.s.scalars(_rank_query(roles, state), self.params)).all()
            if candidates:
                break
        if not candidates:
            return None
        parent = self.rng.choice(candidates[:3])
        replies = (await self.s.scalars(_siblings_query(roles), {"parent_id": parent.id})).all()
        order = [str(m.id) for m in replies]
        self.rng.shuffle(order)  # shown in random order so position does not bias the ballot
        type_ = TaskType.rank_assistant_replies if replies[0].role == "assistant" else TaskType.rank_prompter_replies
        return self._new_task(type_, message=parent, payload={"candidates": order})
