"""Ranked pairs: worked examples, cycles, ties, and properties any ballots must satisfy."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from core.consensus import common_candidates, consensus, kendalls_w, ranked_pairs

M, N, C, K = "Memphis", "Nashville", "Chattanooga", "Knoxville"


def tennessee():
    return [[M, N, C, K]] * 42 + [[N, C, K, M]] * 26 + [[C, K, N, M]] * 15 + [[K, C, N, M]] * 17


def test_tennessee_capital():
    result = consensus(tennessee())
    assert result.order == [N, C, K, M]
    assert not result.contested
    assert result.ballots == 100


def test_single_ballot_is_its_own_consensus():
    result = consensus([["b", "a", "c"]])
    assert result.order == ["b", "a", "c"]
    assert not result.contested
    assert result.agreement is None


def test_unanimous_ballots_agree_fully():
    result = consensus([["x", "y", "z"]] * 4)
    assert result.order == ["x", "y", "z"]
    assert result.agreement == 1.0


def test_condorcet_cycle_locks_strongest_pairs():
    # a>b 7-2, b>c 6-3, c>a 5-4: the weakest majority (c>a) is the one dropped.
    ballots = [["a", "b", "c"]] * 4 + [["b", "c", "a"]] * 2 + [["c", "a", "b"]] * 3
    assert ranked_pairs(ballots) == ["a", "b", "c"]


def test_perfect_cycle_is_contested_and_deterministic():
    ballots = [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    first = consensus(ballots)
    assert first.contested
    assert sorted(first.order) == ["a", "b", "c"]
    # Same ballots in another order: same result (the tie-break does not depend on ballot order).
    assert consensus(list(reversed(ballots))).order == first.order


def test_two_way_tie_is_contested_and_broken_by_mean_position_then_id():
    result = consensus([["b", "a"], ["a", "b"]])
    assert result.contested
    assert result.order == ["a", "b"]  # equal mean positions: smaller id first


def test_ballots_restricted_to_common_candidates():
    ballots = [["a", "x", "b"], ["b", "a"], ["a", "b", "y"]]
    assert common_candidates(ballots) == ["a", "b"]
    assert ranked_pairs(ballots) == ["a", "b"]


def test_no_ballots():
    assert ranked_pairs([]) == []


def test_kendalls_w_extremes():
    assert kendalls_w([["a", "b", "c"], ["c", "b", "a"]]) == 0.0
    assert kendalls_w([["a", "b", "c"], ["a", "b", "c"]]) == 1.0


ballot_sets = st.integers(min_value=2, max_value=5).flatmap(
    lambda n: st.lists(st.permutations(list("abcde"[:n])), min_size=1, max_size=9)
)


@settings(max_examples=200, deadline=None)
@given(ballot_sets)
def test_result_is_a_permutation_of_the_candidates(ballots):
    assert sorted(ranked_pairs(ballots)) == sorted(ballots[0])


@settings(max_examples=200, deadline=None)
@given(ballot_sets)
def test_condorcet_winner_wins(ballots):
    cands = ballots[0]
    for w in cands:
        if all(sum(b.index(w) < b.index(o) for b in ballots) * 2 > len(ballots) for o in cands if o != w):
            assert ranked_pairs(ballots)[0] == w


@settings(max_examples=200, deadline=None)
@given(ballot_sets)
def test_deterministic_under_ballot_order(ballots):
    expected = consensus(ballots)
    for perm in itertools.islice(itertools.permutations(ballots), 5):
        assert consensus(list(perm)).order == expected.order


@settings(max_examples=200, deadline=None)
@given(ballot_sets)
def test_uncontested_when_every_pair_has_a_strict_majority_and_no_cycle(ballots):
    result = consensus(ballots)
    if not result.contested:
        # An uncontested order agrees with every pairwise majority it could honour (adjacent pairs).
        for a, b in zip(result.order, result.order[1:]):
            assert sum(x.index(a) < x.index(b) for x in ballots) * 2 >= len(ballots)
    assert result.agreement is None or 0.0 <= result.agreement <= 1.0
