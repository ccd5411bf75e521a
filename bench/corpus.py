"""Generate an oasst1-sized trees file: 66,497 trees, 161,443 messages, 461,292 label ratings, 35 languages.

The shape follows oasst1: 10,364 finished (ready_for_export) trees of about ten messages with ranked
sibling sets, and the rest mostly lone prompts in the other states. Every message carries labels
whose counts add up to the rating total, most carry detoxify scores, some carry emojis.

    .venv/bin/python bench/corpus.py [--out /tmp/chorus-bench/oasst1_synthetic.jsonl.gz] [--seed 0]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time
import uuid
from pathlib import Path

TREES, MESSAGES, RATINGS, READY = 66_497, 161_443, 461_292, 10_364
LANGS = (
    "en es ru de zh fr th pt-BR ca uk-UA it ja pl eu vi hu ar da tr ko fi id cs sv "
    "he nl ro fa bg el nb-NO sk sr gl bn"
).split()
OTHER_STATES = {"prompt_lottery_waiting": 0.45, "aborted_low_grade": 0.3, "growing": 0.08,
                "initial_prompt_review": 0.07, "halted_by_moderator": 0.05, "backlog_ranking": 0.05}  # fmt: skip
PROMPT_LABELS = ("spam lang_mismatch pii not_appropriate hate_speech sexual_content quality toxicity humor "
                 "creativity violence").split()  # fmt: skip
ASSISTANT_LABELS = PROMPT_LABELS + ["fails_task", "helpfulness"]
WORDS = ("the a model river answer question light garden engine letter winter market theory bridge music window "
         "planet story recipe forest signal harbor language number mountain paper doctor island memory kitchen").split()  # fmt: skip
DETOX = ("toxicity", "severe_toxicity", "obscene", "identity_attack", "insult", "threat", "sexual_explicit")


def _sizes(rng: random.Random) -> tuple[list[int], list[int]]:
    ready = [rng.randint(5, 14) for _ in range(READY)]
    others = [1] * (TREES - READY)
    extra = MESSAGES - sum(ready) - len(others)
    assert extra >= 0, "ready trees too large for the message total"
    growing = rng.sample(range(len(others)), k=min(len(others), 12_000))
    for i in range(extra):  # the rest become replies in a share of the unfinished trees
        others[growing[i % len(growing)]] += 1
    return ready, others


def _tree(rng: random.Random, size: int, lang: str, ready: bool, users: list[str], t0: float) -> dict:
    created = t0
    nodes = []

    def node(parent: dict | None) -> dict:
        nonlocal created
        created += rng.uniform(60, 7200)
        role = "prompter" if parent is None or parent["role"] == "assistant" else "assistant"
        n = {
            "message_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "parent_id": parent["message_id"] if parent else None,
            "user_id": rng.choice(users),
            "created_date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{rng.randrange(10**6):06d}+00:00",
            "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 120))),
            "role": role, "lang": lang, "review_count": 3, "review_result": True, "deleted": False,
            "rank": None, "synthetic": False, "model_name": None, "emojis": None, "replies": [],
            "labels": None, "events": None,
            "detoxify": {k: rng.random() * 0.01 for k in DETOX} if rng.random() < 0.8 else None,
            "message_tree_id": None, "tree_state": None,
        }  # fmt: skip
        if rng.random() < 0.3:
            n["emojis"] = {"+1": rng.randint(1, 6), **({"-1": 1} if rng.random() < 0.2 else {})}
        if parent is not None:
            parent["replies"].append(n)
        nodes.append(n)
        return n

    root = node(None)
    while len(nodes) < size:
        open_ = [n for n in nodes if n["message_id"] and _room(n)]
        node(rng.choice(open_) if open_ else root)
    if ready:
        for n in nodes:
            kids = n["replies"]
            if len(kids) >= 2 and kids[0]["role"] == "assistant":
                for r, k in enumerate(rng.sample(kids, len(kids))):
                    k["rank"] = r
    return root


def _room(n: dict) -> bool:
    depth_ok = n["role"] == "prompter" or len(n["replies"]) < 1
    return depth_ok and len(n["replies"]) < 3


def generate(out: Path, seed: int = 0) -> dict:
    """Write the corpus; returns its counts."""
    rng = random.Random(seed)
    users = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(13_500)]
    weights = [1 / (i + 1) for i in range(len(LANGS))]
    ready, others = _sizes(rng)
    plan = [(s, True) for s in ready] + [(s, False) for s in others]
    rng.shuffle(plan)
    # Label ratings: each message reviewed 0..5 times, then nudged so the total is exact.
    reviews = [rng.choice((1, 2, 3, 3, 3, 4)) for _ in range(MESSAGES)]
    diff = RATINGS - sum(reviews)
    i = 0
    while diff:
        step = 1 if diff > 0 else -1
        if 0 <= reviews[i] + step <= 5:
            reviews[i] += step
            diff -= step
        i = (i + 1) % MESSAGES
    counts = {"trees": 0, "messages": 0, "ratings": 0, "langs": set()}
    out.parent.mkdir(parents=True, exist_ok=True)
    m = 0
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=1) as f:
        for size, is_ready in plan:
            lang = rng.choices(LANGS, weights)[0]
            state = "ready_for_export" if is_ready else rng.choices(list(OTHER_STATES), list(OTHER_STATES.values()))[0]
            root = _tree(rng, size, lang, is_ready, users, 1_675_000_000 + rng.random() * 2e7)
            stack = [root]
            while stack:
                n = stack.pop()
                k = reviews[m]
                m += 1
                names = ASSISTANT_LABELS if n["role"] == "assistant" else PROMPT_LABELS
                n["labels"] = {name: {"value": round(rng.random(), 4) if name in ("quality", "helpfulness", "creativity", "humor") else 0.0,
                                      "count": k} for name in names} if k else {}  # fmt: skip
                counts["ratings"] += k
                counts["messages"] += 1
                stack.extend(n["replies"])
            f.write(json.dumps({"message_tree_id": root["message_id"], "tree_state": state, "prompt": root, "origin": None},
                               ensure_ascii=False) + "\n")  # fmt: skip
            counts["trees"] += 1
            counts["langs"].add(lang)
    counts["langs"] = len(counts["langs"])
    return counts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("/tmp/chorus-bench/oasst1_synthetic.jsonl.gz"))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    t = time.perf_counter()
    counts = generate(args.out, args.seed)
    print(json.dumps({**counts, "path": str(args.out), "bytes": args.out.stat().st_size, "seconds": round(time.perf_counter() - t, 1)}))


if __name__ == "__main__":
    main()
