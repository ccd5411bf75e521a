"""Ranking consensus by ranked pairs (Tideman), with a documented tie-break and an agreement figure.

Tie-break, applied whenever the ballots alone do not decide: the candidate with the better mean
position across the ballots goes first, then the smaller id (as a string). A result that depended
on it is reported as contested, so a tie is never passed off as a preference.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TypeVar

C = TypeVar("C", bound=Hashable)


@dataclass(frozen=True)
class Consensus:
    """The order of one sibling set, best first, and how it was reached."""

    order: list
    contested: bool
    agreement: float | None  # Kendall's W in [0, 1]; None with fewer than two ballots or candidates
    ballots: int


def common_candidates(ballots: Sequence[Sequence[C]]) -> list[C]:
    """The candidates every ballot contains, in the first ballot's order."""
    if not ballots:
        return []
    shared = set(ballots[0]).intersection(*map(set, ballots[1:]))
    return [c for c in ballots[0] if c in shared]


def _restrict(ballots: Sequence[Sequence[C]], candidates: list[C]) -> list[list[C]]:
    keep = set(candidates)
    return [[c for c in b if c in keep] for b in ballots]


def _tie_key(ballots: list[list[C]]):
    positions: dict = {}
    for b in ballots:
        for i, c in enumerate(b):
            positions.setdefault(c, []).append(i)
    return lambda c: (sum(positions[c]) / len(positions[c]), str(c))


def _reaches(graph: dict, start, goal) -> bool:
    stack, seen = [start], set()
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(graph[node])
    return False


def consensus(ballots: Sequence[Sequence[C]]) -> Consensus:
    """Ranked-pairs consensus of best-first ballots, restricted to the candidates all ballots share."""
    candidates = common_candidates(ballots)
    ballots = _restrict(ballots, candidates)
    if not candidates:
        return Consensus([], False, None, len(ballots))
    tie_key = _tie_key(ballots)
    index = {c: i for i, c in enumerate(candidates)}

    # prefer[a][b]: how many ballots put a above b.
    prefer = {a: dict.fromkeys(candidates, 0) for a in candidates}
    for b in ballots:
        for i, a in enumerate(b):
            for c in b[i + 1 :]:
                prefer[a][c] += 1

    # Majorities, strongest first: more winning votes, then fewer losing votes (a wider margin).
    majorities = []
    for a, b in combinations(candidates, 2):
        if prefer[a][b] != prefer[b][a]:
            win, lose = (a, b) if prefer[a][b] > prefer[b][a] else (b, a)
            majorities.append((win, lose))

    def strength(pair):
        return (-prefer[pair[0]][pair[1]], prefer[pair[1]][pair[0]])

    majorities.sort(key=lambda p: (strength(p), tie_key(p[0]), tie_key(p[1])))

    contested = False
    locked: dict = {c: [] for c in candidates}
    for i, (win, lose) in enumerate(majorities):
        if _reaches(locked, lose, win):
            # Skipping a pair is the method; it depends on the tie-break only if an equally
            # strong pair was locked in the same round.
            if any(strength(p) == strength((win, lose)) for j, p in enumerate(majorities) if j != i):
                contested = True
            continue
        locked[win].append(lose)

    # Order: repeatedly take the candidate nobody locked above it; several at once is a tie.
    beaten = {c: 0 for c in candidates}
    for win in locked:
        for lose in locked[win]:
            beaten[lose] += 1
    order: list = []
    remaining = set(candidates)
    while remaining:
        sources = [c for c in remaining if beaten[c] == 0]
        if len(sources) > 1:
            contested = True
        best = min(sources, key=lambda c: (tie_key(c), index[c]))
        order.append(best)
        remaining.discard(best)
        for lose in locked[best]:
            beaten[lose] -= 1
    return Consensus(order, contested, kendalls_w(ballots), len(ballots))


def ranked_pairs(ballots: Sequence[Sequence[C]]) -> list[C]:
    """The consensus order of best-first ballots by ranked pairs, best first."""
    return consensus(ballots).order


def kendalls_w(ballots: Sequence[Sequence[C]]) -> float | None:
    """Kendall's coefficient of concordance of complete ballots over the same candidates."""
    m = len(ballots)
    n = len(ballots[0]) if ballots else 0
    if m < 2 or n < 2:
        return None
    rank_sums: dict = {}
    for b in ballots:
        for i, c in enumerate(b):
            rank_sums[c] = rank_sums.get(c, 0) + i + 1
    mean = m * (n + 1) / 2
    s = sum((r - mean) ** 2 for r in rank_sums.values())
    return 12 * s / (m * m * (n**3 - n))
