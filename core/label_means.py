"""Each message's label means and counts, kept as the JSON text the oasst export writes.

oasst1 carries about a dozen labels on most messages (1.9 million name/value/count triples for
161k messages). Kept as one row per label they were most of an import's writes and of an
export's reads; kept as one row per message, in the format's own text, an import writes what it
read and an export copies what it stored. A labels object an import finds in the usual shape
(CUT) is stored as the file wrote it; any other is written with repr(), the shortest text that
reads back as the same double. Either way a mean survives to the last bit.

A label set submitted here is folded into its message's text under a row lock (`fold`), the
same arithmetic as before in the database: (mean × count + value) / (count + 1).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from itertools import chain, groupby
from operator import itemgetter
from json.encoder import encode_basestring as _q  # the C encoder, ensure_ascii=False

from sqlalchemy.ext.asyncio import AsyncSession

from core.models import LabelMeans
from core.sql import ROW_LOCK

Means = dict[str, tuple[float, int]]  # label name -> (mean, count)
_FIRST = itemgetter(0)


def piece(name: str, value: float, count: int) -> str:
    """One label's `"name": {"value": v, "count": n}`, as json.dumps writes it."""
    return f'{_q(name)}: {{"value": {float(value)!r}, "count": {count}}}'


# A labels object as json.dumps writes it with the default separators, in a line of a file: names
# of 1 to 32 characters with nothing escaped (control characters are invalid JSON in a string),
# values written as floats (an int would read back as an int) of at most a two-digit exponent
# (so finite), counts whole numbers. Such a text is stored as it is (core/oasst_rows.py).
_NUMBER = r"-?(?:0|[1-9]\d*)(?:\.\d+(?:[eE][+-]?\d{1,2})?|[eE][+-]?\d{1,2})"
_ITEM = rf'"[^"\\\x00-\x1f]{{1,32}}": \{{"value": {_NUMBER}, "count": -?(?:0|[1-9]\d*)\}}'
CUT = re.compile(rf'"labels": (\{{{_ITEM}(?:, {_ITEM})*\}})').split  # [before, object, between, ..., after]
_COUNTS = re.compile(r'"count": (-?\d+)\}').findall


def cut_rows(cut: list, flat: bool = True) -> list:
    """(message id, text, sets) for (message id, text) of labels objects that CUT matched."""
    pairs = zip(*[iter(cut)] * 2) if flat else cut
    rows = [(uid, text, max(map(int, _COUNTS(text)))) for uid, text in pairs]
    return list(chain.from_iterable(rows)) if flat else rows


def sets(means: Means) -> int:
    """How many label sets the means hold: the largest count (every set answers spam)."""
    return max((c for _, c in means.values()), default=0)


class Texts:
    """Builds many messages' stored texts from label values, each distinct label piece rendered
    once: a corpus's values are means of a few ratings, so they repeat, and repr() is the cost."""

    def __init__(self, limit: int = 200_000):
        self.pieces: dict[tuple, str] = {}
        self.limit = limit

    def rows(self, values: list, flat: bool = True) -> list:
        """(message id, text, sets) for label values (message id, name, value, count) that come
        grouped by message: flat lists in and out, or tuples in and out."""
        quads = zip(*[iter(values)] * 4) if flat else values
        get, pieces, out = self.pieces.get, self.pieces, []
        for uid, group in groupby(quads, _FIRST):
            texts, top = [], 0
            for _, name, value, count in group:
                key = (name, value, count)
                text = get(key)
                # -0.0 == 0.0 as a key: a negative zero is rendered each time, never cached.
                if text is None or (not value and math.copysign(1.0, value) < 0):
                    text = piece(name, value, count)
                    if len(pieces) < self.limit and (value or math.copysign(1.0, value) > 0):
                        pieces[key] = text
                texts.append(text)
                if count > top:
                    top = count
            row = (uid, "{" + ", ".join(texts) + "}", top)
            if flat:
                out += row
            else:
                out.append(row)
        return out


def text_of(means: Means) -> str:
    """The labels object's JSON text, names in the order given."""
    return "{" + ", ".join([piece(n, v, c) for n, (v, c) in means.items()]) + "}"


def parse(text: str | None) -> Means:
    """The means of a stored text (empty for none)."""
    if not text:
        return {}
    return {name: (float(v["value"]), v["count"]) for name, v in json.loads(text).items()}


async def fold(session: AsyncSession, message_id: uuid.UUID, values: dict[str, float], remove: bool = False) -> None:
    """Add one label set to a message's means, or take it back out (a purged person's labels)."""
    if not values:
        return
    row = await session.get(LabelMeans, message_id, with_for_update=ROW_LOCK, populate_existing=True)
    if row is None and remove:
        return
    means = parse(row.labels if row is not None else None)
    for name, value in values.items():
        mean, count = means.get(name, (0.0, 0))
        if not remove:
            means[name] = ((mean * count + value) / (count + 1), count + 1)
        elif count > 1:
            means[name] = ((mean * count - value) / (count - 1), count - 1)
        else:
            means.pop(name, None)
    if row is None:
        session.add(LabelMeans(message_id=message_id, labels=text_of(means), ratings=sets(means)))
    elif means:
        row.labels, row.ratings = text_of(means), sets(means)
    else:
        await session.delete(row)
