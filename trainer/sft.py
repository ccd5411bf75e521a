"""Supervised fine-tuning on root-to-leaf threads, assistant tokens only, packed without padding."""

from __future__ import annotations

from dataclasses import asdict

from trainer import loop, manifest
from trainer.chat_format import ChatTokens, encode_turns, truncate
from trainer.data import DataOptions, build_dataset
from trainer.packing import collate_padded, collate_rows, pack


def encode_threads(records: list[dict], tokenizer, max_len: int) -> list[dict]:
    """Token ids and labels per thread, cut to max_len; threads left with no target are skipped."""
    chat = ChatTokens.of(tokenizer)
    out = []
    for r in records:
        enc = truncate(encode_turns(tokenizer, r["turns"], chat), max_len)
        if enc is not None:
            out.append({"input_ids": enc.input_ids, "labels": enc.labels})
    return out


def make_rows(examples: list[dict], max_len: int, packing: bool) -> list[list[dict]]:
    """Training rows: packed bins of up to max_len tokens, or one example per row."""
    if not packing:
        return [[e] for e in examples]
    return [[examples[i] for i in b] for b in pack([len(e["input_ids"]) for e in examples], max_len)]


def collate(rows: list[list[dict]], pad_id: int, packing: bool) -> dict:
    """Packed rows without padding, or the usual padded batch with an attention mask."""
    if packing:
        return collate_rows(rows, pad_id)
    return collate_padded([s for row in rows for s in row], pad_id)


def lm_loss(model, batch):
    """Mean next-token cross-entropy over labelled tokens; (loss, {'tokens': n})."""
    import torch.nn.functional as F

    # Packed rows carry restarting position ids; one-per-row batches carry an attention mask.
    layout = {k: batch[k] for k in ("position_ids", "attention_mask") if k in batch}
    logits = model(input_ids=batch["input_ids"], use_cache=False, **layout).logits
    target = batch["labels"][:, 1:]
    # Sequences are packed back to back; the first token of each is never a target (its label is
    # a role token's IGNORE), so no prediction crosses from one sequence into the next.
    loss = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), target.flatten(), ignore_index=-100)
    return loss, {"tokens": int((target != -100).sum())}


def evaluate_lm(model, rows: list[list[dict]], pad_id: int, batch_size: int, packing: bool = True) -> dict:
    """Token-weighted validation loss."""
    total, tokens = 0.0, 0
    device = next(model.parameters()).device
    for i in range(0, len(rows), batch_size):
        batch = {k: v.to(device) for k, v in collate(rows[i:i + batch_size], pad_id, packing).items()}
        loss, m = lm_loss(model, batch)
        total += float(loss) * m["tokens"]
        tokens += m["tokens"]
    return {"val_loss": total / tokens if tokens else float("nan"), "val_tokens": tokens}


def train_sft(export: str, cfg: loop.TrainConfig, data: DataOptions | None = None, packing: bool = True) -> dict:
    """Fine-tune cfg.base on the export's SFT threads; writes model, tokenizer and manifest to cfg.out."""
    data = data or DataOptions()
    loop.set_threads()
    ds = build_dataset(export, data)
    train, val = ds.sft["train"], ds.sft["val"]
    if not train:
        raise SystemExit(f"no SFT threads in the training split of {export}: {ds.report.as_dict()}")
    texts = [t["text"] for r in train for t in r["turns"]]
    model, tok, base_manifest = loop.load_base(cfg.base, "causal_lm", texts, cfg)
    model.config.use_cache = False
    pad = tok.pad_token_id
    rows = make_rows(encode_threads(train, tok, cfg.max_len), cfg.max_len, packing)
    val_rows = make_rows(encode_threads(val, tok, cfg.max_len), cfg.max_len, packing)
    cfg.extra = {**cfg.extra, "packing": packing}
    info = manifest.build("sft", export_path=str(export), export_sha256=ds.export_sha256,
                          report=ds.report.as_dict(), data_options=asdict(data), config=loop.config_dict(cfg),
                          train_records=train, eval_records=val, base=cfg.base, base_manifest=base_manifest)
    return loop.run("sft", cfg, model, tok, rows, lambda b: collate(b, pad, packing), lm_loss, info,
                    evaluate=(lambda m: evaluate_lm(m, val_rows, pad, cfg.batch_size, packing)) if val_rows else None)
