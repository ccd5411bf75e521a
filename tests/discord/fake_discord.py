"""A Discord on loopback: the REST API and the gateway the bot uses, with Discord's limits enforced.

Tests drive it as people would (tests/discord/fake_members.py): a member runs a slash command,
clicks a button that exists on a message, picks options a menu offers, fills a modal the bot
opened, or reacts to a message. The fake refuses what Discord refuses (limits, a second initial
response, an answer after 3 s, an attachment over the size limit) and records every refusal in
`errors`, so a test can assert the bot never provoked one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from urllib.parse import unquote

from aiohttp import WSMsgType, web

from tests.discord import fake_limits as limits
from tests.discord.fake_members import (
    EPHEMERAL,
    Interaction,
    Member,
    MemberActions,
    _now,
)

__all__ = ["FakeDiscord", "Interaction", "Member"]

ANSWER_WINDOW = 3.0  # seconds an interaction may wait for its initial response
ATTACHMENT_LIMIT = 25 * 1024 * 1024  # bytes per file; interactions announce it as attachment_size_limit
LOADING = 128


def _json(data, status: int = 200, headers: dict | None = None) -> web.Response:
    # discord.py only parses a body whose Content-Type is exactly application/json.
    return web.Response(body=json.dumps(data).encode(), status=status, content_type="application/json", headers=headers)


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"code": code, "message": message}, status)


class FakeDiscord(MemberActions):
    """One guild, its channels and members, one bot application, and the interactions in flight."""

    def __init__(self, *, answer_window: float = ANSWER_WINDOW, attachment_limit: int = ATTACHMENT_LIMIT):
        self._ids = itertools.count(1_100_000_000_000_000_000)
        self.answer_window = answer_window
        self.attachment_limit = attachment_limit
        self.files: dict[int, dict[str, bytes]] = {}  # message id -> attached file name -> content
        self.app_id = self.new_id()
        self.bot_user = {"id": str(self.app_id), "username": "chorus", "discriminator": "0", "global_name": "Chorus",
                         "avatar": None, "bot": True, "public_flags": 0, "flags": 0, "verified": True, "mfa_enabled": False}  # fmt: skip
        self.guild_id = self.new_id()
        self.roles: dict[str, int] = {"@everyone": self.guild_id}
        self.channels: dict[str, int] = {}
        self.members: dict[int, Member] = {}
        self.messages: dict[int, dict] = {}
        self.interactions: dict[int, Interaction] = {}
        self.commands: list[dict] = []
        self.errors: list[str] = []  # every request Discord would have refused
        self.pings: list[str] = []  # every mention that would have notified someone
        self.requests: list[tuple[str, str]] = []
        self.throttled = 0
        self._throttle: list[list] = []
        self._ws: web.WebSocketResponse | None = None
        self._seq = 0
        self.identified = 0
        self.ready = asyncio.Event()
        for name in ("general", "tasks", "moderation"):
            self.add_channel(name)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- set-up ------------------------------------------------------------------------------

    def new_id(self) -> int:
        """A fresh snowflake."""
        return next(self._ids)

    def add_role(self, name: str) -> int:
        """Create a guild role."""
        self.roles[name] = self.new_id()
        return self.roles[name]

    def add_channel(self, name: str) -> int:
        """Create a text channel."""
        self.channels[name] = self.new_id()
        return self.channels[name]

    def add_member(self, name: str, *, roles: tuple[str, ...] = (), admin: bool = False) -> Member:
        """Create a member holding some of the guild's roles."""
        m = Member(self.new_id(), name, [self.roles[r] for r in roles], admin)
        self.members[m.id] = m
        return m

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the gateway and the HTTP server."""
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def throttle(self, method: str, pattern: str, times: int = 1) -> None:
        """Answer the next `times` matching requests with a 429, as Discord's rate limiter does."""
        self._throttle.append([method, re.compile(pattern), times])

    # --- the gateway -------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}})
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data["op"] == 1:
                await ws.send_json({"op": 11})
            elif data["op"] == 2:
                self._ws, self._seq = ws, 0
                self.identified += 1
                await self._dispatch("READY", {
                    "v": 10, "user": self.bot_user, "guilds": [{"id": str(self.guild_id), "unavailable": True}],
                    "session_id": f"session-{self.identified}", "resume_gateway_url": self.gateway_url,
                    "application": {"id": str(self.app_id), "flags": 0}, "private_channels": [], "relationships": [],
                })  # fmt: skip
                await self._dispatch("GUILD_CREATE", self._guild_payload())
                self.ready.set()
            elif data["op"] == 6:  # RESUME: not kept here; ask for a fresh IDENTIFY
                await ws.send_json({"op": 9, "d": False})
        if self._ws is ws:
            self._ws = None
            self.ready.clear()
        return ws

    async def _dispatch(self, event: str, data: dict) -> None:
        if self._ws is None:
            raise RuntimeError("the bot is not connected")
        self._seq += 1
        await self._ws.send_json({"op": 0, "t": event, "s": self._seq, "d": data})

    def _guild_payload(self) -> dict:
        roles = [{"id": str(rid), "name": name, "color": 0, "colors": {"primary_color": 0}, "hoist": False, "position": i,
                  "permissions": "1024", "managed": False, "mentionable": False, "flags": 0}
                 for i, (name, rid) in enumerate(self.roles.items())]  # fmt: skip
        channels = [{"id": str(cid), "type": 0, "name": name, "position": i, "guild_id": str(self.guild_id),
                     "permission_overwrites": [], "nsfw": False, "topic": None, "parent_id": None,
                     "rate_limit_per_user": 0, "last_message_id": None}
                    for i, (name, cid) in enumerate(self.channels.items())]  # fmt: skip
        me = {"user": self.bot_user, "roles": [], "joined_at": _now(), "deaf": False, "mute": False, "flags": 0}
        return {
            "id": str(self.guild_id), "name": "Fake guild", "icon": None, "owner_id": str(self.new_id()),
            "roles": roles, "channels": channels, "members": [me], "member_count": len(self.members) + 1,
            "emojis": [], "stickers": [], "features": [], "threads": [], "large": False, "unavailable": False,
            "voice_states": [], "presences": [], "stage_instances": [], "guild_scheduled_events": [],
            "soundboard_sounds": [], "premium_tier": 0, "joined_at": _now(), "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "mfa_level": 0, "nsfw_level": 0,
            "preferred_locale": "en-US", "system_channel_flags": 0,
        }  # fmt: skip

    # --- the REST API ------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path, method = "/" + request.match_info["path"], request.method
        self.requests.append((method, path))
        for rule in self._throttle:
            if rule[2] > 0 and rule[0] == method and rule[1].search(path):
                rule[2] -= 1
                self.throttled += 1
                headers = {"Via": "1.1 google", "Retry-After": "0.05", "X-RateLimit-Scope": "user"}
                return _json({"message": "You are being rate limited.", "retry_after": 0.05, "global": False}, 429, headers)
        body = await self._body(request)
        for name, data in (body.get("_files") or {}).items() if isinstance(body, dict) else ():
            if len(data) > self.attachment_limit:
                self.errors.append(f"{method} {path}: 40005 file {name} is {len(data)} bytes (max {self.attachment_limit})")
                return _error(413, 40005, "Request entity too large")
        try:
            return await self._route(method, path, body)
        except limits.LimitError as exc:
            self.errors.append(f"{method} {path}: 50035 {exc}")
            return _error(400, 50035, f"Invalid Form Body: {exc}")

    async def _body(self, request: web.Request) -> dict:
        if not request.can_read_body:
            return {}
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            body = json.loads(form.get("payload_json") or "{}")
            body["_files"] = {v.filename: v.file.read() for k, v in form.items() if k.startswith("files[")}
            return body
        text = await request.text()
        return json.loads(text) if text else {}

    async def _route(self, method: str, path: str, body) -> web.Response:
        app = str(self.app_id)
        if path == "/users/@me":
            return _json(self.bot_user)
        if path == "/oauth2/applications/@me":
            return _json({"id": app, "name": "Chorus", "description": "", "icon": None, "bot_public": True,
                          "bot_require_code_grant": False, "owner": self.bot_user, "verify_key": "0", "flags": 0,
                          "team": None, "summary": "", "interactions_endpoint_url": None})  # fmt: skip
        if m := re.fullmatch(rf"/applications/{app}(?:/guilds/\d+)?/commands", path):
            if method == "PUT":
                limits.check_commands(body)
                self.commands = [{**c, "id": str(self.new_id()), "application_id": app, "version": "1", "type": c.get("type", 1)}
                                 for c in body]  # fmt: skip
            return _json(self.commands)
        if m := re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", path):
            return self._callback(int(m[1]), m[2], body)
        if m := re.fullmatch(rf"/webhooks/{app}/([^/]+)(?:/messages/(@original|\d+))?", path):
            return self._webhook(method, m[1], m[2], body)
        if m := re.fullmatch(r"/channels/(\d+)/messages", path):
            if method == "POST":
                msg = self._store(int(m[1]), body)
                return _json(msg)
        if m := re.fullmatch(r"/channels/(\d+)/messages/(\d+)", path):
            msg = self.messages.get(int(m[2]))
            if msg is None:
                return _error(404, 10008, "Unknown Message")
            if method == "PATCH":
                return _json(self._edit(msg, body))
            if method == "DELETE":
                del self.messages[int(m[2])]
                return web.Response(status=204)
            return _json(msg)
        if m := re.fullmatch(r"/channels/(\d+)/messages/(\d+)/reactions/([^/]+)/@me", path):
            msg = self.messages.get(int(m[2]))
            if msg is None:
                return _error(404, 10008, "Unknown Message")
            msg.setdefault("reactions", []).append({"count": 1, "me": True, "emoji": {"id": None, "name": unquote(m[3])}})
            return web.Response(status=204)
        self.errors.append(f"{method} {path}: not implemented by the fake")
        return _error(404, 0, "404: Not Found")

    def _callback(self, iid: int, token: str, body: dict) -> web.Response:
        ix = self.interactions.get(iid)
        if ix is None or ix.token != token:
            self.errors.append(f"callback for unknown interaction {iid}: 10062")
            return _error(404, 10062, "Unknown interaction")
        if time.monotonic() - ix.sent_at > self.answer_window:
            self.errors.append(f"interaction {iid} answered after {self.answer_window}s: 10062")
            return _error(404, 10062, "Unknown interaction")
        if ix.response_type is not None:
            self.errors.append(f"interaction {iid} answered twice: 40060")
            return _error(400, 40060, "Interaction has already been acknowledged.")
        ix.answered_at = time.monotonic()
        kind, data = body["type"], body.get("data") or {}
        if body.get("_files"):  # a multipart callback carries its files beside the JSON payload
            data = {**data, "_files": body["_files"]}
        source = ix.payload.get("message")
        if kind in (6, 7) and source is None:
            raise limits.LimitError("an update response needs a message to update")
        if kind == 9:
            if ix.payload["type"] == 5:
                raise limits.LimitError("a modal cannot open a modal")
            limits.check_modal(data)
            ix.modal = data
        elif kind == 4:
            ix.message_id = int(self._store(int(ix.payload["channel_id"]), data, ix=ix)["id"])
        elif kind == 5:
            ix.message_id = int(self._store(int(ix.payload["channel_id"]), {"flags": (data.get("flags") or 0) | LOADING}, ix=ix)["id"])
        elif kind in (6, 7):
            ix.message_id = int(source["id"])
            if kind == 7:
                self._edit(self.messages[ix.message_id], data)
        ix.response_type = kind
        if kind in (4, 7, 9):
            ix.changed.set()
        resource = {"type": kind}
        if ix.message_id is not None and kind in (4, 5, 7):
            resource["message"] = self.messages[ix.message_id]
        return _json({"interaction": {"id": str(iid), "type": ix.payload["type"], "response_message_id":
                                      str(ix.message_id) if ix.message_id else None, "response_message_loading": kind == 5,
                                      "response_message_ephemeral": bool((data.get("flags") or 0) & EPHEMERAL)},
                      "resource": resource})  # fmt: skip

    def _webhook(self, method: str, token: str, which: str | None, body: dict) -> web.Response:
        ix = next((i for i in self.interactions.values() if i.token == token), None)
        if ix is None:
            return _error(404, 10015, "Unknown Webhook")
        if ix.response_type is None:
            self.errors.append(f"follow-up before the interaction {ix.id} was acknowledged")
            return _error(400, 40060, "Interaction has not been acknowledged.")
        if which is None:
            msg = self._store(int(ix.payload["channel_id"]), body, ix=ix)
            ix.followups.append(int(msg["id"]))
            ix.changed.set()
            return _json(msg)
        mid = ix.message_id if which == "@original" else int(which)
        msg = self.messages.get(mid) if mid else None
        if msg is None:
            return _error(404, 10008, "Unknown Message")
        if method == "PATCH":
            self._edit(msg, body)
            msg["flags"] &= ~LOADING
            ix.changed.set()
        elif method == "DELETE":
            del self.messages[mid]
            return web.Response(status=204)
        return _json(msg)

    def _store(self, channel_id: int, body: dict, *, ix: Interaction | None = None) -> dict:
        limits.check_message(body)
        mid = self.new_id()
        msg = {
            "id": str(mid), "channel_id": str(channel_id), "guild_id": str(self.guild_id), "author": self.bot_user,
            "content": body.get("content") or "", "timestamp": _now(), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
            "embeds": body.get("embeds") or [], "pinned": False, "type": 0, "flags": body.get("flags") or 0,
            "components": body.get("components") or [], "reactions": [], "application_id": str(self.app_id),
        }  # fmt: skip
        self._attach(msg, body)
        if ix is not None:
            msg["webhook_id"] = str(self.app_id)
        self._check_pings(msg, body.get("allowed_mentions"))
        self.messages[mid] = msg
        return msg

    def _edit(self, msg: dict, body: dict) -> dict:
        merged = {k: body[k] for k in ("content", "embeds", "components") if k in body}
        limits.check_message(merged)
        msg.update({k: v if v is not None else ([] if k != "content" else "") for k, v in merged.items()})
        msg["edited_timestamp"] = _now()
        self._attach(msg, body)
        self._check_pings(msg, body.get("allowed_mentions"))
        return msg

    def _attach(self, msg: dict, body: dict) -> None:
        # The file contents stay out of the message JSON (bytes); tests read them with attachment().
        if not body.get("_files"):
            return
        self.files[int(msg["id"])] = dict(body["_files"])
        msg["attachments"] = [
            {"id": str(self.new_id()), "filename": name, "size": len(data), "content_type": "application/octet-stream",
             "url": f"http://127.0.0.1:{self.port}/attachments/{msg['id']}/{name}", "proxy_url": ""}
            for name, data in body["_files"].items()
        ]  # fmt: skip

    def attachment(self, msg: dict) -> tuple[str, bytes]:
        """The one file a message carries: its name and content."""
        files = self.files.get(int(msg["id"])) or {}
        if len(files) != 1:
            raise AssertionError(f"message {msg['id']} carries {len(files)} files, not one")
        return next(iter(files.items()))

    def _check_pings(self, msg: dict, allowed: dict | None) -> None:
        # Without allowed_mentions Discord parses every mention in the content.
        parse = ["everyone", "users", "roles"] if allowed is None else allowed.get("parse", [])
        text = msg["content"] + " ".join(e.get("description") or "" for e in msg["embeds"])
        if ("@everyone" in text or "@here" in text) and "everyone" in parse:
            self.pings.append(f"message {msg['id']} pings @everyone")
        if re.search(r"<@!?\d+>", text) and "users" in parse and not (allowed or {}).get("users"):
            self.pings.append(f"message {msg['id']} pings a user")
