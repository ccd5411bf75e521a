from trainer.chat_format import (ASSISTANT, END_OF_TURN, IGNORE, PROMPTER, SYSTEM, ChatTokens,
                                 encode_generation_prompt, encode_prompt_reply, encode_turns, truncate)

TURNS = [
    {"role": "system", "text": "Be brief."},
    {"role": "prompter", "text": "What is a tree?"},
    {"role": "assistant", "text": "A tall plant."},
    {"role": "prompter", "text": "And a bush?"},
    {"role": "assistant", "text": "A short one."},
]


def trained_text(tok, enc):
    return tok.decode([i for i, l in zip(enc.input_ids, enc.labels) if l != IGNORE])


def test_pad_is_not_eos(tokenizer):
    chat = ChatTokens.of(tokenizer)
    assert chat.pad != chat.eos
    assert len({chat.pad, chat.eos, chat.end, *chat.role.values()}) == 6


def test_mask_covers_assistant_text_and_end_of_turn_only(tokenizer):
    chat = ChatTokens.of(tokenizer)
    enc = encode_turns(tokenizer, TURNS)
    assert len(enc.spans) == len(TURNS)
    for turn, (s, e) in zip(TURNS, enc.spans):
        ids, labels = enc.input_ids[s:e], enc.labels[s:e]
        assert ids[0] == chat.role[turn["role"]] and ids[-1] == chat.end
        assert labels[0] == IGNORE  # the role token is given, never predicted as a target
        if turn["role"] == "assistant":
            assert labels[1:] == ids[1:]  # text and end-of-turn are trained
            assert tokenizer.decode(ids[1:-1]) == turn["text"]
        else:
            assert set(labels) == {IGNORE}  # system and prompter text never trained
    assert trained_text(tokenizer, enc) == f"A tall plant.{END_OF_TURN}A short one.{END_OF_TURN}"


def test_system_prompt_is_never_trained_even_in_odd_positions(tokenizer):
    # Open-Assistant assigned the loss by turn parity, so a system turn shifted every label by
    # one and the system prompt got trained. Our mask comes from roles, not positions.
    turns = [{"role": "system", "text": "SECRET"}, {"role": "prompter", "text": "hi"},
             {"role": "assistant", "text": "hello"}]
    enc = encode_turns(tokenizer, turns)
    s, e = enc.spans[0]
    assert set(enc.labels[s:e]) == {IGNORE}
    assert "SECRET" not in trained_text(tokenizer, enc)
    assert SYSTEM not in trained_text(tokenizer, enc) and PROMPTER not in trained_text(tokenizer, enc)


def test_context_assistant_turn_not_trained(tokenizer):
    turns = [dict(t) for t in TURNS]
    turns[2]["train"] = False
    enc = encode_turns(tokenizer, turns)
    assert trained_text(tokenizer, enc) == f"A short one.{END_OF_TURN}"


def test_generation_prompt_ends_with_assistant_token(tokenizer):
    ids = encode_generation_prompt(tokenizer, TURNS[:2])
    assert tokenizer.convert_ids_to_tokens(ids[-1]) == ASSISTANT


def test_truncate_drops_untrainable(tokenizer):
    enc = encode_turns(tokenizer, TURNS)
    first_trained = next(i for i, l in enumerate(enc.labels) if l != IGNORE)
    assert truncate(enc, first_trained) is None
    cut = truncate(enc, first_trained + 2)
    assert len(cut) == first_trained + 2 and cut.labels[-1] != IGNORE


def test_prompt_reply_keeps_recent_context_and_whole_reply(tokenizer):
    chat = ChatTokens.of(tokenizer)
    prompt = [{"role": "prompter", "text": "old " * 50}, {"role": "assistant", "text": "x"},
              {"role": "prompter", "text": "new question"}]
    enc = encode_prompt_reply(tokenizer, prompt, "the answer", max_len=24)
    assert len(enc) <= 24
    assert enc.input_ids[-1] == chat.end  # the reward model pools here
    assert trained_text(tokenizer, enc) == f"the answer{END_OF_TURN}"
    assert "new question" in tokenizer.decode(enc.input_ids) and "old" not in tokenizer.decode(enc.input_ids)
    # A single overlong prompt turn is cut from the left, the reply stays whole.
    enc = encode_prompt_reply(tokenizer, [{"role": "prompter", "text": "word " * 100}], "ok", max_len=16)
    assert len(enc) == 16 and trained_text(tokenizer, enc) == f"ok{END_OF_TURN}"
