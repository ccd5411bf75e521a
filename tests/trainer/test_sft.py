import json

import pytest
import torch

from trainer.chat_format import encode_turns
from trainer.loop import TrainConfig
from trainer.packing import collate_padded, collate_rows, pack
from trainer.sft import lm_loss, train_sft
from trainer.tiny import tiny_model

from .helpers import CONVERSATIONS, overfit


def encoded(tokenizer):
    return [vars(encode_turns(tokenizer, c)) for c in CONVERSATIONS]


def test_pack_is_a_partition_within_max_len():
    lengths = [5, 9, 3, 7, 1, 10, 2, 6]
    bins = pack(lengths, 12)
    assert sorted(i for b in bins for i in b) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in b) <= 12 for b in bins)
    assert len(bins) == 4  # 43 tokens need at least 4 rows of 12
    with pytest.raises(ValueError):
        pack([13], 12)


def test_packed_logits_match_unpacked(tokenizer, tiny_base):
    model = tiny_model(tiny_base, tokenizer).eval()
    seqs = encoded(tokenizer)
    packed = collate_rows([seqs], tokenizer.pad_token_id)
    with torch.no_grad():
        logits = model(input_ids=packed["input_ids"], position_ids=packed["position_ids"], use_cache=False).logits
        for seq, (_, s, e) in zip(seqs, packed["spans"].tolist()):
            alone = model(input_ids=torch.tensor([seq["input_ids"]]), use_cache=False).logits
            torch.testing.assert_close(logits[0, s:e], alone[0], atol=1e-5, rtol=1e-4)
        # The same row without restarting positions lets later sequences see earlier ones.
        leaky = model(input_ids=packed["input_ids"], use_cache=False).logits
        _, s, e = packed["spans"].tolist()[1]
        assert not torch.allclose(leaky[0, s:e], logits[0, s:e], atol=1e-3)


def test_packed_loss_equals_padded_loss(tokenizer, tiny_base):
    model = tiny_model(tiny_base, tokenizer).eval()
    seqs = encoded(tokenizer)
    with torch.no_grad():
        packed, _ = lm_loss(model, collate_rows([seqs], tokenizer.pad_token_id))
        padded = collate_padded(seqs, tokenizer.pad_token_id)
        logits = model(input_ids=padded["input_ids"], attention_mask=padded["attention_mask"]).logits
        ref = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), padded["labels"][:, 1:].flatten())
    torch.testing.assert_close(packed, ref, atol=1e-5, rtol=1e-4)


def test_sft_loss_falls_on_repeated_batch(tokenizer, tiny_base):
    model = tiny_model(tiny_base, tokenizer)
    first, last = overfit(model, lm_loss, collate_rows([encoded(tokenizer)], tokenizer.pad_token_id))
    assert last < 0.5 * first


def test_resume_continues_schedule(early_export, tmp_path):
    def cfg(out, **kw):
        return TrainConfig(out=str(out), max_steps=4, save_steps=2, logging_steps=1, max_len=128, batch_size=2,
                           warmup_steps=1, progress=False, tiny_vocab=300, **kw)

    train_sft(early_export, cfg(tmp_path / "full"))
    # A second run that stopped after step 2: start from the full run's step-2 checkpoint.
    (tmp_path / "resumed").mkdir()
    import shutil
    shutil.copytree(tmp_path / "full" / "checkpoint-2", tmp_path / "resumed" / "checkpoint-2")
    metrics = train_sft(early_export, cfg(tmp_path / "resumed", resume="latest"))
    assert metrics["global_step"] == 4

    def log(out):
        rows = [json.loads(line) for line in open(out / "metrics.jsonl")]
        return {r["step"]: r for r in rows if "loss" in r}
    full, resumed = log(tmp_path / "full"), log(tmp_path / "resumed")
    assert sorted(resumed) == [3, 4]  # nothing re-run, nothing skipped
    for step in (3, 4):
        assert resumed[step]["learning_rate"] == pytest.approx(full[step]["learning_rate"])
        assert resumed[step]["loss"] == pytest.approx(full[step]["loss"], rel=1e-4)
    from safetensors.torch import load_file
    a, b = load_file(tmp_path / "full" / "model.safetensors"), load_file(tmp_path / "resumed" / "model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)
