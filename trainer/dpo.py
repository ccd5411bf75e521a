"""Direct preference optimisation on weighted preference pairs, against a frozen reference.

For a pair, with summed reply log-probabilities under the policy (pi) and the reference (ref):
    loss = -log sigmoid(beta * ((pi_chosen - pi_rejected) - (ref_chosen - ref_rejected)))
averaged with the pair weights, which sum to one per ranking group. Chosen and rejected replies
share one packed row, so one forward pass scores both.
"""

from __future__ import annotations

import copy
import os
from dataclasses import asdict

from trainer import loop, manifest
from trainer.chat_format import ChatTokens, encode_prompt_reply
from trainer.data import DataOptions, build_dataset
from trainer.packing import collate_rows, token_logprobs


def encode_pairs(pairs: list[dict], tokenizer, max_len: int) -> list[list[dict]]:
    """One row per pair: [chosen, rejected], reply tokens labelled, the pair weight on the first."""
    chat = ChatTokens.of(tokenizer)
    rows = []
    for p in pairs:
        c = encode_prompt_reply(tokenizer, p["prompt"], p["chosen"], max_len, chat)
        r = encode_prompt_reply(tokenizer, p["prompt"], p["rejected"], max_len, chat)
        rows.append([{"input_ids": c.input_ids, "labels": c.labels, "weight": p["weight"]},
                     {"input_ids": r.input_ids, "labels": r.labels}])
    return rows


def collate_pairs(rows: list[list[dict]], pad_id: int) -> dict:
    """Packed [chosen, rejected] rows, pair weights, and precomputed reference log-probs if present."""
    import torch

    batch = collate_rows(rows, pad_id)
    batch["weight"] = torch.tensor([row[0]["weight"] for row in rows], dtype=torch.float)
    if all("ref_logps" in row[0] for row in rows):
        batch["ref_logps"] = torch.tensor([row[0]["ref_logps"] for row in rows], dtype=torch.float)
    return batch


def sequence_logps(model, batch):
    """Summed reply log-probs per pair: a (pairs, 2) tensor of [chosen, rejected]."""
    import torch

    logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
    logp, _ = token_logprobs(logits, batch["labels"])
    # logp[:, t] scores token t+1; a sequence spanning [s, e) owns logp[:, s-1 : e-1]. Position s-1
    # belongs to the previous sequence but predicts our first token, a role token whose label is
    # ignored, so it adds zero.
    sums = torch.stack([logp[r, max(s - 1, 0):e - 1].sum() for r, s, e in batch["spans"].tolist()])
    return sums.view(-1, 2)


def dpo_loss(model, batch, ref_model=None, beta: float = 0.1):
    """Weighted DPO loss; (loss, metrics with reward accuracy and margin)."""
    import torch
    import torch.nn.functional as F

    pi = sequence_logps(model, batch)
    if "ref_logps" in batch:
        ref = batch["ref_logps"]
    else:
        with torch.no_grad():
            if next(ref_model.parameters()).device != batch["input_ids"].device:
                ref_model.to(batch["input_ids"].device)
            ref = sequence_logps(ref_model, batch)
    rewards = beta * (pi - ref)  # implicit rewards of chosen and rejected
    margin = rewards[:, 0] - rewards[:, 1]
    w = batch["weight"]
    loss = (-F.logsigmoid(margin) * w).sum() / w.sum()
    margin = margin.detach()
    return loss, {"reward_accuracy": float((margin > 0).float().mean()), "margin": float(margin.mean())}


def attach_reference(rows: list[list[dict]], ref_model, pad_id: int, batch_size: int) -> None:
    """Store the reference model's log-probs in each row, so training needs no second model."""
    import torch

    device = next(ref_model.parameters()).device
    with torch.no_grad():
        for i in range(0, len(rows), batch_size):
            chunk = rows[i:i + batch_size]
            batch = {k: v.to(device) for k, v in collate_rows(chunk, pad_id).items()}
            for row, lp in zip(chunk, sequence_logps(ref_model, batch).tolist()):
                row[0]["ref_logps"] = lp


def evaluate_dpo(model, ref_model, rows, pad_id: int, batch_size: int, beta: float) -> dict:
    """Reward accuracy and mean margin on validation pairs (weighted like training)."""
    acc = margin = weight = 0.0
    device = next(model.parameters()).device
    for i in range(0, len(rows), batch_size):
        batch = {k: v.to(device) for k, v in collate_pairs(rows[i:i + batch_size], pad_id).items()}
        pi, ref = sequence_logps(model, batch), batch.get("ref_logps")
        if ref is None:
            ref = sequence_logps(ref_model, batch)
        m = beta * ((pi[:, 0] - ref[:, 0]) - (pi[:, 1] - ref[:, 1]))
        w = batch["weight"]
        acc += float(((m > 0).float() * w).sum())
        margin += float((m * w).sum())
        weight += float(w.sum())
    return {"val_reward_accuracy": acc / weight if weight else float("nan"),
            "val_margin": margin / weight if weight else float("nan"), "val_pairs": len(rows)}


def train_dpo(export: str, cfg: loop.TrainConfig, data: DataOptions | None = None, beta: float = 0.1,
              precompute_ref: bool = False) -> dict:
    """DPO from cfg.base (normally the SFT checkpoint) on the export's preference pairs."""
    import torch

    data = data or DataOptions()
    loop.set_threads()
    ds = build_dataset(export, data)
    train, val = ds.pairs["train"], ds.pairs["val"]
    if not train:
        raise SystemExit(f"no preference pairs in the training split of {export}")
    texts = [t["text"] for p in train for t in p["prompt"]] + [p[k] for p in train for k in ("chosen", "rejected")]
    model, tok, base_manifest = loop.load_base(cfg.base, "causal_lm", texts, cfg)
    model.config.use_cache = False
    ref = copy.deepcopy(model).eval().requires_grad_(False)
    if torch.cuda.is_available():  # under torchrun each rank keeps its reference on its own GPU
        ref.to(torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))))
    pad = tok.pad_token_id
    rows, val_rows = encode_pairs(train, tok, cfg.max_len), encode_pairs(val, tok, cfg.max_len)
    if precompute_ref:
        attach_reference(rows + val_rows, ref, pad, cfg.batch_size)
        ref = None  # frees the second copy for the whole run
    cfg.extra = {**cfg.extra, "beta": beta, "precompute_ref": precompute_ref}
    info = manifest.build("dpo", export_path=str(export), export_sha256=ds.export_sha256,
                          report=ds.report.as_dict(), data_options=asdict(data), config=loop.config_dict(cfg),
                          train_records=train, eval_records=val, base=cfg.base, base_manifest=base_manifest)
    return loop.run("dpo", cfg, model, tok, rows, lambda b: collate_pairs(b, pad),
                    lambda m, b: dpo_loss(m, b, ref, beta), info,
                    evaluate=(lambda m: evaluate_dpo(m, ref, val_rows, pad, cfg.batch_size, beta)) if val_rows else None)
