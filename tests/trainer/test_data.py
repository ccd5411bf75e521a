import gzip
import json

import pytest

from trainer.data import (DataOptions, build_dataset, preference_pairs, ranking_groups, rl_prompts,
                          sft_threads, split_of, write_dataset)
from trainer.export import FilterOptions, load_filtered, read_export

from .helpers import node, write_trees


def tree(tid="t1", state="ready_for_export"):
    """p1 -> (a1 rank0 -> p2 -> a3, a2 rank1, a4 rank2 deleted -> p3)."""
    return {"message_tree_id": tid, "tree_state": state, "prompt": node(
        f"{tid}-p1", "prompter", "question", [
            node(f"{tid}-a1", "assistant", "best", [node(f"{tid}-p2", "prompter", "follow up", [
                node(f"{tid}-a3", "assistant", "answer two")])], rank=0),
            node(f"{tid}-a2", "assistant", "good", rank=1),
            node(f"{tid}-a4", "assistant", "gone", [node(f"{tid}-p3", "prompter", "orphaned")], rank=2,
                 deleted=True),
        ])}


def test_filters_count_every_drop(tmp_path):
    bad_roles = tree("t3")
    bad_roles["prompt"]["replies"][1]["role"] = "prompter"  # prompter answering prompter
    path = write_trees(tmp_path / "x.jsonl", [tree("t1"), tree("t2", "growing"), bad_roles, tree("t1")])
    trees, rep = load_filtered(path)
    assert [t.id for t in trees] == ["t1", "t3"]
    assert rep.trees_read == 4 and rep.trees_kept == 2
    assert rep.dropped_trees == {"tree_state:growing": 1, "duplicate_tree": 1}
    assert rep.dropped_messages["deleted"] == 2 and rep.dropped_messages["under_deleted"] == 2
    assert rep.dropped_messages["roles_not_alternating"] == 1
    assert rep.messages_read == 7 * 4
    assert rep.messages_kept + sum(rep.dropped_messages.values()) == rep.messages_read


def test_review_language_synthetic_spam_filters(tmp_path):
    t = tree()
    replies = t["prompt"]["replies"]
    replies[0]["review_result"] = None
    replies[1]["lang"] = "de"
    replies[1]["synthetic"] = True
    path = write_trees(tmp_path / "x.jsonl", [t])
    _, rep = load_filtered(path)
    assert rep.dropped_messages["review_pending"] == 1 and rep.dropped_messages["under_review_pending"] == 2
    _, rep = load_filtered(path, FilterOptions(require_review=False, langs=("en",)))
    assert rep.dropped_messages["lang"] == 1 and "review_pending" not in rep.dropped_messages
    _, rep = load_filtered(path, FilterOptions(require_review=False, synthetic="drop"))
    assert rep.dropped_messages["synthetic"] == 1
    replies[0]["labels"] = {"spam": {"value": 0.9, "count": 3}}
    _, rep = load_filtered(write_trees(tmp_path / "y.jsonl", [t]), FilterOptions(require_review=False))
    assert rep.dropped_messages["spam"] == 1


def test_messages_file_gz_and_missing_parents(tmp_path):
    flat = []
    stack = [(tree()["prompt"], None)]
    while stack:
        n, parent = stack.pop()
        m = {k: v for k, v in n.items() if k != "replies"}
        m.update(parent_id=parent, message_tree_id="t1", tree_state="ready_for_export")
        flat.append(m)
        stack += [(r, n["message_id"]) for r in n["replies"]]
    flat.append({"message_id": "stray", "parent_id": "nowhere", "message_tree_id": "t1", "role": "assistant",
                 "text": "?", "tree_state": "ready_for_export"})
    path = tmp_path / "m.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.writelines(json.dumps(m) + "\n" for m in flat)
    trees, orphans = read_export(path)
    assert len(trees) == 1 and orphans == [("stray", "parent_missing")]
    _, rep = load_filtered(path)
    assert rep.dropped_messages["parent_missing"] == 1 and rep.messages_read == 8


def test_sft_threads_end_on_assistant_and_once_option(tmp_path):
    trees, _ = load_filtered(write_trees(tmp_path / "x.jsonl", [tree()]))
    threads = sft_threads(trees[0])
    assert sorted(t["id"] for t in threads) == ["t1-a2", "t1-a3"]
    for t in threads:
        assert t["turns"][-1]["role"] == "assistant" and t["turns"][0]["role"] == "prompter"
    # Shared prefix p1 -> a1 is only in one thread here; build a fork below a1 to share it.
    t = tree()
    t["prompt"]["replies"][0]["replies"][0]["replies"].append(node("t1-a5", "assistant", "alt"))
    t["prompt"]["replies"][0]["replies"].append(node("t1-p4", "prompter", "other", [node("t1-a6", "assistant", "x")]))
    trees, _ = load_filtered(write_trees(tmp_path / "y.jsonl", [t]))
    every = sft_threads(trees[0])
    once = sft_threads(trees[0], once=True)
    trained = lambda ths: [tt["message_id"] for th in ths for tt in th["turns"] if tt.get("train")]
    assert trained(every).count("t1-a1") == 3
    assert sorted(trained(once)) == sorted(set(trained(every)))
    assert [th["id"] for th in once] == [th["id"] for th in every]  # same contexts, fewer targets
    assert [th["id"] for th in sft_threads(trees[0], max_rank=1)] == [th["id"] for th in every if th["id"] != "t1-a2"]


def test_ranking_groups_and_pair_counts_and_weights(tmp_path):
    five = {"message_tree_id": "t5", "tree_state": "ready_for_export", "prompt": node(
        "q", "prompter", "q", [node(f"r{i}", "assistant", f"reply {i}", rank=i) for i in range(5)])}
    trees, _ = load_filtered(write_trees(tmp_path / "x.jsonl", [tree(), five]))
    g2 = ranking_groups(trees[0])
    g5 = ranking_groups(trees[1])
    assert len(g2) == 1 and [r["message_id"] for r in g2[0]["replies"]] == ["t1-a1", "t1-a2"]
    assert [r["message_id"] for r in g5[0]["replies"]] == [f"r{i}" for i in range(5)]
    for mode, n5 in [("all", 10), ("adjacent", 4), ("best-vs-rest", 4)]:
        p5, p2 = preference_pairs(g5[0], mode), preference_pairs(g2[0], mode)
        assert len(p5) == n5 and len(p2) == 1
        assert sum(p["weight"] for p in p5) == pytest.approx(1.0) == sum(p["weight"] for p in p2)
        assert all(int(p["chosen_id"][1]) < int(p["rejected_id"][1]) for p in p5)
    assert [(p["chosen_id"], p["rejected_id"]) for p in preference_pairs(g5[0], "adjacent")] == [
        ("r0", "r1"), ("r1", "r2"), ("r2", "r3"), ("r3", "r4")]
    # Tied ranks give no pair.
    g5[0]["replies"][1]["rank"] = 0
    assert len(preference_pairs(g5[0], "all")) == 9


def test_ballots_contested_and_none_acceptable(tmp_path):
    ids = ["r0", "r1", "r2"]

    def ballot(order, **kw):
        return {"user_id": kw.pop("user", "u"), "ranking": order, "ranked_message_ids": ids,
                "ranking_parent_id": "q", **kw}
    ballots = [ballot([0, 1, 2], user="a"), ballot([1, 0, 2], user="b"), ballot([0, 1, 2], user="c")]
    t = {"message_tree_id": "t", "tree_state": "ready_for_export", "prompt": node(
        "q", "prompter", "q", [node(f"r{i}", "assistant", f"reply {i}", rank=i) for i in range(3)],
        events={"ranking": ballots})}
    trees, _ = load_filtered(write_trees(tmp_path / "x.jsonl", [t]))
    (g,) = ranking_groups(trees[0])
    assert len(g["ballots"]) == 3 and not g["none_acceptable"]
    pairs = preference_pairs(g, "all", min_agreement=0.7)
    # r0 > r1 has 2 of 3 votes: contested at 0.7, so only the unanimous pairs remain.
    assert {(p["chosen_id"], p["rejected_id"]) for p in pairs} == {("r0", "r2"), ("r1", "r2")}
    assert all(p["weight"] == 0.5 for p in pairs)
    assert len(preference_pairs(g, "all", min_agreement=0.6)) == 3
    t["prompt"]["events"]["ranking"] = [ballot([0, 1, 2], user=u, not_rankable=True) for u in "ab"] + ballots[:1]
    trees, _ = load_filtered(write_trees(tmp_path / "y.jsonl", [t]))
    (g,) = ranking_groups(trees[0])
    assert g["none_acceptable"] and preference_pairs(g) == []


def test_rl_prompts_end_on_prompter(tmp_path):
    trees, _ = load_filtered(write_trees(tmp_path / "x.jsonl", [tree()]))
    prompts = rl_prompts(trees[0])
    assert sorted(p["id"] for p in prompts) == ["t1-p1", "t1-p2"]
    assert all(p["turns"][-1]["role"] == "prompter" for p in prompts)


def test_split_is_stable_and_by_tree(oasst2_export, tmp_path):
    ids = [f"tree-{i}" for i in range(2000)]
    first = [split_of(i, 0.1, 0.1) for i in ids]
    assert first == [split_of(i, 0.1, 0.1) for i in ids]
    assert 0.07 < first.count("val") / 2000 < 0.13 and 0.07 < first.count("test") / 2000 < 0.13
    # Growing the validation share only moves trees from train into val, never out of val.
    grown = [split_of(i, 0.2, 0.1) for i in ids]
    assert all(g == "val" for f, g in zip(first, grown) if f == "val")
    ds = build_dataset(oasst2_export, DataOptions(val_fraction=0.3))
    trees_by_split = {s: {r["tree_id"] for r in ds.sft[s] + ds.pairs[s] + ds.prompts[s]} for s in ds.sft}
    assert not trees_by_split["train"] & trees_by_split["val"]
    assert trees_by_split["val"]


@pytest.mark.parametrize("which", ["early", "oasst2"])
def test_real_exports(which, early_export, oasst2_export, tmp_path):
    path = early_export if which == "early" else oasst2_export
    ds = build_dataset(path)
    rep = ds.report
    assert rep.messages_kept + sum(rep.dropped_messages.values()) == rep.messages_read
    if which == "oasst2":
        assert rep.trees_kept == 94 and rep.dropped_messages["deleted"] > 0
        assert rep.dropped_trees["tree_state:prompt_lottery_waiting"] == 314
    else:
        assert rep.trees_kept == 100 and not rep.dropped_messages
    assert ds.sft["train"] and ds.pairs["train"] and ds.groups["train"] and ds.prompts["train"]
    report = write_dataset(ds, tmp_path)
    assert report["counts"]["sft"]["train"] == len(ds.sft["train"])
    assert sum(1 for _ in open(tmp_path / "pairs.train.jsonl")) == len(ds.pairs["train"])
