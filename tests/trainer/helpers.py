"""Small shared helpers for the trainer tests."""

import json
from pathlib import Path

import torch


def overfit(model, loss_fn, batch, steps=25, lr=3e-3):
    """Train on one batch repeatedly; returns (first loss, last loss)."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss, _ = loss_fn(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses[0], losses[-1]


CONVERSATIONS = [
    [{"role": "system", "text": "You answer in one line."}, {"role": "prompter", "text": "Name a colour."},
     {"role": "assistant", "text": "Blue."}],
    [{"role": "prompter", "text": "How many legs has a spider?"},
     {"role": "assistant", "text": "Eight legs, usually."}, {"role": "prompter", "text": "And an ant?"},
     {"role": "assistant", "text": "Six."}],
    [{"role": "prompter", "text": "Say hi"}, {"role": "assistant", "text": "Hi there, how can I help you today?"}],
]


def node(mid, role, text, replies=(), **kw):
    """A nested oasst message node with defaults, for hand-built trees."""
    return {"message_id": mid, "role": role, "text": text, "lang": "en", "review_result": True,
            "deleted": False, "synthetic": False, "replies": list(replies), **kw}


def write_trees(path: Path, trees: list[dict]) -> Path:
    with open(path, "w") as f:
        for t in trees:
            f.write(json.dumps(t) + "\n")
    return path
