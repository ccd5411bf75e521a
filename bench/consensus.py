"""Consensus recomputation for 10,000 ranked trees (ranked pairs, tie-break, agreement).

    .venv/bin/python bench/consensus.py [--trees 10000]

Each tree has 1-4 ranked sibling sets of 2-5 replies with 3-5 ballots drawn around a hidden
true order (so ballots agree partly, and ties and cycles occur).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.consensus import consensus  # noqa: E402


def sibling_sets(trees: int, seed: int) -> list[list[list[str]]]:
    """Ballot lists of every sibling set of `trees` trees."""
    rng = random.Random(seed)
    out = []
    for t in range(trees):
        for s in range(rng.randint(1, 4)):
            truth = [f"{t}-{s}-{i}" for i in range(rng.randint(2, 5))]
            ballots = []
            for _ in range(rng.randint(3, 5)):
                noisy = sorted(truth, key=lambda c: truth.index(c) + rng.gauss(0, 1.2))
                ballots.append(noisy)
            out.append(ballots)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trees", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    sets = sibling_sets(args.trees, args.seed)
    t = time.perf_counter()
    results = [consensus(b) for b in sets]
    elapsed = time.perf_counter() - t
    print(json.dumps({
        "trees": args.trees, "sibling_sets": len(sets), "ballots": sum(map(len, sets)),
        "contested": sum(r.contested for r in results), "seconds": round(elapsed, 2),
        "sets_per_s": round(len(sets) / elapsed),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
