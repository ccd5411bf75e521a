"""Reward model: a scalar head read at each reply's end-of-turn token, trained listwise per ranking group.

Each group's replies (each with its prompt) go through the model in the same forward pass, one
per row, and the loss covers all ordered pairs of the group: -log sigmoid(r_better - r_worse),
averaged per group so large groups do not outweigh small ones, plus a small penalty on r^2 that
keeps scores centred (their offset is otherwise free).

Scores come from the model's own forward (transformers pools at the last token that is not
padding, which is why the pad token must differ from EOS), so checkpoints score the same when
loaded elsewhere, and DDP sees every parameter used inside forward.
"""

from __future__ import annotations

from dataclasses import asdict

from trainer import loop, manifest
from trainer.chat_format import ChatTokens, encode_prompt_reply
from trainer.data import DataOptions, build_dataset
from trainer.packing import collate_padded


def encode_groups(groups: list[dict], tokenizer, max_len: int) -> list[list[dict]]:
    """One row per group: each reply (best first) with its prompt, tagged with its rank."""
    chat = ChatTokens.of(tokenizer)
    rows = []
    for g in groups:
        if len({r["rank"] for r in g["replies"]}) < 2:
            continue
        rows.append([{"input_ids": encode_prompt_reply(tokenizer, g["prompt"], r["text"], max_len, chat).input_ids,
                      "rank": r["rank"]} for r in g["replies"]])
    return rows


def collate_groups(rows: list[list[dict]], pad_id: int) -> dict:
    """One sequence per row plus, per ordered pair (better, worse), its rows and its group's weight."""
    import torch

    batch = collate_padded([s for row in rows for s in row], pad_id)
    better, worse, weight, group = [], [], [], []
    at = 0
    for g, row in enumerate(rows):
        pairs = [(at + i, at + j) for i, a in enumerate(row) for j, b in enumerate(row) if a["rank"] < b["rank"]]
        for i, j in pairs:
            better.append(i)
            worse.append(j)
            weight.append(1.0 / len(pairs))
            group.append(g)
        at += len(row)
    batch.update(better=torch.tensor(better), worse=torch.tensor(worse), pair_weight=torch.tensor(weight),
                 pair_group=torch.tensor(group), n_groups=torch.tensor(len(rows)))
    del batch["labels"]
    return batch


def rewards(model, batch):
    """One score per sequence, read by the model at its last real token (the reply's end-of-turn)."""
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                 use_cache=False).logits.squeeze(-1).float()


def rm_loss(model, batch, score_penalty: float = 1e-3):
    """Listwise pairwise loss over each group; (loss, metrics)."""
    import torch.nn.functional as F

    r = rewards(model, batch)
    diff = r[batch["better"]] - r[batch["worse"]]
    # Weights sum to one per group, so dividing by the group count averages groups equally.
    loss = (-F.logsigmoid(diff) * batch["pair_weight"]).sum() / batch["n_groups"]
    loss = loss + score_penalty * (r ** 2).mean()
    return loss, {"pair_accuracy": float((diff.detach() > 0).float().mean())}


def kendall_tau(scores: list[float], ranks: list[int]) -> float | None:
    """Kendall's tau between scores and ranks (0 best) over pairs with distinct ranks."""
    conc = disc = 0
    for i in range(len(ranks)):
        for j in range(i + 1, len(ranks)):
            if ranks[i] == ranks[j]:
                continue
            s = (scores[i] - scores[j]) * (ranks[j] - ranks[i])  # >0: the better-ranked scores higher
            conc += s > 0
            disc += s < 0
    n = sum(ranks[i] != ranks[j] for i in range(len(ranks)) for j in range(i + 1, len(ranks)))
    return (conc - disc) / n if n else None


def evaluate_rm(model, rows: list[list[dict]], pad_id: int, batch_size: int) -> dict:
    """Pair accuracy over all validation pairs and mean Kendall's tau over groups."""
    correct = total = 0
    taus = []
    device = next(model.parameters()).device
    for i in range(0, len(rows), batch_size):
        chunk = rows[i:i + batch_size]
        batch = {k: v.to(device) for k, v in collate_groups(chunk, pad_id).items()}
        r = rewards(model, batch)
        diff = r[batch["better"]] - r[batch["worse"]]
        correct += int((diff > 0).sum())
        total += len(diff)
        at = 0
        for row in chunk:
            tau = kendall_tau(r[at:at + len(row)].tolist(), [s["rank"] for s in row])
            if tau is not None:
                taus.append(tau)
            at += len(row)
    return {"val_pair_accuracy": correct / total if total else float("nan"),
            "val_kendall_tau": sum(taus) / len(taus) if taus else float("nan"), "val_groups": len(taus)}


def train_rm(export: str, cfg: loop.TrainConfig, data: DataOptions | None = None,
             score_penalty: float = 1e-3) -> dict:
    """Train a reward model from cfg.base (normally the SFT checkpoint) on the export's ranking groups."""
    data = data or DataOptions()
    loop.set_threads()
    ds = build_dataset(export, data)
    train, val = ds.groups["train"], ds.groups["val"]
    if not train:
        raise SystemExit(f"no ranking groups in the training split of {export}")
    texts = [t["text"] for g in train for t in g["prompt"]] + [r["text"] for g in train for r in g["replies"]]
    model, tok, base_manifest = loop.load_base(cfg.base, "reward", texts, cfg)
    pad = tok.pad_token_id
    rows, val_rows = encode_groups(train, tok, cfg.max_len), encode_groups(val, tok, cfg.max_len)
    cfg.extra = {**cfg.extra, "score_penalty": score_penalty}
    info = manifest.build("rm", export_path=str(export), export_sha256=ds.export_sha256,
                          report=ds.report.as_dict(), data_options=asdict(data), config=loop.config_dict(cfg),
                          train_records=train, eval_records=val, base=cfg.base, base_manifest=base_manifest)
    return loop.run("rm", cfg, model, tok, rows, lambda b: collate_groups(b, pad),
                    lambda m, b: rm_loss(m, b, score_penalty), info,
                    evaluate=(lambda m: evaluate_rm(m, val_rows, pad, cfg.batch_size)) if val_rows else None)
