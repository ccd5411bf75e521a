"""The moderators' group: prompts awaiting review and reports, decided by 👍/👎 or by buttons.

Every post is recorded (record_post) so a reaction or a tap maps back to the message it shows,
after a restart too. Only moderators of that group (community setting "moderators") or Chorus
moderators decide; anyone else changes nothing.
"""

from __future__ import annotations

import uuid

from telegram import Update

from bots.render import short
from bots.telegram.common import (
    PLATFORM, Context, ack, button, core_of, edit, guarded, hex_id, is_staff, keyboard, log, member, send, tell,
)  # fmt: skip
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.models import Role
from core.views import UserView

APPROVE, REJECT = "👍", "👎"
KINDS = ("review", "report")


async def moderation_chats(context: Context) -> list[int]:
    """The groups configured as moderators' groups."""
    every = await core_of(context).all_community_settings(PLATFORM)
    return [int(scope) for scope, conf in every.items() if conf.get("moderation_channel")]


def post_text(kind: str, message, reason: str | None = None) -> str:
    """What a moderation post says about a message."""
    if kind == "review":
        head = f"🆕 Prompt awaiting review\nid {message.id}"
        hint = f"React {APPROVE} to approve or {REJECT} to reject (or use the buttons)."
    else:
        head = f"⚑ Reported message ({message.role})\nid {message.id}" + (f"\nReason: {short(reason, 300)}" if reason else "")
        hint = f"React {APPROVE} to keep it or {REJECT} to delete it (or use the buttons)."
    return f"{head}\n\n{message.text}\n\n{hint}"


def post_buttons(kind: str, message_id) -> object:
    """Fallback buttons of a moderation post."""
    m = hex_id(message_id)
    if kind == "review":
        return keyboard([[button(f"{APPROVE} Approve", "ma", m), button(f"{REJECT} Reject", "mr", m)]])
    return keyboard([[button(f"{APPROVE} Keep", "mk", m), button(f"{REJECT} Delete", "md", m)]])


async def post(context: Context, chat_id: int, kind: str, message_id, reason: str | None = None) -> None:
    """Post one item for the moderators in a chat and remember it."""
    core = core_of(context)
    thread = await core.conversation(message_id)
    if not thread:
        return
    sent = await send(context, chat_id, post_text(kind, thread[-1], reason), reply_markup=post_buttons(kind, message_id))
    await core.record_post(PLATFORM, chat_id, sent.message_id, kind, thread[-1].id)


async def announce(context: Context, kind: str, message_id, *, reason: str | None = None) -> None:
    """Post a new item in every moderators' group (a failure in one group does not stop the others)."""
    for chat in await moderation_chats(context):
        try:
            await post(context, chat, kind, message_id, reason)
        except Exception:  # noqa: BLE001 - the submission is stored; a missed post shows in /queue
            log.exception("could not post %s %s to moderators' chat %s", kind, message_id, chat)


async def post_backlog(context: Context, chat_id: int, actor: UserView) -> int:
    """Post in a moderators' group the queue items no post there shows yet; how many were posted."""
    core, posted = core_of(context), 0
    for item in await core.moderation_queue(actor.id, limit=50):
        posts = await core.posts_of(item.kind, item.message.id)
        if any(p.platform == PLATFORM and str(p.chat_id) == str(chat_id) for p in posts):
            continue
        await post(context, chat_id, item.kind, item.message.id, "; ".join(item.reasons) or None)
        posted += 1
    return posted


async def moderator(update: Update, context: Context) -> UserView | None:
    """The acting person as a Chorus moderator, or None when they are not one here."""
    core = core_of(context)
    user = await member(update, context)
    chat = update.effective_chat
    if chat is not None and chat.type != "private":
        conf = await core.community_settings(PLATFORM, chat.id)
        if str(update.effective_user.id) in {str(x) for x in conf.get("moderators") or []}:
            if not is_staff(user):
                await core.sync_platform_role(user.id, Role.moderator, source=f"telegram:{chat.id}")
                user = await core.get_user(user.id)
            return user
    return user if is_staff(user) else None


async def decide(context: Context, actor: UserView, kind: str, message_id: str, accept: bool) -> str:
    """Apply a moderator's decision and mark every post of the item as decided."""
    core = core_of(context)
    if kind == "review":
        await core.review(actor.id, message_id, accept)
        outcome = "approved" if accept else "rejected"
    else:
        await core.resolve_reports(actor.id, message_id, action="dismiss" if accept else "delete")
        outcome = "kept" if accept else "deleted"
    sentence = f"{'✅' if accept else '❌'} {outcome.capitalize()} by {actor.display_name}."
    thread = await core.conversation(message_id)
    for p in await core.posts_of(kind, message_id):
        text = post_text(kind, thread[-1]) if thread else kind
        await edit(context, p.chat_id, p.chat_message_id, f"{text.rsplit(chr(10) * 2, 1)[0]}\n\n{sentence}")
    return sentence


@guarded
async def on_reaction(update: Update, context: Context) -> None:
    """👍 or 👎 on a moderation post by a moderator decides it; any other reaction or person is ignored."""
    r = update.message_reaction
    if r is None or r.user is None:
        return  # anonymous (channel) reactions cannot be attributed to a moderator
    core = core_of(context)
    conf = await core.community_settings(PLATFORM, r.chat.id)
    approve, reject = conf.get("approve_emoji") or APPROVE, conf.get("reject_emoji") or REJECT
    new = {getattr(x, "emoji", None) for x in r.new_reaction}
    if (approve in new) == (reject in new):
        return  # neither (or both): nothing to decide
    found = await core.find_post(PLATFORM, r.chat.id, r.message_id)
    if found is None or found.kind not in KINDS:
        return
    actor = await moderator(update, context)
    if actor is None:
        log.info("reaction by non-moderator %s in %s ignored", r.user.id, r.chat.id)
        return
    await decide(context, actor, found.kind, found.object_id, approve in new)


@guarded
async def on_button(update: Update, context: Context) -> None:
    """The fallback approve/reject (keep/delete) buttons."""
    q = update.callback_query
    prefix, rest = q.data.split(":", 1)
    actor = await moderator(update, context)
    if actor is None:
        await tell(update, context, "Only the moderators of this group can decide.")
        return
    kind = "review" if prefix in ("ma", "mr") else "report"
    sentence = await decide(context, actor, kind, str(uuid.UUID(rest)), prefix in ("ma", "mk"))
    await ack(update, context, sentence)


async def _require(update: Update, context: Context) -> UserView:
    actor = await moderator(update, context)
    if actor is None:
        raise PermissionDenied("Only moderators may do that.")
    return actor


def _arg(context: Context, i: int, what: str) -> str:
    if len(context.args or []) <= i:
        raise InvalidInput(f"Please give the {what}.")
    return context.args[i]


def _rest(context: Context, i: int) -> str | None:
    return " ".join((context.args or [])[i:]) or None


async def resolve_user(update: Update, context: Context, ref: str | None) -> uuid.UUID:
    """A user from a Telegram id, a Chorus id, or the author of the message replied to."""
    core = core_of(context)
    replied = update.message.reply_to_message if update.message else None
    if ref is None and replied is not None and replied.from_user is not None:
        ref = str(replied.from_user.id)
    if ref is None:
        raise InvalidInput("Name the user by Telegram id or Chorus id, or reply to one of their messages.")
    if ref.lstrip("-").isdigit():
        found = await core.find_user(PLATFORM, ref)
        if found is None:
            raise NotFound("No Chorus user has that Telegram account.")
        return found.id
    try:
        return uuid.UUID(ref)
    except ValueError:
        raise InvalidInput(f"'{ref}' is neither a Telegram id nor a Chorus id.") from None


@guarded
async def cmd_queue(update: Update, context: Context) -> None:
    """/queue [review|report]: post what awaits the moderators here, with buttons."""
    actor = await _require(update, context)
    kind = (context.args or [None])[0]
    items = await core_of(context).moderation_queue(actor.id, kind=kind, limit=10)
    if not items:
        await send(context, update.effective_chat.id, "Nothing awaits the moderators.")
        return
    for item in items:
        await post(context, update.effective_chat.id, item.kind, item.message.id, "; ".join(item.reasons) or None)


def _simple(action: str, needs_reason: bool = False):
    """A moderator command taking a message or tree id and an optional (or required) reason."""

    @guarded
    async def handler(update: Update, context: Context) -> None:
        actor = await _require(update, context)
        target = _arg(context, 0, "message id")
        reason = _rest(context, 1)
        if needs_reason and not reason:
                    raise InvalidInput("Please give a reason after the id.")
        core = core_of(context)
        if action in ("approve", "reject"):
            await core.review(actor.id, target, action == "approve", reason=reason)
            done = f"Message {action}d."
        elif action == "delete":
            done = f"Deleted ({await core.delete_message(actor.id, target, reason=reason)} messages hidden)."
        elif action == "undelete":
            done = f"Restored ({await core.undelete_message(actor.id, target, reason=reason)} messages)."
        elif action == "halt":
            done = await core.halt_tree(actor.id, target, reason=reason)
        else:
            done = await core.resume_tree(actor.id, target, reason=reason)
        await send(context, update.effective_chat.id, str(done))

    handler.__doc__ = f"/{action} <id>: {action} a message or tree."
    return handler


cmd_approve, cmd_reject = _simple("approve"), _simple("reject")
cmd_delete, cmd_undelete = _simple("delete"), _simple("undelete")
cmd_halt, cmd_resume = _simple("halt", needs_reason=True), _simple("resume")


@guarded
async def cmd_edit(update: Update, context: Context) -> None:
    """/edit <message id> <new text>: moderators any message; authors their own within the grace window."""
    # The core decides who may edit what; a moderator named by this group counts as one here.
    actor = await moderator(update, context) or await member(update, context)
    # The text is taken as typed (line breaks kept), not from the space-split arguments.
    parts = (update.message.text or "").split(None, 2)
    if len(parts) < 3 or not parts[2].strip():
        raise InvalidInput("Use /edit <message id> <new text>.")
    edited = await core_of(context).edit_message(actor.id, parts[1], parts[2])
    await send(context, update.effective_chat.id, f"Edited. Message {edited.id} now reads:\n\n{edited.text}")


@guarded
async def cmd_ban(update: Update, context: Context) -> None:
    """/ban <user> <reason>: ban a user (Telegram id, Chorus id, or reply to them)."""
    actor = await _require(update, context)
    args = context.args or []
    ref = args[0] if args and (args[0].lstrip("-").isdigit() or len(args[0]) >= 32) else None
    reason = " ".join(args[1:] if ref else args)
    if not reason:
            raise InvalidInput("Please give a reason for the ban.")
    user = await core_of(context).ban_user(actor.id, await resolve_user(update, context, ref), reason=reason)
    await send(context, update.effective_chat.id, f"{user.display_name} is banned.")


@guarded
async def cmd_unban(update: Update, context: Context) -> None:
    """/unban <user>: lift a ban."""
    actor = await _require(update, context)
    ref = (context.args or [None])[0]
    user = await core_of(context).unban_user(actor.id, await resolve_user(update, context, ref), reason=_rest(context, 1))
    await send(context, update.effective_chat.id, f"{user.display_name} may take part again.")


@guarded
async def cmd_role(update: Update, context: Context) -> None:
    """/role <user> <member|moderator|maintainer>: set a Chorus role (maintainers only)."""
    actor = await member(update, context)
    ref, role = _arg(context, 0, "user"), _arg(context, 1, "role")
    user = await core_of(context).set_role(actor.id, await resolve_user(update, context, ref), role)
    await send(context, update.effective_chat.id, f"{user.display_name} is now a {user.role}.")


@guarded
async def cmd_audit(update: Update, context: Context) -> None:
    """/audit [n]: the latest moderation actions."""
    actor = await _require(update, context)
    n = int(context.args[0]) if context.args and context.args[0].isdigit() else 10
    rows = await core_of(context).audit_log(actor.id, limit=min(n, 50))
    lines = [f"{r.created_at:%Y-%m-%d %H:%M} {r.actor_name or 'auto'}: {r.action} {r.target_type} {r.target_id}"
             + (f" ({r.reason})" if r.reason else "") for r in rows]  # fmt: skip
    await send(context, update.effective_chat.id, "\n".join(lines) or "The audit log is empty.")
