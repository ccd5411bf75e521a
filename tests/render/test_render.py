"""Shared presentation: splitting and paging never cut text and always fit the limit."""

from __future__ import annotations

import html

from hypothesis import given, settings
from hypothesis import strategies as st

from bots.render import escape_discord, escape_telegram, paginate, split_text

texts = st.text(alphabet=st.sampled_from(list("ab *_<>&\n") + ["é", "😀"]), max_size=3000)


@settings(max_examples=200, deadline=None)
@given(texts, st.integers(min_value=1, max_value=500))
def test_split_text_fits_and_loses_only_break_whitespace(text, limit):
    chunks = split_text(text, limit)
    assert all(len(c) <= limit for c in chunks)
    # Only the whitespace at a break may go: the words come back in order.
    assert "".join(chunks).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")


def discordish(header: str, body: str) -> str:
    return f"**{escape_discord(header)}**\n" + "\n".join(f"> {escape_discord(line)}" for line in body.split("\n"))


def telegramish(header: str, body: str) -> str:
    return f"<b>{escape_telegram(header)}</b>\n{escape_telegram(body)}"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["1. User", "2. Assistant", "Reply A"]), texts), min_size=1, max_size=4))
def test_pages_fit_even_when_escaping_lengthens_the_text(blocks):
    for fmt, limit in ((discordish, 400), (telegramish, 300)):
        pages = paginate(blocks, limit, fmt)
        assert all(len(p) <= limit for p in pages)


def test_long_reply_is_split_into_numbered_parts_and_nothing_is_cut():
    body = " ".join(f"word{i} <&>" for i in range(1500))
    pages = paginate([("2. Assistant", body)], 1000, telegramish)
    assert len(pages) > 10 and all(len(p) <= 1000 for p in pages)
    assert "(part 1/" in pages[0]
    rebuilt = " ".join(html.unescape(p.split("</b>\n", 1)[1]) for page in pages for p in page.split("\n\n"))
    assert rebuilt.split() == body.split()
