import pytest
import torch

from trainer.chat_format import ChatTokens, encode_prompt_reply
from trainer.reward import collate_groups, encode_groups, kendall_tau, rewards, rm_loss
from trainer.tiny import tiny_model

from .helpers import overfit

PROMPT = [{"role": "prompter", "text": "Which is the largest planet?"}]


def groups():
    return [
        {"prompt": PROMPT, "replies": [{"text": "Jupiter is the largest planet.", "rank": 0},
                                       {"text": "Saturn.", "rank": 1}, {"text": "I do not know, sorry.", "rank": 2}]},
        {"prompt": [{"role": "prompter", "text": "Say a number"}],
         "replies": [{"text": "Seven", "rank": 0}, {"text": "no", "rank": 1}]},
    ]


def test_pair_indices_and_weights_per_group(tokenizer):
    g = groups()
    g[0]["replies"][1]["rank"] = 0  # a tie between the first two replies gives no pair
    batch = collate_groups(encode_groups(g, tokenizer, 64), tokenizer.pad_token_id)
    assert batch["better"].tolist() == [0, 1, 3] and batch["worse"].tolist() == [2, 2, 4]
    assert batch["pair_weight"].tolist() == [0.5, 0.5, 1.0]
    assert int(batch["n_groups"]) == 2


def test_reward_read_at_end_of_turn_token(tokenizer, tiny_base):
    model = tiny_model(tiny_base, tokenizer, head="reward").eval()
    chat = ChatTokens.of(tokenizer)
    batch = collate_groups(encode_groups(groups(), tokenizer, 64), tokenizer.pad_token_id)
    with torch.no_grad():
        r = rewards(model, batch)
        hidden = model.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    lengths = batch["attention_mask"].sum(1)
    assert len(set(lengths.tolist())) > 1  # rows are padded, so pooling at the row end would be wrong
    for i, n in enumerate(lengths.tolist()):
        assert batch["input_ids"][i, n - 1] == chat.end
        torch.testing.assert_close(r[i], model.score(hidden[i, n - 1]).squeeze(), atol=1e-5, rtol=1e-4)
        # Alone and unpadded, the sequence scores the same.
        with torch.no_grad():
            alone = model(input_ids=batch["input_ids"][i:i + 1, :n]).logits.squeeze()
        torch.testing.assert_close(r[i], alone, atol=1e-5, rtol=1e-4)


def test_kendall_tau():
    assert kendall_tau([3.0, 2.0, 1.0], [0, 1, 2]) == 1.0
    assert kendall_tau([1.0, 2.0, 3.0], [0, 1, 2]) == -1.0
    assert kendall_tau([3.0, 1.0, 2.0], [0, 1, 2]) == pytest.approx(1 / 3)
    assert kendall_tau([1.0, 2.0], [0, 0]) is None


def test_rm_loss_value_and_fall(tokenizer, tiny_base):
    model = tiny_model(tiny_base, tokenizer, head="reward")
    batch = collate_groups(encode_groups(groups(), tokenizer, 64), tokenizer.pad_token_id)
    with torch.no_grad():
        r = rewards(model, batch)
        loss, _ = rm_loss(model, batch, score_penalty=0.0)
    nll = lambda a, b: -torch.nn.functional.logsigmoid(r[a] - r[b])
    expected = ((nll(0, 1) + nll(0, 2) + nll(1, 2)) / 3 + nll(3, 4)) / 2
    torch.testing.assert_close(loss, expected)
    first, last = overfit(model, rm_loss, batch, steps=30)
    assert last < 0.3 * first
    _, metrics = rm_loss(model, batch)
    assert metrics["pair_accuracy"] == 1.0


def test_long_prompt_keeps_reply_end(tokenizer):
    enc = encode_prompt_reply(tokenizer, [{"role": "prompter", "text": "long " * 200}], "short reply", 32)
    assert enc.input_ids[-1] == ChatTokens.of(tokenizer).end
