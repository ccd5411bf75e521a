"""Malformed files: every bad line reported with its number, and nothing of the file kept."""

from __future__ import annotations

import json

import pytest

from core.errors import InvalidInput
from core.oasst_import import ImportFailed, import_file
from tests.oasst.helpers import OASST2, table_counts

EMPTY = {"users": 0, "identities": 0, "trees": 0, "messages": 0, "label_means": 0, "emoji_counts": 0}


def _write(path, lines):
    path.write_text("".join((l if isinstance(l, str) else json.dumps(l)) + "\n" for l in lines))
    return path


async def test_bad_lines_are_reported_and_nothing_is_kept(db, tmp_path):
    good = OASST2.read_text().splitlines()
    broken = json.loads(good[5])
    broken["prompt"]["role"] = "robot"
    no_text = json.loads(good[7])
    del no_text["prompt"]["text"]
    lines = good[:5] + [broken, "{not json", no_text] + good[8:300] + ["[1, 2]"]
    path = _write(tmp_path / "bad.jsonl", lines)
    # A tiny batch makes the importer write many good trees before it meets the bad ones.
    with pytest.raises(ImportFailed) as info:
        await import_file(db, path, batch=2)
    err = info.value
    assert err.total == 4
    assert [e.split(":")[0] for e in err.errors] == ["line 6", "line 7", "line 8", "line 301"]
    assert "role must be prompter or assistant" in err.errors[0] and "not valid JSON" in err.errors[1]
    assert "text is missing" in err.errors[2] and "nothing from this file was imported" in err.message
    assert await table_counts(db) == EMPTY


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda t: t["prompt"].update(message_id="nope"), "message_id 'nope' is not a UUID"),
        (lambda t: t.update(tree_state="finished"), "tree_state 'finished' is not a tree state"),
        (lambda t: t["prompt"]["replies"][0].update(role="prompter"), "cannot reply to a prompter message"),
        (lambda t: t["prompt"].update(labels={"spam": {"value": "high", "count": 1}}), "label 'spam'"),
        (lambda t: t["prompt"].update(labels={"spam": {"value": 10**400, "count": 1}}), "label 'spam'"),
        (lambda t: t["prompt"].update(created_date="yesterday"), "not an ISO 8601 time"),
        (lambda t: t["prompt"].update(review_count="3"), "review_count must be a whole number"),
        (lambda t: t["prompt"]["replies"].append(dict(t["prompt"]["replies"][0])), "same message_id twice"),
    ],
    ids=["bad-id", "bad-state", "roles-repeat", "bad-label", "huge-label", "bad-time", "bad-count", "duplicate-id"],
)
async def test_each_kind_of_mistake_is_named(db, tmp_path, mutate, words):
    trees = [json.loads(l) for l in OASST2.read_text().splitlines()[:40]]
    target = next(t for t in trees if t["prompt"]["replies"])
    mutate(target)
    path = _write(tmp_path / "one.jsonl", trees)
    with pytest.raises(ImportFailed) as info:
        await import_file(db, path)
    assert info.value.total == 1 and words in info.value.errors[0], info.value.errors
    assert info.value.errors[0].startswith(f"line {trees.index(target) + 1}:")
    assert await table_counts(db) == EMPTY


async def test_same_message_on_two_lines(db, tmp_path):
    line = OASST2.read_text().splitlines()[0]
    path = _write(tmp_path / "twice.jsonl", [line, line])
    with pytest.raises(ImportFailed, match="line 2: message .* appears twice \\(first on line 1\\)"):
        await import_file(db, path)
    assert await table_counts(db) == EMPTY


async def test_messages_file_with_a_missing_parent(db, tmp_path):
    orphan = {
        "message_id": "11111111-1111-4111-8111-111111111111", "parent_id": "22222222-2222-4222-8222-222222222222",
        "text": "hi", "role": "assistant", "lang": "en", "message_tree_id": "33333333-3333-4333-8333-333333333333",
        "tree_state": "growing",
    }  # fmt: skip
    path = _write(tmp_path / "orphan.jsonl", [orphan])
    with pytest.raises(ImportFailed, match="line 1: .*neither in the file nor stored"):
        await import_file(db, path)
    assert await table_counts(db) == EMPTY


async def test_missing_and_unreadable_files(db, tmp_path):
    with pytest.raises(InvalidInput, match="no such file"):
        await import_file(db, tmp_path / "absent.jsonl")
    fake = tmp_path / "fake.jsonl.gz"
    fake.write_bytes(b"this is not gzip")
    with pytest.raises(InvalidInput, match="cannot be read"):
        await import_file(db, fake)
    assert await table_counts(db) == EMPTY
