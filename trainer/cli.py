"""`chorus train data|sft|rm|dpo|audit`: argparse wiring only; torch is imported inside the commands."""

from __future__ import annotations

import argparse
import json
import sys


def _data_options(args):
    from trainer.data import DataOptions
    from trainer.export import FilterOptions

    return DataOptions(
        filter=FilterOptions(tree_states=tuple(args.tree_states), require_review=not args.allow_unreviewed,
                             langs=tuple(args.lang) if args.lang else None, synthetic=args.synthetic,
                             spam_threshold=None if args.spam_threshold < 0 else args.spam_threshold),
        val_fraction=args.val_fraction, test_fraction=args.test_fraction, split_salt=args.split_salt,
        pair_mode=args.pairs, min_agreement=args.min_agreement, sft_once=args.sft_once,
        sft_max_rank=args.sft_max_rank)


def _train_config(args):
    from trainer.loop import TrainConfig

    return TrainConfig(out=args.out, base=args.base, max_steps=args.max_steps, epochs=args.epochs, lr=args.lr,
                       batch_size=args.batch_size, grad_accum=args.grad_accum, max_len=args.max_len,
                       warmup_steps=args.warmup_steps, seed=args.seed, save_steps=args.save_steps,
                       logging_steps=args.logging_steps, resume=args.resume, tiny_vocab=args.tiny_vocab,
                       grad_checkpointing=args.grad_checkpointing, progress=not args.no_progress)


def _print(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


def cmd_data(args) -> int:
    """Filter, split and derive the training sets of an export into a directory."""
    from trainer.data import build_dataset, write_dataset

    opts = _data_options(args)
    ds = build_dataset(args.data, opts)
    report = write_dataset(ds, args.out, opts)
    _print({k: report[k] for k in ("trees_read", "trees_kept", "messages_read", "messages_kept",
                                   "dropped_trees", "dropped_messages", "counts")})
    return 0


def cmd_sft(args) -> int:
    """Supervised fine-tuning."""
    from trainer.sft import train_sft

    _print(train_sft(args.data, _train_config(args), _data_options(args), packing=not args.no_packing))
    return 0


def cmd_rm(args) -> int:
    """Reward model training."""
    from trainer.reward import train_rm

    _print(train_rm(args.data, _train_config(args), _data_options(args), score_penalty=args.score_penalty))
    return 0


def cmd_dpo(args) -> int:
    """DPO training."""
    from trainer.dpo import train_dpo

    _print(train_dpo(args.data, _train_config(args), _data_options(args), beta=args.beta,
                     precompute_ref=args.precompute_ref))
    return 0


def cmd_audit(args) -> int:
    """Report which stages of a model's lineage saw the given message ids; exit 1 if any did."""
    from trainer.manifest import find_messages

    found = find_messages(args.model, args.message_id)
    _print(found)
    return 1 if any(found.values()) else 0


def _add_data_args(p) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", required=True, help="export file: oasst trees or messages JSON lines, plain or .gz")
    g.add_argument("--tree-states", nargs="+", default=["ready_for_export"], metavar="STATE")
    g.add_argument("--allow-unreviewed", action="store_true", help="keep messages whose review is pending")
    g.add_argument("--lang", nargs="+", help="keep only these languages (default: all)")
    g.add_argument("--synthetic", choices=["keep", "drop", "rank-only"], default="keep")
    g.add_argument("--spam-threshold", type=float, default=0.5, help="drop messages at or above this spam label; <0 off")
    g.add_argument("--val-fraction", type=float, default=0.05)
    g.add_argument("--test-fraction", type=float, default=0.0)
    g.add_argument("--split-salt", default="chorus", help="changing it reshuffles every split")
    g.add_argument("--pairs", choices=["all", "adjacent", "best-vs-rest"], default="all")
    g.add_argument("--min-agreement", type=float, default=0.6, help="drop pairs fewer voters agree on")
    g.add_argument("--sft-once", action="store_true", help="train each assistant message in one thread only")
    g.add_argument("--sft-max-rank", type=int, help="SFT follows only replies ranked better than this")


def _add_train_args(p, lr: float) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--base", default="tiny", help="a Hugging Face model directory, or tiny | tiny-llama")
    g.add_argument("--out", required=True, help="output directory (checkpoints, final model, manifest)")
    g.add_argument("--max-steps", type=int, default=-1)
    g.add_argument("--epochs", type=float, default=1.0)
    g.add_argument("--lr", type=float, default=lr)
    g.add_argument("--batch-size", type=int, default=8, help="rows per device per step")
    g.add_argument("--grad-accum", type=int, default=1)
    g.add_argument("--max-len", type=int, default=1024)
    g.add_argument("--warmup-steps", type=int, default=0)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--save-steps", type=int, default=500)
    g.add_argument("--logging-steps", type=int, default=10)
    g.add_argument("--resume", help="checkpoint directory, or 'latest' in --out")
    g.add_argument("--tiny-vocab", type=int, default=1024, help="BPE vocabulary of a tiny base's tokenizer")
    g.add_argument("--grad-checkpointing", action="store_true")
    g.add_argument("--no-progress", action="store_true")


def add_train_parser(subparsers) -> None:
    """Register `train` with its data, sft, rm, dpo and audit subcommands."""
    train = subparsers.add_parser("train", help="build training sets and train SFT, reward and DPO models")
    sub = train.add_subparsers(dest="train_command", required=True)

    p = sub.add_parser("data", help="filter, split and derive training sets into a directory")
    _add_data_args(p)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("sft", help="supervised fine-tuning on assistant turns")
    _add_data_args(p)
    _add_train_args(p, lr=1e-4)
    p.add_argument("--no-packing", action="store_true", help="one conversation per row instead of packed rows")
    p.set_defaults(func=cmd_sft)

    p = sub.add_parser("rm", help="reward model on ranking groups (--base: the SFT checkpoint)")
    _add_data_args(p)
    _add_train_args(p, lr=2e-5)
    p.add_argument("--score-penalty", type=float, default=1e-3)
    p.set_defaults(func=cmd_rm)

    p = sub.add_parser("dpo", help="DPO on preference pairs (--base: the SFT checkpoint)")
    _add_data_args(p)
    _add_train_args(p, lr=5e-6)
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--precompute-ref", action="store_true", help="score the reference once, then free it")
    p.set_defaults(func=cmd_dpo)

    p = sub.add_parser("audit", help="prove whether messages reached a model, from its manifests")
    p.add_argument("--model", required=True, help="a checkpoint directory with chorus_manifest.json")
    p.add_argument("message_id", nargs="+")
    p.set_defaults(func=cmd_audit)


def main(argv=None) -> int:
    """Run `train ...` standalone: python -m trainer sft --data ... --out ..."""
    parser = argparse.ArgumentParser(prog="python -m trainer")
    add_train_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["train", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)
