"""The `chorus import`, `export` and `simulate` commands, run as a maintainer runs them."""

from __future__ import annotations

import json

import pytest

from bots.cli import main
from tests.oasst.helpers import EN_100, by_tree, read_lines


@pytest.fixture
def env(db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("CHORUS_DATABASE_URL", db_url)
    for k, v in dict(TREE_GOAL_TREE_SIZE=5, TREE_REVIEWS_INITIAL_PROMPT=2, TREE_REVIEWS_REPLY=2,
                     TREE_BALLOTS_PER_SIBLING_SET=2, TREE_MAX_CHILDREN=2, TREE_MAX_TREE_DEPTH=2).items():  # fmt: skip
        monkeypatch.setenv(f"CHORUS_{k}", str(v))
    return tmp_path


def test_import_export_commands(env, capsys):
    assert main(["import", str(EN_100)]) == 0
    assert "100 trees, 1,167 messages (1,167 new, 0 already stored)" in capsys.readouterr().out
    assert main(["import", str(EN_100)]) == 0
    assert "(0 new, 1,167 already stored)" in capsys.readouterr().out
    out = env / "all.jsonl.gz"
    assert main(["export", str(out), "--state", "all", "--include-synthetic", "--include-deleted", "--include-spam"]) == 0
    assert "100 trees, 1,167 messages" in capsys.readouterr().out
    assert by_tree(read_lines(out)) == by_tree(read_lines(EN_100))


def test_bad_input_gets_a_sentence(env, capsys):
    bad = env / "bad.jsonl"
    bad.write_text('{"message_tree_id": 1}\n')
    assert main(["import", str(bad), str(env / "missing.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "line 1: message_tree_id 1 is not a UUID" in err and "missing.jsonl: no such file" in err
    assert main(["export", str(env / "x.jsonl"), "--state", "finished"]) == 2
    assert "'finished' is not a tree state" in capsys.readouterr().err
    assert not (env / "x.jsonl").exists()
    assert main(["simulate", "--users", "0"]) == 2
    assert main(["simulate", "--langs", "en=many"]) == 2
    assert "--langs" in capsys.readouterr().err


def test_simulate_prints_a_json_summary(env, capsys):
    assert main(["simulate", "--users", "8", "--tasks", "250", "--seed", "4"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tasks"] == 250 and summary["invariant_violations"] == []
    assert summary["trees"].get("ready_for_export", 0) >= 1
    assert set(summary) >= {"done", "errors", "trees", "latency_ms", "seconds"}
