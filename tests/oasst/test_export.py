"""Export filters, formats, raw events and anonymisation."""

from __future__ import annotations

import re

import pytest

from core.errors import InvalidInput
from core.oasst_export import ExportOptions, export
from core.oasst_import import import_file
from core.service import Chorus
from core.simulate import simulate
from tests.conftest import make_settings
from tests.oasst.helpers import ALL, EN_100, OASST2, read_lines, walk

SMALL = dict(
    tree_goal_tree_size=5, tree_reviews_initial_prompt=2, tree_reviews_reply=2, tree_max_tree_depth=2,
    tree_ballots_per_sibling_set=2, tree_max_children=2,
)  # fmt: skip


def _source_nodes(path) -> dict[str, dict]:
    return {n["message_id"]: n for t in read_lines(path) for n in walk(t["prompt"])}


async def test_default_export_is_clean_ready_trees(db, tmp_path):
    await import_file(db, OASST2)
    await import_file(db, EN_100)
    out = tmp_path / "clean.jsonl.gz"
    report = await export(db, out, ExportOptions())
    trees = read_lines(out)
    source = {t["message_tree_id"]: t for t in read_lines(OASST2) + read_lines(EN_100)}
    ready = [t for t in source.values() if t["tree_state"] == "ready_for_export"]
    assert {t["tree_state"] for t in trees} == {"ready_for_export"}
    # Trees whose prompt is synthetic (the en_100 sample has a few) are left out whole.
    assert len(trees) == len([t for t in ready if not t["prompt"]["synthetic"]]) == report.trees
    kept = 0
    for t in trees:
        for n in walk(t["prompt"]):
            kept += 1
            assert not n["deleted"] and n["review_result"] is not False and not n["synthetic"]
    assert kept == report.messages
    # Exactly the clean messages whose whole ancestry is clean are there.
    def clean(n):
        return not n["deleted"] and n["review_result"] is not False and not n["synthetic"]

    expected = 0
    for t in ready:
        stack = [t["prompt"]] if clean(t["prompt"]) else []
        while stack:
            n = stack.pop()
            expected += 1
            stack.extend(r for r in n.get("replies") or [] if clean(r))
    assert kept == expected


async def test_state_lang_and_include_filters(db, tmp_path):
    await import_file(db, OASST2)
    source = read_lines(OASST2)
    out = tmp_path / "growing.jsonl"
    await export(db, out, ExportOptions(state="growing", include_deleted=True, include_spam=True))
    assert len(read_lines(out)) == sum(t["tree_state"] == "growing" for t in source) == 21
    await export(db, out, ExportOptions(**{**ALL, "lang": "es"}))
    got = read_lines(out)
    assert got and len(got) == sum(t["prompt"]["lang"] == "es" for t in source)
    await export(db, out, ExportOptions(state="all", include_deleted=True))
    nodes = [n for t in read_lines(out) for n in walk(t["prompt"])]
    assert any(n["deleted"] for n in nodes) and not any(n["review_result"] is False for n in nodes)
    await export(db, out, ExportOptions(state="all", include_spam=True))
    nodes = [n for t in read_lines(out) for n in walk(t["prompt"])]
    assert any(n["review_result"] is False for n in nodes) and not any(n["deleted"] for n in nodes)


async def test_messages_format(db, tmp_path):
    await import_file(db, OASST2)
    out = tmp_path / "messages.jsonl"
    report = await export(db, out, ExportOptions(format="messages"))
    rows = read_lines(out)
    assert len(rows) == report.messages and {r["tree_state"] for r in rows} == {"ready_for_export"}
    source = _source_nodes(OASST2)
    ids = {r["message_id"] for r in rows}
    for r in rows:
        assert "replies" not in r and r["text"] == source[r["message_id"]]["text"]
        assert r["parent_id"] is None or r["parent_id"] in ids  # parents come along, and first
    assert [r["parent_id"] in ids or r["parent_id"] is None for r in rows]
    seen = set()
    for r in rows:
        assert r["parent_id"] is None or r["parent_id"] in seen
        seen.add(r["message_id"])


@pytest.mark.parametrize(
    "opts, words",
    [(dict(state="done"), "'done' is not a tree state"), (dict(format="csv"), "--format must be trees or messages"),
     (dict(anonymize="  "), "--anonymize needs a seed")],
)  # fmt: skip
async def test_bad_options_are_refused_before_writing(db, tmp_path, opts, words):
    out = tmp_path / "never.jsonl"
    with pytest.raises(InvalidInput, match=re.escape(words)):
        await export(db, out, ExportOptions(**opts))
    assert not out.exists()


UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")


async def test_anonymisation_leaks_no_original_id(db, tmp_path):
    await import_file(db, OASST2)
    await import_file(db, EN_100)
    originals, messages = set(), set()
    for path in (OASST2, EN_100):
        for t in read_lines(path):
            originals.add(t["message_tree_id"])
            for n in walk(t["prompt"]):
                originals.update(v for v in (n["message_id"], n.get("parent_id"), n.get("user_id")) if v)
                messages.add(n["message_id"])
    originals |= {o.replace("-", "") for o in originals}
    for fmt in ("trees", "messages"):
        out = tmp_path / f"anon-{fmt}.jsonl"
        report = await export(db, out, ExportOptions(format=fmt, anonymize="s3cret", **ALL))
        body = out.read_text()
        assert report.messages == len(messages)  # one tree is in both samples: stored once
        found = set(UUID.findall(body))
        assert found and not (found & originals)
        assert not any(o in body for o in list(originals)[:3000])
    # Structure survives: the tree id is its prompt's id, parents resolve, and the seed is stable.
    trees = read_lines(tmp_path / "anon-trees.jsonl")
    for t in trees:
        assert t["message_tree_id"] == t["prompt"]["message_id"]
        for n in walk(t["prompt"]):
            for r in n["replies"]:
                assert r["parent_id"] == n["message_id"]
    again = tmp_path / "again.jsonl"
    await export(db, again, ExportOptions(anonymize="s3cret", **ALL))
    assert again.read_text() == (tmp_path / "anon-trees.jsonl").read_text()
    await export(db, again, ExportOptions(anonymize="other", **ALL))

    def ids(path):
        return {n[k] for t in read_lines(path) for n in walk(t["prompt"]) for k in ("message_id", "user_id") if n[k]}

    first = ids(tmp_path / "anon-trees.jsonl")
    assert len(first) > 1500 and not ids(again) & first  # another seed, other ids


async def test_events_carry_ballots_and_reactions(db_url, tmp_path):
    core = Chorus.open_on(make_settings(db_url, **SMALL), seed=3)
    try:
        summary = await simulate(core, users=8, tasks=300, seed=3, spammers=0)
        assert summary["trees"].get("ready_for_export")
        out = tmp_path / "events.jsonl"
        await export(core.db, out, ExportOptions(events=True))
        trees = read_lines(out)
        rankings = [e for t in trees for n in walk(t["prompt"]) for e in (n["events"] or {}).get("ranking", [])]
        assert rankings
        for t in trees:
            for n in walk(t["prompt"]):
                for e in (n["events"] or {}).get("ranking", []):
                    assert e["ranking_parent_id"] == n["message_id"] and e["message_tree_id"] == t["message_tree_id"]
                    if not e["not_rankable"]:
                        assert sorted(e["ranking"]) == list(range(len(e["ranked_message_ids"])))
                    assert e["user_id"] not in {r["user_id"] for r in n["replies"]}  # nobody ranks their own
        plain = tmp_path / "plain.jsonl"
        await export(core.db, plain, ExportOptions())
        assert all(n["events"] is None for t in read_lines(plain) for n in walk(t["prompt"]))
        anon = tmp_path / "anon.jsonl"
        await export(core.db, anon, ExportOptions(events=True, anonymize="x"))
        ids = {e["user_id"] for e in rankings} | {e["ranking_parent_id"] for e in rankings}
        body = anon.read_text()
        assert not any(i in body for i in ids)
    finally:
        await core.close()
