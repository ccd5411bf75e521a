"""A fake Telegram Bot API on loopback: enough of the real protocol for the unmodified PTB client.

It keeps chats, messages and a queue of updates; tests play the people (send text, tap buttons,
react) and read what the bot sent. Limits the real API enforces are enforced here too.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.web_request import FileField

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_LIMIT = 64
DOCUMENT_LIMIT = 50 * 1024 * 1024  # bytes a bot may upload through the Bot API
JSON_FIELDS = {"reply_markup", "allowed_updates", "commands", "scope", "reply_parameters", "link_preview_options", "entities"}
INT_FIELDS = {"chat_id", "message_id", "offset", "limit", "timeout", "user_id", "reply_to_message_id"}
BOT_USER = {"id": 999000, "is_bot": True, "first_name": "Chorus", "username": "chorus_test_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}


class ApiError(Exception):
    """An error answer of the API: code and description, like the real one."""

    def __init__(self, code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Sent:
    """A message in a chat, as the fake stores it."""

    chat_id: int
    message_id: int
    text: str
    from_bot: bool
    reply_markup: dict | None = None
    reply_to: int | None = None
    edits: int = 0
    deleted: bool = False
    document: tuple[str, bytes] | None = None  # file name and content of a sent document (text is its caption)
    at: float = field(default_factory=time.perf_counter)

    def buttons(self) -> list[dict]:
        """Every inline button of the message, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [b for row in rows for b in row]

    def button(self, label_part: str) -> dict:
        """The first inline button whose label contains label_part."""
        for b in self.buttons():
            if label_part in b["text"]:
                return b
        raise AssertionError(f"no button {label_part!r} in {[b['text'] for b in self.buttons()]}")

    @property
    def force_reply(self) -> bool:
        return bool((self.reply_markup or {}).get("force_reply"))


class FakeBotAPI:
    """The server; `url` is what the bot's base_url should be (http://127.0.0.1:PORT/bot)."""

    def __init__(self, token: str = "123:TEST"):
        self.token = token
        self.updates: list[dict] = []
        self.update_ids = itertools.count(1)
        self.message_ids = itertools.count(1)
        self.messages: dict[tuple[int, int], Sent] = {}
        self.calls: list[tuple[str, dict]] = []
        self.callback_answers: dict[str, dict] = {}
        self.commands: dict[str, list] = {}
        self.allowed_updates: list[str] | None = None
        self.webhook: dict | None = None
        self.admins: dict[int, set[int]] = {}  # group chat id -> admin user ids
        self.blocked: set[int] = set()  # people who never opened a private chat with the bot
        self.fail: dict[str, list[int]] = {}  # method -> retry_after of the next 429s
        self.history: dict[int, dict] = {}  # every update ever queued, to redeliver one
        self.update_times: dict[int, float] = {}  # update id -> when it was queued
        self.sent_count = 0  # messages the bot sent, a cheap progress counter for benchmarks
        self.confirmed = 0  # highest offset a getUpdates call confirmed
        self.document_limit = DOCUMENT_LIMIT
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application(client_max_size=DOCUMENT_LIMIT + 1024 * 1024)  # the limit is checked per file below
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the server (a pending long poll returns at once)."""
        self._closing = True
        async with self._changed:
            self._changed.notify_all()
        if self._runner:
            await self._runner.cleanup()

    # --- the HTTP side ----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = self._params(await request.post() if request.can_read_body else {})
        self.calls.append((method, params))
        try:
            if self.fail.get(method):
                retry = self.fail[method].pop(0)
                raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
            handler = getattr(self, f"m_{method}", None)
            if handler is None:
                raise ApiError(404, f"Not Found: method {method} is not supported by the fake")
            result = await handler(params)
        except ApiError as e:
            body = {"ok": False, "error_code": e.code, "description": e.description}
            if e.parameters:
                body["parameters"] = e.parameters
            return web.json_response(body, status=e.code)
        finally:
            async with self._changed:
                self._changed.notify_all()
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _params(form) -> dict:
        out = {}
        for k, v in form.items():
            if isinstance(v, FileField):  # an uploaded file (multipart): its name and bytes
                v = (v.filename, v.file.read())
            elif k in JSON_FIELDS:
                v = json.loads(v)
            elif k in INT_FIELDS:
                v = int(v)
            out[k] = v
        return out

    # --- methods ------------------------------------------------------------------------------

    async def m_getMe(self, p):
        return BOT_USER

    async def m_deleteWebhook(self, p):
        self.webhook = None
        return True

    async def m_setWebhook(self, p):
        self.webhook = p
        self.allowed_updates = p.get("allowed_updates")
        return True

    async def m_getUpdates(self, p):
        offset = p.get("offset", 0)
        if offset:
            self.confirmed = max(self.confirmed, offset)
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if "allowed_updates" in p:
            self.allowed_updates = p["allowed_updates"]
        deadline = time.monotonic() + min(float(p.get("timeout", 0)), 5.0)
        async with self._changed:
            while not self.updates and time.monotonic() < deadline and not self._closing:
                try:
                    await asyncio.wait_for(self._changed.wait(), max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    break
        return self.updates[: p.get("limit", 100)]

    async def m_setMyCommands(self, p):
        for c in p["commands"]:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", c["command"]) or not 1 <= len(c["description"]) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands[json.dumps(p.get("scope", {"type": "default"}), sort_keys=True)] = p["commands"]
        return True

    async def m_getChatMember(self, p):
        chat, user = p["chat_id"], p["user_id"]
        status = "administrator" if user in self.admins.get(chat, set()) else "member"
        base = {"status": status, "user": {"id": user, "is_bot": user == BOT_USER["id"], "first_name": f"u{user}"}}
        if status == "administrator":
            base.update({k: True for k in ("can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
                                           "can_manage_video_chats", "can_restrict_members", "can_promote_members",
                                           "can_change_info", "can_invite_users", "can_post_stories",
                                           "can_edit_stories", "can_delete_stories")})
        return base

    def _check_markup(self, markup: dict | None) -> None:
        for row in (markup or {}).get("inline_keyboard", []):
            for b in row:
                data = b.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= CALLBACK_LIMIT:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if not b.get("text"):
                    raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")

    def _check_text(self, text: str | None) -> str:
        text = (text or "").strip()
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > TEXT_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")
        return text

    async def m_sendMessage(self, p):
        text = self._check_text(p.get("text"))
        self._check_markup(p.get("reply_markup"))
        chat = self._writable(p["chat_id"])
        reply_to = (p.get("reply_parameters") or {}).get("message_id") or p.get("reply_to_message_id")
        msg = Sent(chat, next(self.message_ids), text, True, p.get("reply_markup"), reply_to)
        self.messages[(chat, msg.message_id)] = msg
        self.sent_count += 1
        return self._message_json(msg)

    async def m_sendDocument(self, p):
        doc = p.get("document")
        if not isinstance(doc, tuple):
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if len(doc[1]) > self.document_limit:
            raise ApiError(413, "Request Entity Too Large")
        caption = (p.get("caption") or "").strip()
        if utf16_len(caption) > CAPTION_LIMIT:
            raise ApiError(400, "Bad Request: message caption is too long")
        self._check_markup(p.get("reply_markup"))
        chat = self._writable(p["chat_id"])
        msg = Sent(chat, next(self.message_ids), caption, True, p.get("reply_markup"), document=doc)
        self.messages[(chat, msg.message_id)] = msg
        self.sent_count += 1
        return self._message_json(msg)

    async def m_editMessageText(self, p):
        msg = self._existing(p)
        text = self._check_text(p.get("text"))
        markup = p.get("reply_markup")
        self._check_markup(markup)
        if text == msg.text and markup == msg.reply_markup:
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same")
        msg.text, msg.reply_markup, msg.edits = text, markup, msg.edits + 1
        return self._message_json(msg)

    async def m_editMessageReplyMarkup(self, p):
        msg = self._existing(p)
        markup = p.get("reply_markup")
        self._check_markup(markup)
        if markup == msg.reply_markup:
            raise ApiError(400, "Bad Request: message is not modified")
        msg.reply_markup, msg.edits = markup, msg.edits + 1
        return self._message_json(msg)

    async def m_deleteMessage(self, p):
        self._existing(p).deleted = True
        return True

    async def m_answerCallbackQuery(self, p):
        if p["callback_query_id"] in self.callback_answers:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self.callback_answers[p["callback_query_id"]] = p
        return True

    def _writable(self, chat: int) -> int:
        if chat in self.blocked:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _existing(self, p) -> Sent:
        msg = self.messages.get((p["chat_id"], p["message_id"]))
        if msg is None or msg.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        return msg

    def _message_json(self, msg: Sent) -> dict:
        out = {"message_id": msg.message_id, "date": int(time.time()), "chat": self._chat(msg.chat_id),
               "text": msg.text}
        if msg.document is not None:
            name, data = msg.document
            del out["text"]
            out["caption"] = msg.text
            out["document"] = {"file_id": f"doc{msg.message_id}", "file_unique_id": f"u{msg.message_id}",
                               "file_name": name, "file_size": len(data), "mime_type": "application/gzip"}
        out["from"] = BOT_USER if msg.from_bot else self._user(msg.chat_id)
        if msg.reply_markup and "inline_keyboard" in msg.reply_markup:
            out["reply_markup"] = msg.reply_markup
        if msg.reply_to and (msg.chat_id, msg.reply_to) in self.messages:
            inner = self.messages[(msg.chat_id, msg.reply_to)]
            out["reply_to_message"] = {k: v for k, v in self._message_json(inner).items() if k != "reply_to_message"}
        return out

    @staticmethod
    def _chat(chat_id: int) -> dict:
        return {"id": chat_id, "type": "private", "first_name": f"u{chat_id}"} if chat_id > 0 else \
            {"id": chat_id, "type": "supergroup", "title": f"group {chat_id}"}

    @staticmethod
    def _user(user_id: int) -> dict:
        return {"id": user_id, "is_bot": False, "first_name": f"Member{user_id}", "username": f"member{user_id}"}

    # --- the people's side --------------------------------------------------------------------

    def push(self, kind: str, body: dict, *, update_id: int | None = None) -> int:
        """Queue an update; reuse update_id to simulate a redelivery."""
        uid = update_id if update_id is not None else next(self.update_ids)
        self.history[uid] = {"update_id": uid, kind: body}
        self.updates.append(self.history[uid])
        self.update_times[uid] = time.perf_counter()
        self._poke()
        return uid

    def redeliver(self, update_id: int) -> None:
        """Deliver an update again, as Telegram does when the bot crashed before confirming it."""
        self.updates.append(dict(self.history[update_id]))
        self._poke()

    def _poke(self) -> None:
        async def notify():
            async with self._changed:
                self._changed.notify_all()

        asyncio.get_running_loop().create_task(notify())

    def say(self, user: int, text: str, *, chat: int | None = None, reply_to: int | None = None) -> int:
        """A person sends text (a command when it starts with /) in a chat (their private chat by default)."""
        chat = chat if chat is not None else user
        msg = Sent(chat, next(self.message_ids), text, False, reply_to=reply_to)
        self.messages[(chat, msg.message_id)] = msg
        body = self._message_json(msg)
        body["from"] = self._user(user)
        if text.startswith("/"):
            body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self.push("message", body)

    def tap(self, user: int, msg: Sent, label_part: str) -> str:
        """A person taps an inline button of a bot message; returns the callback query id."""
        data = msg.button(label_part)["callback_data"]
        qid = f"cq{next(self.update_ids)}"
        body = {"id": qid, "from": self._user(user), "chat_instance": str(msg.chat_id),
                "data": data, "message": self._message_json(msg)}
        self.push("callback_query", body)
        return qid

    def react(self, user: int, msg: Sent, emoji: str | None, old: str | None = None) -> int:
        """A person sets (or clears, emoji None) their reaction on a message."""
        body = {"chat": self._chat(msg.chat_id), "message_id": msg.message_id, "user": self._user(user),
                "date": int(time.time()),
                "old_reaction": [{"type": "emoji", "emoji": old}] if old else [],
                "new_reaction": [{"type": "emoji", "emoji": emoji}] if emoji else []}
        return self.push("message_reaction", body)

    # --- what tests read ----------------------------------------------------------------------

    def bot_messages(self, chat: int) -> list[Sent]:
        """What the bot sent to a chat, oldest first (deleted ones left out)."""
        return [m for (c, _), m in sorted(self.messages.items()) if c == chat and m.from_bot and not m.deleted]

    async def wait_for(self, predicate, timeout: float = 15.0):
        """Wait until predicate() is truthy (re-checked on every API call); return its value."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for the bot")
                try:
                    await asyncio.wait_for(self._changed.wait(), min(left, 0.5))
                except TimeoutError:
                    pass

    async def next_message(self, chat: int, after: int = 0, where=lambda m: True) -> Sent:
        """The first bot message in chat with an id above `after` that matches."""
        return await self.wait_for(
            lambda: next((m for m in self.bot_messages(chat) if m.message_id > after and where(m)), None)
        )

    def last_id(self) -> int:
        """The highest message id so far (to wait for what comes after)."""
        return max((k[1] for k in self.messages), default=0)
