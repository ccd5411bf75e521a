"""SFT throughput on CPU: Chorus (packed and unpacked) against TRL's SFTTrainer (padded and packed).

Same model (a small Pythia-shaped GPT-NeoX, random weights), same tokenizer, same tokenized
conversations and assistant-only labels, same rows of tokens per step. Throughput counts real
(non-padding) tokens per second of training, timed between the start of step WARMUP and the
start of the last step, so start-up, tokenization and saving are excluded.

    .venv/bin/python bench/trainer_sft_cpu.py [--steps 20] [--warmup 3] [--export FILE]

Needs trl and datasets (benchmark only; the trainer itself does not use them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from trainer import loop  # noqa: E402
from trainer.data import build_dataset  # noqa: E402
from trainer.sft import collate, encode_threads, lm_loss, make_rows  # noqa: E402
from trainer.tiny import tiny_config, train_tokenizer  # noqa: E402

EXPORT = "/work/shared/data/oasst/oasst_en_100_tree.jsonl"


def counting(cls, pad_id: int, marks: list):
    """A subclass of a Trainer class that records (time, real tokens) at the start of each step."""

    class Counting(cls):
        def compute_loss(self, model, inputs, *a, **kw):
            if model.training:
                marks.append((time.perf_counter(), int((inputs["input_ids"] != pad_id).sum())))
            return super().compute_loss(model, inputs, *a, **kw)

    return Counting


def throughput(marks: list, warmup: int) -> float:
    """Real tokens per second over steps warmup .. last-1."""
    t0, t1 = marks[warmup][0], marks[-1][0]
    return sum(n for _, n in marks[warmup:-1]) / (t1 - t0)


def new_model(tok, args):
    from transformers import AutoModelForCausalLM

    cfg = tiny_config("gpt_neox", len(tok), hidden=args.hidden, layers=args.layers, heads=args.heads,
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(cfg)


def run_chorus(tok, examples, args, packing: bool, rows_per_step: int) -> float:
    marks: list = []
    cfg = loop.TrainConfig(out=tempfile.mkdtemp(), max_steps=args.steps, batch_size=rows_per_step,
                           max_len=args.max_len, save_steps=10**9, logging_steps=10**9, progress=False)
    trainer_cls = counting(loop.make_trainer_class(), tok.pad_token_id, marks)
    model = new_model(tok, args)
    model.config.use_cache = False
    trainer = trainer_cls(model=model, args=loop.training_args(cfg, save_strategy="no"),
                          train_dataset=make_rows(examples, args.max_len, packing),
                          data_collator=lambda b: collate(b, tok.pad_token_id, packing), processing_class=tok,
                          stage_loss=lm_loss)
    trainer.train()
    return throughput(marks, args.warmup)


def run_trl(tok, examples, args, packing: bool, rows_per_step: int) -> float:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    marks: list = []
    ds = Dataset.from_list([{"input_ids": e["input_ids"], "labels": e["labels"]} for e in examples])
    conf = SFTConfig(output_dir=tempfile.mkdtemp(), max_steps=args.steps, per_device_train_batch_size=rows_per_step,
                     max_length=args.max_len, packing=packing, learning_rate=1e-4, lr_scheduler_type="cosine",
                     save_strategy="no", logging_steps=10**9, report_to="none", disable_tqdm=True,
                     dataloader_pin_memory=False, bf16=False,
                     gradient_checkpointing=False)  # TRL turns it on by default; ours is off
    trainer = counting(SFTTrainer, tok.pad_token_id, marks)(model=new_model(tok, args), args=conf,
                                                             train_dataset=ds, processing_class=tok)
    trainer.train()
    return throughput(marks, args.warmup)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--export", default=EXPORT)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--max-len", type=int, default=512)
    p.add_argument("--rows", type=int, default=4, help="packed rows of max-len tokens per step")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--only", nargs="*", help="subset of: chorus-packed chorus-padded trl-padded trl-packed")
    p.add_argument("--repeat", type=int, default=1, help="rounds, each running every configuration once")
    args = p.parse_args()
    loop.set_threads()

    threads = build_dataset(args.export).sft["train"]
    tok = train_tokenizer([t["text"] for r in threads for t in r["turns"]], vocab_size=args.vocab)
    examples = encode_threads(threads, tok, args.max_len)
    mean_len = sum(len(e["input_ids"]) for e in examples) / len(examples)
    # Padded runs get as many conversations per step as fit, on average, in the packed rows.
    padded_rows = max(1, round(args.rows * args.max_len / mean_len))
    n_params = sum(p.numel() for p in new_model(tok, args).parameters())
    runs = {
        "chorus-packed": lambda: run_chorus(tok, examples, args, True, args.rows),
        "chorus-padded": lambda: run_chorus(tok, examples, args, False, padded_rows),
        "trl-padded": lambda: run_trl(tok, examples, args, False, padded_rows),
        "trl-packed": lambda: run_trl(tok, examples, args, True, args.rows),
    }
    result = {"params": n_params, "conversations": len(examples), "mean_tokens": round(mean_len, 1),
              "max_len": args.max_len, "packed_rows_per_step": args.rows, "padded_rows_per_step": padded_rows,
              "steps": args.steps, "warmup": args.warmup, "threads": torch.get_num_threads(),
              "torch": torch.__version__, "repeat": args.repeat, "runs": {}}
    # Round-robin rounds, best of each: a shared 2-core machine has noisy neighbours, and
    # interference only ever slows a run down.
    for _ in range(args.repeat):
        for name, fn in runs.items():
            if args.only and name not in args.only:
                continue
            result["runs"].setdefault(name, []).append(round(fn()))
            print(name, result["runs"][name][-1], file=sys.stderr, flush=True)
    result["tokens_per_s_best"] = {k: max(v) for k, v in result["runs"].items()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
