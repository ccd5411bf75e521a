"""Open-Assistant's points formula as data, the troll score, and the levels points unlock."""

from __future__ import annotations

from dataclasses import dataclass

# (counter in user_activity, points per unit, divisor): points = weight * (sum // divisor).
# The divisor is OA's ⌊0.1·prompts⌋: a prompt is cheap to write, so ten make a point.
POINT_RULES: tuple[tuple[str, int, int], ...] = (
    ("prompts", 1, 10),
    ("assistant_replies", 4, 1),
    ("prompter_replies", 1, 1),
    ("labels_simple", 1, 1),
    ("labels_full", 2, 1),
    ("rankings", 1, 1),
    ("accepted_prompts", 1, 10),
    ("accepted_assistant_replies", 4, 1),
    ("accepted_prompter_replies", 1, 1),
    ("ranked_first", 9, 1),
    ("ranked_second", 3, 1),
    ("ranked_third", 1, 1),
)

# Troll score: 3·red flags − upvotes + downvotes + spam prompts + flag labels received.
TROLL_RULES: tuple[tuple[str, int], ...] = (
    ("red_flags_received", 3),
    ("upvotes_received", -1),
    ("downvotes_received", 1),
    ("spam_prompts", 1),
    ("flag_labels_received", 1),
)

# What each counter is called when points are explained to a person.
COUNTER_WORDS: dict[str, tuple[str, str]] = {
    "prompts": ("prompt written", "prompts written"),
    "assistant_replies": ("assistant reply", "assistant replies"),
    "prompter_replies": ("user reply", "user replies"),
    "labels_simple": ("simple label set", "simple label sets"),
    "labels_full": ("full label set", "full label sets"),
    "rankings": ("ranking", "rankings"),
    "accepted_prompts": ("accepted prompt", "accepted prompts"),
    "accepted_assistant_replies": ("accepted assistant reply", "accepted assistant replies"),
    "accepted_prompter_replies": ("accepted user reply", "accepted user replies"),
    "ranked_first": ("reply ranked first", "replies ranked first"),
    "ranked_second": ("reply ranked second", "replies ranked second"),
    "ranked_third": ("reply ranked third", "replies ranked third"),
}


@dataclass(frozen=True)
class Level:
    """A level: its number, its name and the points it starts at."""

    number: int
    name: str
    min_points: int


# Thresholds grow roughly geometrically, so a newcomer levels up in a first session and a regular
# still has something to reach after months.
LEVELS: tuple[Level, ...] = (
    Level(0, "Newcomer", 0),
    Level(1, "Contributor", 10),
    Level(2, "Helper", 50),
    Level(3, "Regular", 150),
    Level(4, "Trusted", 400),
    Level(5, "Expert", 1000),
    Level(6, "Veteran", 2500),
    Level(7, "Luminary", 6000),
)


def points_breakdown(counts: dict[str, int]) -> dict[str, int]:
    """Points earned from each counter (counters that earned nothing are left out)."""
    out = {}
    for name, weight, divisor in POINT_RULES:
        pts = weight * (int(counts.get(name, 0)) // divisor)
        if pts:
            out[name] = pts
    return out


def total_points(counts: dict[str, int]) -> int:
    """OA's leaderboard score of a set of counters."""
    return sum(points_breakdown(counts).values())


def troll_score(counts: dict[str, int]) -> int:
    """OA's troll score of a set of counters: higher is more suspicious."""
    return sum(weight * int(counts.get(name, 0)) for name, weight in TROLL_RULES)


def level_for(points: int) -> tuple[Level, int | None]:
    """The level reached with these points, and the points the next level starts at (None at the top)."""
    current = LEVELS[0]
    for level in LEVELS:
        if points >= level.min_points:
            current = level
    following = [lv.min_points for lv in LEVELS if lv.min_points > points]
    return current, (following[0] if following else None)
