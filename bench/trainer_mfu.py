"""SFT throughput and model FLOPs utilisation of the Chorus SFT step on one GPU.

A ~1B-parameter Pythia-shaped model (pythia-1b dimensions, random weights) trains in bf16 through
the same Trainer, packing and loss as `chorus train sft`, on synthetic conversations whose lengths
spread over the window, as real threads do. MFU counts the model FLOPs actually needed:
6 x (parameters except the input embedding) per token, plus causal attention
(12 x layers x hidden x mean attended positions per token), over the GPU's dense bf16 peak.

    python bench/trainer_mfu.py                      # on a CUDA machine (H200 peak by default)
    python bench/trainer_mfu.py --smoke              # seconds on CPU: checks the script runs
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from trainer import loop  # noqa: E402
from trainer.chat_format import IGNORE  # noqa: E402
from trainer.packing import collate_rows  # noqa: E402
from trainer.sft import lm_loss, make_rows  # noqa: E402

PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12}


def synthetic(n: int, max_len: int, vocab: int, seed: int = 0) -> list[dict]:
    """Conversations of 64..max_len tokens; the first third of each is prompt (not trained)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.randint(64, max_len)
        ids = [rng.randrange(8, vocab) for _ in range(length)]
        cut = length // 3
        out.append({"input_ids": ids, "labels": [IGNORE] * cut + ids[cut:]})
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--hidden", type=int, default=2048)
    p.add_argument("--layers", type=int, default=16)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--vocab", type=int, default=50304)
    p.add_argument("--max-len", type=int, default=2048)
    p.add_argument("--rows", type=int, default=8, help="packed rows per step")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--attn", default="sdpa", help="sdpa | flash_attention_2 | flex_attention")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (Trainer's torch_compile)")
    p.add_argument("--gpu", default="H200", choices=sorted(PEAK_BF16))
    p.add_argument("--smoke", action="store_true", help="tiny dimensions, CPU, fp32: check the script only")
    args = p.parse_args()
    if args.smoke:
        args.hidden, args.layers, args.heads, args.vocab, args.max_len = 64, 2, 4, 512, 256
        args.rows, args.steps, args.warmup = 2, 6, 2

    from transformers import AutoModelForCausalLM, GPTNeoXConfig

    cfg = GPTNeoXConfig(vocab_size=args.vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
                        num_attention_heads=args.heads, intermediate_size=4 * args.hidden,
                        max_position_embeddings=args.max_len, rotary_pct=0.25, use_parallel_residual=True,
                        tie_word_embeddings=False, pad_token_id=0, eos_token_id=1, use_cache=False)
    cfg._attn_implementation = args.attn
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation=args.attn)
    n_params = sum(p.numel() for p in model.parameters())
    n_flop_params = n_params - model.get_input_embeddings().weight.numel()

    steps_needed = args.steps * args.rows * 3
    examples = synthetic(steps_needed, args.max_len, args.vocab)
    rows = make_rows(examples, args.max_len, packing=True)

    marks: list = []

    class Counting(loop.make_trainer_class()):
        def compute_loss(self, model, inputs, *a, **kw):
            if model.training:
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                ids = inputs["input_ids"]
                spans = inputs["spans"]
                n = (spans[:, 2] - spans[:, 1]).double()
                marks.append((time.perf_counter(), int((ids != 0).sum()), float((n * (n + 1) / 2).sum())))
            return super().compute_loss(model, inputs, *a, **kw)

    tcfg = loop.TrainConfig(out=tempfile.mkdtemp(), max_steps=args.steps, batch_size=args.rows,
                            max_len=args.max_len, lr=1e-4, progress=False, logging_steps=10**9,
                            bf16=not args.smoke)
    trainer = Counting(model=model, args=loop.training_args(tcfg, save_strategy="no", torch_compile=args.compile,
                                                      include_num_input_tokens_seen="no"),
                       train_dataset=rows, data_collator=lambda b: collate_rows(b, 0), stage_loss=lm_loss)
    trainer.train()

    w = args.warmup
    seconds = marks[-1][0] - marks[w][0]
    tokens = sum(m[1] for m in marks[w:-1])
    attended = sum(m[2] for m in marks[w:-1])  # sum over tokens of the positions each attends to
    flops = 6 * n_flop_params * tokens + 12 * args.layers * args.hidden * attended
    peak = PEAK_BF16[args.gpu]
    result = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "params": n_params, "attn": args.attn, "compile": args.compile, "max_len": args.max_len,
        "rows_per_step": args.rows, "measured_steps": len(marks) - 1 - w,
        "tokens_per_s": round(tokens / seconds), "model_tflops_per_s": round(flops / seconds / 1e12, 2),
        "mfu": round(flops / seconds / peak, 4) if torch.cuda.is_available() else None,
        "peak_bf16_tflops": peak / 1e12,
        "max_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
