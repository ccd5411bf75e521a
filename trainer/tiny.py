"""Built-in tiny models and a locally trained tokenizer, so every stage runs with no downloads."""

from __future__ import annotations

from typing import Iterable

from trainer.chat_format import EOS, add_chat_tokens

# Pythia is GPT-NeoX-shaped (parallel residual, partial rotary); the Llama shape has GQA and SwiGLU.
TINY_SHAPES = {
    "tiny": "gpt_neox",
    "tiny-neox": "gpt_neox",
    "tiny-llama": "llama",
}


def is_tiny(base: str) -> bool:
    """Whether a --base value names a built-in tiny configuration."""
    return base in TINY_SHAPES


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1024):
    """Train a byte-level BPE on texts and wrap it as a transformers tokenizer with chat tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # Byte level: any language in an export is representable, no unknown tokens.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, model_max_length=10**6)
    add_chat_tokens(fast)
    return fast


def tiny_config(shape: str, vocab_size: int, *, hidden: int = 64, layers: int = 2, heads: int = 4,
                max_positions: int = 2048, pad_token_id: int | None = None, eos_token_id: int | None = None):
    """A transformers config for a tiny GPT-NeoX- or Llama-shaped model."""
    from transformers import GPTNeoXConfig, LlamaConfig

    common = dict(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                  num_attention_heads=heads, intermediate_size=4 * hidden,
                  max_position_embeddings=max_positions, pad_token_id=pad_token_id,
                  eos_token_id=eos_token_id, bos_token_id=eos_token_id, tie_word_embeddings=False)
    if shape == "gpt_neox":
        return GPTNeoXConfig(rotary_pct=0.25, use_parallel_residual=True, **common)
    if shape == "llama":
        return LlamaConfig(num_key_value_heads=max(1, heads // 2), **common)
    raise ValueError(f"unknown tiny shape {shape!r}")


def tiny_model(base: str, tokenizer, *, seed: int = 0, head: str = "causal_lm", **shape_kw):
    """Randomly initialised tiny model for tokenizer; head is 'causal_lm' or 'reward'."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    cfg = tiny_config(TINY_SHAPES[base], len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                      eos_token_id=tokenizer.eos_token_id, **shape_kw)
    torch.manual_seed(seed)
    if head == "reward":
        cfg.num_labels = 1
        return AutoModelForSequenceClassification.from_config(cfg)
    return AutoModelForCausalLM.from_config(cfg)
