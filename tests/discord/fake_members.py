"""The people of the fake Discord: members, and what they do (commands, clicks, menus, modals, reactions).

`MemberActions` is mixed into the server (tests/discord/fake_discord.py): each action builds the
payload the Discord client would build, checks it as the client would, and dispatches it over the
fake's gateway; `answer` and `until` wait for what the bot showed in return.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass, field

from tests.discord import fake_limits as limits

EPHEMERAL = 64  # message flag: only the interacting member sees it


@dataclass
class Member:
    """A person in the fake guild."""

    id: int
    name: str
    roles: list[int] = field(default_factory=list)
    admin: bool = False

    def user(self) -> dict:
        return {"id": str(self.id), "username": self.name, "discriminator": "0", "global_name": self.name,
                "avatar": None, "bot": False, "public_flags": 0}  # fmt: skip

    def member(self, *, with_user: bool = True) -> dict:
        data = {"roles": [str(r) for r in self.roles], "joined_at": _now(), "deaf": False, "mute": False,
                "flags": 0, "pending": False, "nick": None, "avatar": None,
                "permissions": str(8 if self.admin else 1024)}  # fmt: skip
        return {"user": self.user(), **data} if with_user else data


@dataclass
class Interaction:
    """One interaction sent to the bot and what the bot answered."""

    id: int
    token: str
    member: Member
    payload: dict
    sent_at: float
    response_type: int | None = None
    answered_at: float | None = None  # when the initial response arrived (time.monotonic)
    message_id: int | None = None  # the message the initial response created or updated
    modal: dict | None = None
    followups: list[int] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class MemberActions:
    """What members do, mixed into FakeDiscord (it supplies _dispatch, the guild and its state)."""
    async def command(self, member: Member, name: str, /, **options) -> Interaction:
        """Run a slash command ('task' or 'mod ban') with options, as the Discord client builds it."""
        top, *subs = name.split()
        cmd = next((c for c in self.commands if c["name"] == top), None)
        if cmd is None:
            raise AssertionError(f"/{top} is not registered (have {[c['name'] for c in self.commands]})")
        resolved: dict = {}
        data = {"id": cmd["id"], "name": top, "type": 1, "guild_id": str(self.guild_id)}
        holder, schema = data, cmd
        for sub in subs:
            opt = next(o for o in schema.get("options", []) if o["name"] == sub)
            node = {"type": opt["type"], "name": sub, "options": []}
            holder.setdefault("options", []).append(node)
            holder, schema = node, opt
        holder.setdefault("options", [])
        for o in schema.get("options", []):
            if o.get("required") and o["name"] not in options:
                raise AssertionError(f"option {o['name']} is required")
        for key, value in options.items():
            opt = next((o for o in schema.get("options", []) if o["name"] == key), None)
            if opt is None:
                raise AssertionError(f"/{name} has no option {key}")
            if opt.get("choices") and value not in [c["value"] for c in opt["choices"]]:
                raise AssertionError(f"{value!r} is not a choice of {key}")
            holder["options"].append({"name": key, "type": opt["type"], "value": self._option_value(opt["type"], value, resolved)})
        if resolved:
            data["resolved"] = resolved
        return await self._send_interaction(member, 2, data)

    def _option_value(self, kind: int, value, resolved: dict):
        if kind == 6:  # a user: the client resolves the member too
            resolved.setdefault("users", {})[str(value.id)] = value.user()
            resolved.setdefault("members", {})[str(value.id)] = value.member(with_user=False)
            return str(value.id)
        if kind == 7:
            resolved.setdefault("channels", {})[str(value)] = {"id": str(value), "type": 0, "name": "c", "permissions": "0",
                                                               "guild_id": str(self.guild_id)}  # fmt: skip
            return str(value)
        if kind == 8:
            resolved.setdefault("roles", {})[str(value)] = next(r for r in self._guild_payload()["roles"] if r["id"] == str(value))
            return str(value)
        return value

    async def click(self, member: Member, message: dict, label_or_id: str) -> Interaction:
        """Press a button that the message shows (by label or custom id); a disabled one cannot be pressed."""
        button = self.find_component(message, label_or_id, kind=2)
        if button.get("disabled"):
            raise AssertionError(f"button {label_or_id!r} is disabled")
        return await self._send_interaction(member, 3, {"custom_id": button["custom_id"], "component_type": 2}, message)

    async def choose(self, member: Member, message: dict, custom_id_prefix: str, values: list[str]) -> Interaction:
        """Pick options of a select menu the message shows."""
        select = self.find_component(message, custom_id_prefix, kind=3)
        offered = [o["value"] for o in select["options"]]
        if any(v not in offered for v in values) or not select.get("min_values", 1) <= len(values) <= select.get("max_values", 1):
            raise AssertionError(f"{values} cannot be picked from {offered}")
        data = {"custom_id": select["custom_id"], "component_type": 3, "values": values}
        return await self._send_interaction(member, 3, data, message)

    async def submit(self, member: Member, opened: Interaction, values: dict[str, str]) -> Interaction:
        """Fill and submit the modal an interaction opened (inputs by label), as the client checks them."""
        modal = opened.modal
        if modal is None:
            raise AssertionError("that interaction did not open a modal")
        rows = []
        for item in limits.check_modal(modal):
            label = item.get("label") or next(r.get("label") for r in modal["components"] if r.get("component") is item)
            value = values.get(label, values.get(item["custom_id"], item.get("value") or ""))
            if item.get("required", True) and not value:
                raise AssertionError(f"{label!r} is required")
            if not item.get("min_length", 0) <= len(value) <= item.get("max_length", limits.TEXT_INPUT_VALUE) and value:
                raise AssertionError(f"{label!r} takes {item.get('min_length', 0)}..{item.get('max_length')} characters")
            rows.append({"type": 1, "components": [{"type": 4, "custom_id": item["custom_id"], "value": value}]})
        source = self.messages.get(opened.payload.get("message", {}).get("id") and int(opened.payload["message"]["id"]))
        return await self._send_interaction(member, 5, {"custom_id": modal["custom_id"], "components": rows}, source)

    async def redeliver(self, ix: Interaction) -> None:
        """Deliver the same interaction again (a RESUME replay or a second process on the token)."""
        await self._dispatch("INTERACTION_CREATE", ix.payload)

    async def react(self, member: Member, message: dict, emoji: str) -> None:
        """Add a unicode reaction to a message."""
        await self._dispatch("MESSAGE_REACTION_ADD", {
            "type": 0, "user_id": str(member.id), "channel_id": message["channel_id"], "message_id": message["id"],
            "guild_id": str(self.guild_id), "member": member.member(), "emoji": {"id": None, "name": emoji},
            "burst": False, "burst_colors": [], "message_author_id": message["author"]["id"],
        })  # fmt: skip

    async def answer(self, ix: Interaction, timeout: float = 10.0) -> dict:
        """Wait until the bot answered visibly; the message (or modal) it shows now."""
        await asyncio.wait_for(ix.changed.wait(), timeout)
        ix.changed.clear()
        if ix.modal is not None and ix.response_type == 9:
            return ix.modal
        mid = ix.followups[-1] if ix.followups and ix.response_type in (4, 5) else ix.message_id
        return self.messages[mid]

    async def until(self, predicate, timeout: float = 10.0):
        """Poll until predicate() is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError("the expected state never came")
            await asyncio.sleep(0.01)

    def channel_messages(self, name: str) -> list[dict]:
        """Messages the bot posted in a channel, oldest first."""
        cid = str(self.channels[name])
        return [m for m in self.messages.values() if m["channel_id"] == cid and not m["flags"] & EPHEMERAL]

    @staticmethod
    def find_component(message: dict, label_or_id: str, *, kind: int) -> dict:
        """A component of a message by label, or by custom id or its prefix."""
        for row in message.get("components") or []:
            for c in row["components"]:
                if c["type"] != kind:
                    continue
                if c.get("label") == label_or_id or c.get("custom_id", "").startswith(label_or_id):
                    return c
        shown = [c.get("label") or c.get("custom_id") for r in message.get("components") or [] for c in r["components"]]
        raise AssertionError(f"no component {label_or_id!r} on the message (it shows {shown})")

    async def _send_interaction(self, member: Member, kind: int, data: dict, message: dict | None = None) -> Interaction:
        iid = self.new_id()
        channel_id = int(message["channel_id"]) if message else self.channels["general"]
        channel = {"id": str(channel_id), "type": 0, "guild_id": str(self.guild_id), "name": "c", "position": 0,
                   "permission_overwrites": [], "nsfw": False, "parent_id": None}  # fmt: skip
        payload = {
            "id": str(iid), "application_id": str(self.app_id), "type": kind, "token": f"tok{iid}", "version": 1,
            "attachment_size_limit": self.attachment_limit, "guild_id": str(self.guild_id), "channel_id": str(channel_id),
            "channel": channel, "member": member.member(), "data": data, "locale": "en-US", "guild_locale": "en-US",
            "app_permissions": "0", "entitlements": [], "authorizing_integration_owners": {}, "context": 0,
        }  # fmt: skip
        if message is not None:
            payload["message"] = message
        ix = Interaction(iid, payload["token"], member, payload, time.monotonic())
        self.interactions[iid] = ix
        await self._dispatch("INTERACTION_CREATE", payload)
        return ix
