"""Fixtures for the trainer tests: the real oasst samples, a locally trained tokenizer, tiny models."""

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

# Two cores: more threads than cores only adds contention for these tiny matrices.
torch.set_num_threads(2)

DATA = Path("/work/shared/data/oasst")
if not DATA.exists():  # the repository checkout sits beside shared/ on other machines
    DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "oasst"
EARLY = DATA / "oasst_en_100_tree.jsonl"
OASST2 = DATA / "oasst2_sample_520_trees.jsonl"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"sample data not found: {path}")
    return path


@pytest.fixture(scope="session")
def early_export() -> Path:
    return _need(EARLY)


@pytest.fixture(scope="session")
def oasst2_export() -> Path:
    return _need(OASST2)


@pytest.fixture(scope="session")
def tokenizer():
    from trainer.tiny import train_tokenizer

    texts = []
    with open(_need(EARLY)) as f:
        for line in f:
            stack = [json.loads(line)["prompt"]]
            while stack:
                node = stack.pop()
                texts.append(node["text"])
                stack.extend(node.get("replies") or [])
    return train_tokenizer(texts, vocab_size=512)


@pytest.fixture(params=["tiny", "tiny-llama"])
def tiny_base(request) -> str:
    return request.param
