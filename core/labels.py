"""The label catalogue (Open-Assistant's), which labels each task asks for, and validation."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import InvalidLabels
from core.models import TaskType


@dataclass(frozen=True)
class LabelSpec:
    """One label: its name, its widget kind and the question a person answers."""

    name: str
    kind: str  # "yes_no" (0 or 1), "flag" (0 or 1, off by default), "likert" (0..1 in 5 steps)
    question: str


CATALOGUE: dict[str, LabelSpec] = {
    s.name: s
    for s in [
        LabelSpec("spam", "yes_no", "Is this spam or off-topic (not a serious contribution)?"),
        LabelSpec("fails_task", "yes_no", "Does the reply fail to do what was asked?"),
        LabelSpec("lang_mismatch", "flag", "Wrong language"),
        LabelSpec("pii", "flag", "Contains personal information"),
        LabelSpec("not_appropriate", "flag", "Inappropriate for a customer assistant"),
        LabelSpec("hate_speech", "flag", "Hate speech"),
        LabelSpec("sexual_content", "flag", "Sexual content"),
        LabelSpec("moral_judgement", "flag", "Expresses moral judgement"),
        LabelSpec("political_content", "flag", "Political content"),
        LabelSpec("quality", "likert", "Quality: low to high"),
        LabelSpec("toxicity", "likert", "Toxicity: polite to rude"),
        LabelSpec("humor", "likert", "Humor: serious to funny"),
        LabelSpec("helpfulness", "likert", "Helpfulness: unhelpful to helpful"),
        LabelSpec("creativity", "likert", "Creativity: ordinary to creative"),
        LabelSpec("violence", "likert", "Violence: harmless to violent"),
    ]
}

FLAGS = tuple(n for n, s in CATALOGUE.items() if s.kind == "flag")
LIKERT_STEPS = (0.0, 0.25, 0.5, 0.75, 1.0)

_PROMPT_FULL = (
    "spam", "lang_mismatch", "quality", "creativity", "humor", "toxicity", "violence",
    "not_appropriate", "pii", "hate_speech", "sexual_content",
)  # fmt: skip
_ASSISTANT_EXTRA = ("fails_task", "helpfulness")


def labels_for(task_type: TaskType, mode: str) -> list[str]:
    """The label names a label task of this type asks for, in display order."""
    if mode == "simple":
        names = ["spam", "lang_mismatch"]
        if task_type != TaskType.label_initial_prompt:
            names.append("quality")
        return names
    names = list(_PROMPT_FULL)
    if task_type == TaskType.label_assistant_reply:
        names[1:1] = _ASSISTANT_EXTRA
    return names


def validate(values: dict[str, float], asked: list[str]) -> dict[str, float]:
    """Check a label submission against the labels asked; flags left out count as 0."""
    if not isinstance(values, dict):
        raise InvalidLabels("Labels must be given as name: value pairs.")
    unknown = sorted(set(values) - set(asked))
    if unknown:
        raise InvalidLabels(f"The label '{unknown[0]}' is not part of this task.")
    if "spam" not in values:
        raise InvalidLabels("Please answer whether the message is spam: it is required.")
    out: dict[str, float] = {}
    for name in asked:
        if name not in values:
            if CATALOGUE[name].kind == "flag":
                out[name] = 0.0
            continue
        try:
            value = float(values[name])
        except (TypeError, ValueError):
            raise InvalidLabels(f"The value of '{name}' must be a number between 0 and 1.") from None
        if not 0.0 <= value <= 1.0:
            raise InvalidLabels(f"The value of '{name}' must be between 0 and 1.")
        if CATALOGUE[name].kind != "likert" and value not in (0.0, 1.0):
            raise InvalidLabels(f"'{name}' is a yes/no answer: 0 or 1.")
        out[name] = value
    return out
