"""Plain, immutable results the service API hands to front ends (no ORM objects leak out)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from core.labels import CATALOGUE, LabelSpec
from core.models import Message, Task, TaskType, User


@dataclass(frozen=True)
class UserView:
    id: uuid.UUID
    display_name: str
    role: str
    lang: str
    banned: bool

    @classmethod
    def of(cls, u: User) -> UserView:
        return cls(u.id, u.display_name, u.role, u.lang, u.banned)


@dataclass(frozen=True)
class MessageView:
    id: uuid.UUID
    tree_id: uuid.UUID
    parent_id: uuid.UUID | None
    role: str
    text: str
    lang: str
    depth: int
    author_id: uuid.UUID | None
    synthetic: bool = False
    model_name: str | None = None
    rank: int | None = None
    review_result: bool | None = None
    deleted: bool = False
    edited: bool = False

    @classmethod
    def of(cls, m: Message) -> MessageView:
        return cls(
            m.id, m.tree_id, m.parent_id, m.role, m.text, m.lang, m.depth, m.user_id,
            m.synthetic, m.model_name, m.rank, m.review_result, m.deleted, m.edited,
        )  # fmt: skip


INSTRUCTIONS = {
    TaskType.initial_prompt: "Write a first message to the assistant: a question or a request someone might really have.",
    TaskType.prompter_reply: "Reply as the user to the assistant's last message.",
    TaskType.assistant_reply: "Reply as the assistant to the user's last message: helpful, honest and harmless.",
    TaskType.rank_assistant_replies: "Rank the assistant's replies from best to worst.",
    TaskType.rank_prompter_replies: "Rank the user's replies from best to worst.",
    TaskType.label_initial_prompt: "Label this first message of a conversation.",
    TaskType.label_prompter_reply: "Label the user's last message.",
    TaskType.label_assistant_reply: "Label the assistant's last message.",
}


@dataclass(frozen=True)
class TaskView:
    """Everything a front end needs to show a task, rebuilt from the database at any time."""

    id: uuid.UUID
    type: TaskType
    lang: str
    expires_at: dt.datetime
    # The conversation so far, root first; for a label task it ends with the message to label.
    conversation: list[MessageView] = field(default_factory=list)
    # Ranking: the replies to order, in the order shown.
    candidates: list[MessageView] = field(default_factory=list)
    # Labels: the labels asked, and whether it is the full or the simple set.
    labels: list[LabelSpec] = field(default_factory=list)
    label_mode: str = "full"
    draft: str | None = None
    ui: dict = field(default_factory=dict)
    state: str = "pending"

    @property
    def kind(self) -> str:
        """'write', 'rank' or 'label'."""
        return self.type.kind

    @property
    def instruction(self) -> str:
        """What the person is asked to do, in one sentence."""
        return INSTRUCTIONS[self.type]

    @property
    def target(self) -> MessageView | None:
        """The message a label task is about, or the parent a reply or ranking task is about."""
        return self.conversation[-1] if self.conversation else None

    @classmethod
    def of(cls, task: Task, conversation: list[Message], candidates: list[Message]) -> TaskView:
        payload = task.payload or {}
        return cls(
            id=task.id,
            type=TaskType(task.type),
            lang=task.lang,
            expires_at=task.expires_at,
            conversation=[MessageView.of(m) for m in conversation],
            candidates=[MessageView.of(m) for m in candidates],
            labels=[CATALOGUE[n] for n in payload.get("labels", [])],
            label_mode=payload.get("mode", "full"),
            draft=task.draft,
            ui=dict(task.ui or {}),
            state=task.state,
        )


@dataclass(frozen=True)
class SubmitResult:
    """What a submission stored, in words and ids."""

    task_id: uuid.UUID
    message: str
    created_message_id: uuid.UUID | None = None
    tree_state: str | None = None
