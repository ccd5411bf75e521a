"""The one chat format shared by training and serving: turn tokens, token ids and loss masks.

A conversation is a list of turns ``{"role": "system"|"prompter"|"assistant", "text": str}``.
Each turn is encoded as ``<role token> text <|end|>``. Token ids are built turn by turn from
explicit spans, never by searching rendered text, so the loss mask cannot drift from the text:
the mask covers assistant text and its ``<|end|>`` token, never system or prompter text, and
never the role tokens themselves (the caller supplies those when generating).
"""

from __future__ import annotations

from dataclasses import dataclass, field

SYSTEM = "<|system|>"
PROMPTER = "<|prompter|>"
ASSISTANT = "<|assistant|>"
END_OF_TURN = "<|end|>"
PAD = "<|pad|>"
EOS = "<|endoftext|>"

ROLE_TOKENS = {"system": SYSTEM, "prompter": PROMPTER, "assistant": ASSISTANT}
SPECIAL_TOKENS = [SYSTEM, PROMPTER, ASSISTANT, END_OF_TURN, PAD]
IGNORE = -100


def add_chat_tokens(tokenizer) -> int:
    """Add the chat special tokens and a pad token distinct from EOS; returns how many were new."""
    have = set(tokenizer.get_vocab())
    new = [t for t in SPECIAL_TOKENS if t not in have]
    added = tokenizer.add_special_tokens({"additional_special_tokens": new}) if new else 0
    if tokenizer.eos_token is None:
        added += tokenizer.add_special_tokens({"eos_token": EOS})
    # A pad equal to EOS would make EOS look like padding to anything that masks pads.
    if tokenizer.pad_token is None or tokenizer.pad_token_id == tokenizer.eos_token_id:
        tokenizer.pad_token = PAD
    return added


@dataclass
class ChatTokens:
    """Ids of the chat special tokens for one tokenizer."""

    role: dict[str, int]
    end: int
    pad: int
    eos: int

    @classmethod
    def of(cls, tokenizer) -> "ChatTokens":
        """Look the chat token ids up in a tokenizer that has had add_chat_tokens applied."""
        ids = tokenizer.convert_tokens_to_ids
        role = {r: ids(t) for r, t in ROLE_TOKENS.items()}
        unk = tokenizer.unk_token_id
        missing = [t for t, i in zip(ROLE_TOKENS.values(), role.values()) if i is None or i == unk]
        if missing or ids(END_OF_TURN) in (None, unk):
            raise ValueError(f"tokenizer lacks chat tokens {missing or [END_OF_TURN]}; call add_chat_tokens")
        if tokenizer.pad_token_id == tokenizer.eos_token_id:
            raise ValueError("pad token must differ from EOS")
        return cls(role=role, end=ids(END_OF_TURN), pad=tokenizer.pad_token_id, eos=tokenizer.eos_token_id)


@dataclass
class Encoded:
    """Token ids, labels (IGNORE where not trained) and each turn's [start, end) token span."""

    input_ids: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.input_ids)


def _text_ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def encode_turns(tokenizer, turns: list[dict], chat: ChatTokens | None = None) -> Encoded:
    """Encode turns; an assistant turn is trained unless it carries ``"train": False``."""
    chat = chat or ChatTokens.of(tokenizer)
    out = Encoded()
    for turn in turns:
        role = turn["role"]
        if role not in chat.role:
            raise ValueError(f"unknown role {role!r}")
        body = _text_ids(tokenizer, turn["text"]) + [chat.end]
        start = len(out.input_ids)
        out.input_ids += [chat.role[role]] + body
        trained = role == "assistant" and turn.get("train", True)
        out.labels += [IGNORE] + (body if trained else [IGNORE] * len(body))
        out.spans.append((start, len(out.input_ids)))
    return out


def encode_generation_prompt(tokenizer, turns: list[dict], chat: ChatTokens | None = None) -> list[int]:
    """Ids for a prompt that asks the model for the next assistant turn (serving uses this)."""
    chat = chat or ChatTokens.of(tokenizer)
    return encode_turns(tokenizer, turns, chat).input_ids + [chat.role["assistant"]]


def truncate(enc: Encoded, max_len: int) -> Encoded | None:
    """Cut to max_len tokens from the right; None if nothing trainable is left."""
    if len(enc) <= max_len:
        return enc if any(x != IGNORE for x in enc.labels) else None
    labels = enc.labels[:max_len]
    if all(x == IGNORE for x in labels):
        return None
    spans = [(s, min(e, max_len)) for s, e in enc.spans if s < max_len]
    return Encoded(enc.input_ids[:max_len], labels, spans)


def encode_prompt_reply(tokenizer, prompt: list[dict], reply: str, max_len: int,
                        chat: ChatTokens | None = None) -> Encoded:
    """Encode a prompt and one assistant reply, dropping the oldest turns (then reply tail) to fit.

    Only the reply is labelled. The reply's last token is the one a reward model pools on.
    """
    chat = chat or ChatTokens.of(tokenizer)
    ctx = [dict(t, train=False) for t in prompt]
    reply_enc = encode_turns(tokenizer, [{"role": "assistant", "text": reply}], chat)
    # Keep the most recent context: the reply answers the last prompter turn.
    while len(ctx) > 1 and len(encode_turns(tokenizer, ctx, chat)) + len(reply_enc) > max_len:
        ctx = ctx[1:]
    ctx_enc = encode_turns(tokenizer, ctx, chat)
    # Still too long: give the reply at least half the window, then cut the context from the left.
    reply_len = min(len(reply_enc), max(max_len - len(ctx_enc), max_len // 2))
    ctx_len = min(len(ctx_enc), max_len - reply_len)
    cut = len(ctx_enc) - ctx_len
    ids = ctx_enc.input_ids[cut:] + reply_enc.input_ids[:reply_len]
    labels = ctx_enc.labels[cut:] + reply_enc.labels[:reply_len]
    spans = [(max(s - cut, 0), e - cut) for s, e in ctx_enc.spans if e > cut]
    spans.append((ctx_len, ctx_len + reply_len))
    return Encoded(ids, labels, spans)


def render(turns: list[dict]) -> str:
    """The text form of a conversation, for logs and eyeballing (never used to build masks)."""
    return "".join(f"{ROLE_TOKENS[t['role']]}{t['text']}{END_OF_TURN}" for t in turns)
