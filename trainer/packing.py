"""Padding-free packing: several sequences share a row, position ids restart at each one.

transformers builds a block-diagonal causal mask from restarting position ids when it is given
no attention mask and no cache (``use_cache=False``), so packed sequences never attend to each
other and the logits match running each sequence alone.
"""

from __future__ import annotations

from trainer.chat_format import IGNORE


def pack(lengths: list[int], max_len: int) -> list[list[int]]:
    """First-fit-decreasing bins of indices whose lengths sum to at most max_len each."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    bins: list[list[int]] = []
    room: list[int] = []
    for i in order:
        if lengths[i] > max_len:
            raise ValueError(f"sequence {i} has {lengths[i]} tokens, more than max_len={max_len}")
        for b, r in enumerate(room):
            if lengths[i] <= r:
                bins[b].append(i)
                room[b] -= lengths[i]
                break
        else:
            bins.append([i])
            room.append(max_len - lengths[i])
    return bins


def collate_rows(rows: list[list[dict]], pad_id: int) -> dict:
    """Tensors for rows of sequences: input_ids, labels, position_ids, and each sequence's span.

    Each sequence is a dict with input_ids and (optionally) labels. Rows are right-padded to the
    longest; padding gets positions 0.. of its own (a separate block, never attended to by real
    tokens) and ignored labels. ``spans`` lists (row, start, end) per sequence in input order.
    """
    import torch

    width = max(sum(len(s["input_ids"]) for s in row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    pos = torch.zeros((len(rows), width), dtype=torch.long)
    spans = []
    for r, row in enumerate(rows):
        at = 0
        for seq in row:
            n = len(seq["input_ids"])
            ids[r, at:at + n] = torch.tensor(seq["input_ids"])
            if "labels" in seq:
                labels[r, at:at + n] = torch.tensor(seq["labels"])
            pos[r, at:at + n] = torch.arange(n)
            spans.append((r, at, at + n))
            at += n
        pos[r, at:] = torch.arange(width - at)
    return {"input_ids": ids, "labels": labels, "position_ids": pos, "spans": torch.tensor(spans).view(-1, 3)}


def collate_padded(seqs: list[dict], pad_id: int) -> dict:
    """One sequence per row with an attention mask: the unpacked reference layout."""
    import torch

    width = max(len(s["input_ids"]) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    labels = torch.full((len(seqs), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        n = len(s["input_ids"])
        ids[r, :n] = torch.tensor(s["input_ids"])
        labels[r, :n] = torch.tensor(s.get("labels", [IGNORE] * n))
        mask[r, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def token_logprobs(logits, labels):
    """Per-token log-probability of each next-token label (0 where ignored), shape labels[:, 1:]."""
    import torch

    target = labels[:, 1:]
    keep = target != IGNORE
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    picked = logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return picked * keep, keep
