"""Label values become the stored labels text exactly, whichever way they are rendered."""

from __future__ import annotations

import json
import random

from core.label_means import Texts, parse, text_of


def test_cached_pieces_render_every_value_exactly_including_negative_zero():
    rng = random.Random(1)
    texts = Texts()
    values, expected = [], []
    for message in range(2000):
        means = {}
        for name in rng.sample(["spam", "quality", "pii", "ünï", "x" * 32], rng.randint(1, 5)):
            # Repeats (so the cache is hit), zeros of both signs, and doubles that need all 17 digits.
            means[name] = (rng.choice([0.0, -0.0, 1 / 3, 0.5, rng.random(), 1e-300, 5e-324]), rng.randint(0, 6))
            values += [message, name, *means[name]]
        expected += [message, text_of(means), max(c for _, c in means.values())]
    rows = texts.rows(values)
    assert rows == expected and texts.pieces
    for text in rows[1::3]:
        back = {name: {"value": v, "count": c} for name, (v, c) in parse(text).items()}
        assert text == json.dumps(back, ensure_ascii=False)  # the text json.dumps writes, values to the bit
    assert "-0.0" in "".join(rows[1::3]) and '"value": 0.0' in "".join(rows[1::3])
    assert texts.rows([(7, "spam", -0.0, 1)], flat=False) == [(7, '{"spam": {"value": -0.0, "count": 1}}', 1)]
