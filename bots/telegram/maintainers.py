"""Maintainer commands: /export (an oasst file, sent privately) and /purge (after a confirmation tap).

Both are checked by role in the core; the bot checks first only to avoid offering a button or
running an export that would be refused anyway.
"""

from __future__ import annotations

import asyncio
import uuid

from telegram import InputFile, Update
from telegram.error import Forbidden, NetworkError

from bots.render import short
from bots.telegram.common import (
    Context,
    ack,
    button,
    core_of,
    edit,
    guarded,
    hex_id,
    keyboard,
    member,
    private,
    send,
    tell,
    unpack,
)  # fmt: skip
from bots.telegram.moderation import resolve_user
from core import exporting
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.models import Role
from core.oasst_export import ExportOptions
from core.views import UserView

DOCUMENT_LIMIT = 50 * 1024 * 1024  # bytes a bot may upload through the Bot API
REASON_MAX = 500  # characters: the reason travels in the confirmation message, not in callback data
EXPORT_USAGE = "Use /export [state=<tree state>|all] [lang=<code>] [seed=<secret>] (seed anonymises the ids)."
PURGE_WARNING = "This removes their messages, labels, rankings and reactions from the data. It cannot be undone."
EXPORT_KEYS = {"state": "state", "lang": "lang", "language": "lang", "seed": "anonymize", "anonymize": "anonymize"}


async def _maintainer(update: Update, context: Context, what: str) -> UserView:
    user = await member(update, context)
    if Role(user.role).level < Role.maintainer.level:
        raise PermissionDenied(f"Only maintainers may {what}.")
    return user


def export_options(args: list[str]) -> ExportOptions:
    """ExportOptions from `key=value` words, with a sentence for anything else."""
    given: dict[str, str] = {}
    for word in args:
        key, sep, value = word.partition("=")
        field = EXPORT_KEYS.get(key.lower())
        if not sep or field is None:
            raise InvalidInput(f"I do not understand '{short(word, 40)}'. {EXPORT_USAGE}")
        given[field] = value
    lang = given.get("lang") or None
    if lang and not all(p.isalnum() for p in lang.split("-")):
        raise InvalidInput(f"'{short(lang, 40)}' is not a language code. Use a code such as en, de or pt-BR.")
    return ExportOptions(state=given.get("state") or "ready_for_export", lang=lang, anonymize=given.get("anonymize"))


@guarded
async def cmd_export(update: Update, context: Context) -> None:
    """/export [state=…] [lang=…] [seed=…]: an oasst trees file (.jsonl.gz), sent in a private chat."""
    user = await _maintainer(update, context, "export the data")
    opts = export_options(context.args or [])
    if opts.anonymize is not None and not private(update):
        # The seed is the secret that keeps the hashed ids unlinkable: not something to post in a group.
        raise InvalidInput("Give the anonymisation seed in a private chat with me: everyone here can read it.")
    done = await exporting.export_for_chat(core_of(context), user.id, opts)
    try:
        if done.size > DOCUMENT_LIMIT:
            raise InvalidInput(exporting.too_big(done, "Telegram", DOCUMENT_LIMIT))
        data = await asyncio.to_thread(done.path.read_bytes)
        try:
            await context.bot.send_document(update.effective_user.id, InputFile(data, filename=done.name),
                                            caption=exporting.describe(done, opts))  # fmt: skip
        except Forbidden:
            raise InvalidInput("I cannot write to you privately: open a chat with me (/start), then ask again.") from None
        except NetworkError as e:
            if "too large" not in str(e).lower():
                raise
            raise InvalidInput(exporting.too_big(done, "Telegram")) from None
    finally:
        await asyncio.to_thread(done.discard)
    if not private(update):
        await send(context, update.effective_chat.id, "I sent you the export in our private chat.")


@guarded
async def cmd_purge(update: Update, context: Context) -> None:
    """/purge <user> <reason>: remove a user's data after the maintainer confirms with a tap."""
    await _maintainer(update, context, "purge a user's data")
    args = context.args or []
    if len(args) < 2:
        raise InvalidInput("Use /purge <Telegram id or Chorus id> <reason>.")
    reason = " ".join(args[1:])
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"Please keep the reason under {REASON_MAX} characters.")
    target = await core_of(context).get_user(await resolve_user(update, context, args[0]))
    asker = update.effective_user.id
    text = f"Purge all data of {target.display_name} ({target.id})?\nReason: {reason}\n\n{PURGE_WARNING}"
    markup = keyboard([[button("🗑 Purge", "pg", hex_id(target.id), asker), button("Cancel", "pc", asker)]])
    await send(context, update.effective_chat.id, text, reply_markup=markup)


def _reason_of(text: str) -> str:
    """The reason written into a purge confirmation (the message the maintainer confirmed)."""
    _, sep, rest = text.partition("\nReason: ")
    if not sep or not rest.endswith(PURGE_WARNING):
        raise NotFound("This confirmation cannot be read any more; please run /purge again.")
    return rest[: -len(PURGE_WARNING)].strip()


@guarded
async def on_purge(update: Update, context: Context) -> None:
    """The Purge button: only the maintainer who asked may confirm; the core checks the role again."""
    q = update.callback_query
    target_hex, asker = unpack(q.data)
    if str(update.effective_user.id) != asker:
        await tell(update, context, "Only the maintainer who asked can confirm this.")
        return
    actor = await _maintainer(update, context, "purge a user's data")
    counts = await core_of(context).purge_user(actor.id, uuid.UUID(target_hex), reason=_reason_of(q.message.text or ""))
    removed = ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "nothing"
    await edit(context, q.message.chat_id, q.message.message_id, f"🗑 Purged by {actor.display_name}: {removed}.")
    await ack(update, context, "Purged.")


@guarded
async def on_purge_cancel(update: Update, context: Context) -> None:
    """The Cancel button of a purge confirmation."""
    q = update.callback_query
    if str(update.effective_user.id) != unpack(q.data)[0]:
        await tell(update, context, "Only the maintainer who asked can cancel this.")
        return
    await edit(context, q.message.chat_id, q.message.message_id, "Purge cancelled: nothing was removed.")
    await ack(update, context)
