import copy
import math

import torch

from trainer.chat_format import IGNORE
from trainer.dpo import attach_reference, collate_pairs, dpo_loss, encode_pairs, sequence_logps
from trainer.tiny import tiny_model

from .helpers import overfit

PAIRS = [
    {"prompt": [{"role": "prompter", "text": "Capital of France?"}], "chosen": "Paris.",
     "rejected": "I think it is Lyon, or maybe Marseille.", "weight": 0.5},
    {"prompt": [{"role": "prompter", "text": "Two plus two?"}, {"role": "assistant", "text": "Four."},
                {"role": "prompter", "text": "Times three?"}], "chosen": "Twelve.", "rejected": "Seven",
     "weight": 1.0},
]


def test_sequence_logps_match_unpacked(tokenizer, tiny_base):
    model = tiny_model(tiny_base, tokenizer).eval()
    rows = encode_pairs(PAIRS, tokenizer, 64)
    with torch.no_grad():
        packed = sequence_logps(model, collate_pairs(rows, tokenizer.pad_token_id))
        for p, row in enumerate(rows):
            for k, seq in enumerate(row):
                ids, labels = torch.tensor([seq["input_ids"]]), torch.tensor(seq["labels"])
                logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1], -1)
                keep = labels[1:] != IGNORE
                expected = logp[keep].gather(-1, labels[1:][keep].unsqueeze(-1)).sum()
                torch.testing.assert_close(packed[p, k], expected, atol=1e-4, rtol=1e-5)


def test_dpo_starts_at_log2_and_learns_with_precomputed_reference(tokenizer, tiny_base):
    model = tiny_model(tiny_base, tokenizer)
    ref = copy.deepcopy(model).eval().requires_grad_(False)
    rows = encode_pairs(PAIRS, tokenizer, 64)
    batch = collate_pairs(rows, tokenizer.pad_token_id)
    with torch.no_grad():
        loss, metrics = dpo_loss(model, batch, ref)
    assert abs(float(loss) - math.log(2)) < 1e-5 and abs(metrics["margin"]) < 1e-5
    attach_reference(rows, ref, tokenizer.pad_token_id, batch_size=1)
    pre = collate_pairs(rows, tokenizer.pad_token_id)
    assert "ref_logps" in pre
    with torch.no_grad():
        torch.testing.assert_close(dpo_loss(model, pre)[0], loss)
    first, last = overfit(model, lambda m, b: dpo_loss(m, b, beta=0.5), pre, steps=25)
    assert last < 0.5 * first
    _, metrics = dpo_loss(model, pre, beta=0.5)
    assert metrics["reward_accuracy"] == 1.0 and metrics["margin"] > 0


def test_pair_weights_scale_the_loss(tokenizer):
    model = tiny_model("tiny", tokenizer)
    ref = tiny_model("tiny", tokenizer, seed=1)  # a different reference, so each pair's loss differs
    rows = encode_pairs(PAIRS, tokenizer, 64)
    with torch.no_grad():
        both, _ = dpo_loss(model, collate_pairs(rows, tokenizer.pad_token_id), ref)
        each = [dpo_loss(model, collate_pairs([r], tokenizer.pad_token_id), ref)[0] for r in rows]
    torch.testing.assert_close(both, (0.5 * each[0] + 1.0 * each[1]) / 1.5)
    assert abs(float(each[0] - each[1])) > 1e-4
