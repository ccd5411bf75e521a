"""Discord's documented limits, checked on every payload the bot sends to the fake."""

from __future__ import annotations

MESSAGE_CONTENT = 2000
EMBED_TOTAL = 6000
EMBEDS_PER_MESSAGE = 10
ROWS_PER_MESSAGE = 5
BUTTONS_PER_ROW = 5
CUSTOM_ID = 100
BUTTON_LABEL = 80
SELECT_OPTIONS = 25
OPTION_TEXT = 100
PLACEHOLDER = 150
MODAL_TITLE = 45
MODAL_COMPONENTS = 5
TEXT_INPUT_LABEL = 45
TEXT_INPUT_VALUE = 4000
COMMAND_NAME = 32
COMMAND_DESCRIPTION = 100


class LimitError(Exception):
    """A payload Discord would refuse with 50035 Invalid Form Body."""


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise LimitError(what)


def _embed_chars(e: dict) -> int:
    n = len(e.get("title") or "") + len(e.get("description") or "")
    n += len((e.get("footer") or {}).get("text") or "") + len((e.get("author") or {}).get("name") or "")
    for f in e.get("fields") or []:
        n += len(f.get("name") or "") + len(f.get("value") or "")
    return n


def check_message(payload: dict) -> None:
    """Content, embeds and components of a message as Discord checks them."""
    content = payload.get("content")
    _need(content is None or len(content) <= MESSAGE_CONTENT, f"content is {len(content or '')} characters (max {MESSAGE_CONTENT})")
    embeds = payload.get("embeds") or []
    _need(len(embeds) <= EMBEDS_PER_MESSAGE, "more than 10 embeds")
    total = sum(_embed_chars(e) for e in embeds)
    _need(total <= EMBED_TOTAL, f"embeds hold {total} characters (max {EMBED_TOTAL})")
    for e in embeds:
        _need(len(e.get("title") or "") <= 256 and len(e.get("description") or "") <= 4096, "embed title or description too long")
        _need(len(e.get("fields") or []) <= 25, "more than 25 embed fields")
    check_components(payload.get("components") or [])


def check_components(rows: list[dict]) -> None:
    """Action rows of buttons and select menus."""
    _need(len(rows) <= ROWS_PER_MESSAGE, f"{len(rows)} action rows (max {ROWS_PER_MESSAGE})")
    seen: set[str] = set()
    for row in rows:
        _need(row.get("type") == 1, "top-level component is not an action row")
        items = row.get("components") or []
        _need(1 <= len(items) <= BUTTONS_PER_ROW, f"action row with {len(items)} components")
        selects = [c for c in items if c["type"] in (3, 5, 6, 7, 8)]
        _need(not selects or len(items) == 1, "a select menu must be alone in its row")
        for c in items:
            cid = c.get("custom_id")
            if c["type"] == 2 and c.get("style") == 5:
                _need(bool(c.get("url")), "link button without url")
                continue
            _need(bool(cid) and len(cid) <= CUSTOM_ID, f"custom_id {cid!r} missing or over {CUSTOM_ID} characters")
            _need(cid not in seen, f"custom_id {cid!r} used twice in one message")
            seen.add(cid)
            if c["type"] == 2:
                _need(len(c.get("label") or "") <= BUTTON_LABEL, "button label over 80 characters")
                _need(bool(c.get("label") or c.get("emoji")), "button without label or emoji")
            if c["type"] == 3:
                opts = c.get("options") or []
                _need(1 <= len(opts) <= SELECT_OPTIONS, f"select with {len(opts)} options (1 to {SELECT_OPTIONS})")
                for o in opts:
                    _need(0 < len(o["label"]) <= OPTION_TEXT and 0 < len(o["value"]) <= OPTION_TEXT, "select option text")
                    _need(len(o.get("description") or "") <= OPTION_TEXT, "select option description")
                _need(len(c.get("placeholder") or "") <= PLACEHOLDER, "select placeholder too long")
                lo, hi = c.get("min_values", 1), c.get("max_values", 1)
                _need(0 <= lo <= hi <= min(25, len(opts)), "select min/max values")


def check_modal(data: dict) -> list[dict]:
    """A modal's title and text inputs; returns the inputs."""
    _need(0 < len(data.get("title") or "") <= MODAL_TITLE, f"modal title {data.get('title')!r} (1 to {MODAL_TITLE} characters)")
    _need(len(data.get("custom_id") or "") <= CUSTOM_ID, "modal custom_id too long")
    rows = data.get("components") or []
    _need(1 <= len(rows) <= MODAL_COMPONENTS, f"modal with {len(rows)} components (1 to {MODAL_COMPONENTS})")
    inputs = []
    for row in rows:
        if row["type"] == 1:
            _need(len(row["components"]) == 1, "a modal row holds one input")
            item, label = row["components"][0], row["components"][0].get("label")
        elif row["type"] == 18:
            item, label = row["component"], row.get("label")
        else:
            raise LimitError(f"component type {row['type']} in a modal")
        _need(item["type"] == 4, "only text inputs are supported in modals here")
        _need(0 < len(label or "") <= TEXT_INPUT_LABEL, f"text input label {label!r} (1 to {TEXT_INPUT_LABEL} characters)")
        _need(0 < len(item["custom_id"]) <= CUSTOM_ID, "text input custom_id")
        hi = item.get("max_length", TEXT_INPUT_VALUE)
        _need(0 <= item.get("min_length", 0) <= hi <= TEXT_INPUT_VALUE, "text input length limits")
        _need(len(item.get("value") or "") <= hi, "text input prefilled value over max_length")
        _need(len(item.get("placeholder") or "") <= 100, "text input placeholder")
        inputs.append(item)
    return inputs


def check_commands(commands: list[dict]) -> None:
    """Slash command definitions as registered by the bot."""
    _need(len(commands) <= 100, "more than 100 commands")

    def walk(opts: list[dict]) -> None:
        _need(len(opts) <= 25, "more than 25 options")
        for o in opts:
            _need(0 < len(o["name"]) <= COMMAND_NAME and o["name"] == o["name"].lower(), f"option name {o['name']!r}")
            _need(0 < len(o["description"]) <= COMMAND_DESCRIPTION, f"option description of {o['name']!r}")
            _need(len(o.get("choices") or []) <= 25, "more than 25 choices")
            walk(o.get("options") or [])

    for c in commands:
        _need(0 < len(c["name"]) <= COMMAND_NAME, f"command name {c['name']!r}")
        _need(0 < len(c.get("description") or "x") <= COMMAND_DESCRIPTION, f"command description of {c['name']!r}")
        walk(c.get("options") or [])
