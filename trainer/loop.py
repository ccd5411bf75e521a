"""What every stage shares: configuration, loading a base model, and a transformers Trainer.

transformers' Trainer gives us gradient accumulation, the LR schedule, mixed precision on GPU,
checkpoints that resume with optimizer, scheduler and RNG state intact, progress bars, and DDP
under torchrun. Each stage only supplies its batches and its loss.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from trainer import manifest
from trainer.tiny import is_tiny, tiny_model, train_tokenizer


@dataclass
class TrainConfig:
    """Options common to the sft, rm and dpo stages."""

    out: str
    base: str = "tiny"
    max_steps: int = -1
    epochs: float = 1.0
    lr: float = 1e-4
    batch_size: int = 8  # rows (packed bins, groups or pairs) per device per step
    grad_accum: int = 1
    max_len: int = 512
    warmup_steps: int = 0
    weight_decay: float = 0.0
    seed: int = 42
    save_steps: int = 500
    logging_steps: int = 10
    resume: str | None = None  # a checkpoint dir, or "latest"
    tiny_vocab: int = 1024
    bf16: bool | None = None  # None: on when the GPU supports it
    grad_checkpointing: bool = False
    progress: bool = True
    extra: dict = field(default_factory=dict)  # stage-specific options, recorded in the manifest


def set_threads() -> None:
    """Use every core but no more: oversubscription slows small CPU runs a lot."""
    import torch

    if not torch.cuda.is_available() and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))


def load_base(base: str, head: str, tokenizer_texts, cfg: TrainConfig):
    """Model, tokenizer and the base's manifest (or None) from a directory or a tiny shape.

    head: 'causal_lm' or 'reward'. A tiny base gets a tokenizer trained on tokenizer_texts,
    which must be training-split texts only, so the manifest covers everything the model saw.
    """
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from trainer.chat_format import ChatTokens, add_chat_tokens

    if is_tiny(base):
        tok = train_tokenizer(tokenizer_texts, vocab_size=cfg.tiny_vocab)
        model, base_manifest = tiny_model(base, tok, seed=cfg.seed, head=head), None
    else:
        tok = AutoTokenizer.from_pretrained(base)
        added = add_chat_tokens(tok)
        if head == "reward":
            model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
        else:
            model = AutoModelForCausalLM.from_pretrained(base)
        if added or model.get_input_embeddings().num_embeddings < len(tok):
            model.resize_token_embeddings(len(tok))
        base_manifest = manifest.read(base)
    # We cut sequences to cfg.max_len ourselves; the tokenizer should not warn about long texts.
    tok.model_max_length = max(tok.model_max_length if tok.model_max_length < 1e9 else 0, cfg.max_len, 10**6)
    chat = ChatTokens.of(tok)
    model.config.pad_token_id = chat.pad
    if getattr(model, "generation_config", None) is not None and head == "causal_lm":
        # Serving stops at the end of the assistant turn.
        model.generation_config.eos_token_id = [chat.end, chat.eos]
        model.generation_config.pad_token_id = chat.pad
    return model, tok, base_manifest


def training_args(cfg: TrainConfig, **over):
    """TrainingArguments from our config; over overrides any field."""
    import torch
    from transformers import TrainingArguments

    bf16 = cfg.bf16 if cfg.bf16 is not None else bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    kw = dict(
        output_dir=cfg.out, max_steps=cfg.max_steps, num_train_epochs=cfg.epochs, learning_rate=cfg.lr,
        per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay, lr_scheduler_type="cosine", seed=cfg.seed, bf16=bf16,
        logging_steps=cfg.logging_steps, save_strategy="steps", save_steps=cfg.save_steps,
        eval_strategy="no", report_to="none", remove_unused_columns=False,
        activation_checkpointing=cfg.grad_checkpointing, disable_tqdm=not cfg.progress,
        dataloader_num_workers=0, dataloader_pin_memory=torch.cuda.is_available(),
        include_num_input_tokens_seen="non_padding",
    )
    if not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        kw["ddp_backend"] = "gloo"  # torchrun on CPU: transformers only goes distributed when told the backend
    kw.update(over)
    return TrainingArguments(**kw)


def make_trainer_class():
    """A Trainer whose stages provide `stage_loss(model, batch) -> (loss, metrics)`.

    Built lazily so importing this module needs no torch.
    """
    from transformers import Trainer

    class StageTrainer(Trainer):
        # Our losses are per-batch means; the Trainer divides them over accumulation steps.
        loss_is_scaled_for_ga = False

        def __init__(self, *a, stage_loss, **kw):
            super().__init__(*a, **kw)
            self.stage_loss = stage_loss
            self.stage_sums: dict[str, float] = {}
            self.stage_count = 0

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss, metrics = self.stage_loss(model, inputs)
            for k, v in metrics.items():
                self.stage_sums[k] = self.stage_sums.get(k, 0.0) + v
            self.stage_count += 1
            return (loss, None) if return_outputs else loss

        def log(self, logs, *args, **kw):
            # Stage metrics (token counts, pair accuracy, DPO margins), averaged since the last log.
            if "loss" in logs and self.stage_count:
                logs.update({k: v / self.stage_count for k, v in self.stage_sums.items()})
                self.stage_sums, self.stage_count = {}, 0
            super().log(logs, *args, **kw)

    return StageTrainer


def make_callbacks(out: str, stage_manifest: dict):
    """Callbacks: a JSON-lines metrics log, and a manifest written into every checkpoint."""
    from transformers import TrainerCallback

    class MetricsLog(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kw):
            if state.is_world_process_zero and logs:
                with open(Path(out) / "metrics.jsonl", "a") as f:
                    f.write(json.dumps({"step": state.global_step, **logs}) + "\n")

    class ManifestOnSave(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            if state.is_world_process_zero:
                ckpt = Path(out) / f"checkpoint-{state.global_step}"
                if ckpt.exists():
                    manifest.write(ckpt, {**stage_manifest, "step": state.global_step,
                                          "metrics": {"log": state.log_history[-1:]}})

    return [MetricsLog(), ManifestOnSave()]


def resume_path(cfg: TrainConfig) -> str | None:
    """The checkpoint to resume from: cfg.resume, or the newest in cfg.out when it is 'latest'."""
    if cfg.resume != "latest":
        return cfg.resume
    ckpts = sorted(Path(cfg.out).glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return str(ckpts[-1]) if ckpts else None


def load_weights(model, checkpoint: str) -> None:
    """Load a checkpoint's weights through from_pretrained, which maps renamed parameters.

    Trainer's own resume loads the raw state dict, and transformers 5 saves some architectures
    under older names (GPT-NeoX's lm_head as embed_out), which it then skips as unexpected.
    """
    loaded = type(model).from_pretrained(checkpoint)
    model.load_state_dict(loaded.state_dict())


def run(stage: str, cfg: TrainConfig, model, tokenizer, train_rows, collate, stage_loss,
        stage_manifest: dict, evaluate=None) -> dict:
    """Train, evaluate, and save the final model, tokenizer and manifest into cfg.out."""
    import torch

    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    args = training_args(cfg)
    StageTrainer = make_trainer_class()
    trainer = StageTrainer(model=model, args=args, train_dataset=train_rows, data_collator=collate,
                           processing_class=tokenizer, stage_loss=stage_loss,
                           callbacks=make_callbacks(cfg.out, stage_manifest))
    resume = resume_path(cfg)
    if resume:
        load_weights(trainer.model, resume)
    result = trainer.train(resume_from_checkpoint=resume)
    metrics = {"train_loss": result.training_loss, "global_step": result.global_step,
               **{k: v for k, v in result.metrics.items() if isinstance(v, (int, float))}}
    if evaluate is not None:
        model.eval()
        with torch.no_grad():
            metrics.update(evaluate(trainer.model))
    trainer.save_model(cfg.out)  # every rank calls it; it writes on the main process only
    if trainer.is_world_process_zero():
        manifest.write(cfg.out, {**stage_manifest, "step": result.global_step, "metrics": metrics})
    return metrics


def config_dict(cfg: TrainConfig) -> dict:
    """The config as recorded in manifests."""
    return asdict(cfg)
