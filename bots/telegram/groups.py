"""Groups: their settings (/setup, /moderator) and open tasks posted on a schedule with deep links.

Tapping a posted task opens a private chat with the bot (t.me/<bot>?start=<kind>), where /start
continues with a task of that kind. A group gets one post per interval, counted in wall-clock
slots recorded in the database, so a restart or a second bot process never posts early.
"""

from __future__ import annotations

import time

from telegram import InlineKeyboardButton, Update

from bots.telegram import moderation
from bots.telegram.common import PLATFORM, Context, core_of, guarded, keyboard, log, member, send
from core.errors import InvalidInput, PermissionDenied
from core.models import Role

DEEP_LINKS = (("✍️ Write a prompt", "prompt"), ("💬 Write a reply", "reply"), ("🏅 Rank replies", "rank"),
              ("🏷 Label messages", "label"), ("🎲 Any task", "task"))  # fmt: skip
ADMIN_STATUSES = ("creator", "administrator")


async def group_admin(update: Update, context: Context):
    """The actor id for a settings change: a maintainer's id, or None for the group's own admin."""
    chat = update.effective_chat
    if chat is None or chat.type == "private":
        raise InvalidInput("Use this command in the group it is about.")
    user = await member(update, context)
    if user.role == Role.maintainer:
        return user.id
    status = (await context.bot.get_chat_member(chat.id, update.effective_user.id)).status
    if status not in ADMIN_STATUSES:
        raise PermissionDenied("Only the group's admins or Chorus maintainers can change its settings.")
    return None


def describe(conf: dict) -> str:
    """A group's Chorus settings in words."""
    lines = [
        f"Open tasks posted here: {'every %s minutes' % conf['post_interval_minutes'] if conf.get('task_channel') else 'no'}",
        f"Moderators' group: {'yes' if conf.get('moderation_channel') else 'no'}",
        f"Moderators (Telegram ids): {', '.join(map(str, conf.get('moderators') or [])) or 'none'}",
        f"Task language: {conf.get('lang') or 'each member their own'}",
    ]
    return "\n".join(lines)


@guarded
async def cmd_setup(update: Update, context: Context) -> None:
    """/setup tasks [minutes] | moderation | lang <tag> | off: configure this group."""
    core, chat = core_of(context), update.effective_chat
    args = [a.lower() for a in context.args or []]
    if not args:
        await send(context, chat.id, describe(await core.community_settings(PLATFORM, chat.id)))
        return
    actor = await group_admin(update, context)
    what = args[0]
    if what == "tasks":
        minutes = int(args[1]) if len(args) > 1 and args[1].isdigit() else 60
        if not 1 <= minutes <= 7 * 24 * 60:
            raise InvalidInput("The interval must be between 1 minute and a week.")
        changes = {"task_channel": str(chat.id), "post_interval_minutes": minutes}
    elif what == "moderation":
        changes = {"moderation_channel": str(chat.id)}
    elif what == "lang" and len(args) > 1:
        changes = {"lang": args[1]}
    elif what == "off":
        changes = {"task_channel": None, "moderation_channel": None}
    else:
        raise InvalidInput("Use /setup tasks [minutes], /setup moderation, /setup lang <tag> or /setup off.")
    conf = await core.update_community_settings(actor, PLATFORM, chat.id, **changes)
    text, staff = "Saved.\n" + describe(conf), None
    if what == "moderation":
        me = await context.bot.get_chat_member(chat.id, context.bot.id)
        if me.status not in ADMIN_STATUSES:
            text += "\n\nMake me an admin of this group so I can see reactions; until then use the buttons."
        staff = await moderation.moderator(update, context)
        if staff is None:
            text += "\n\nWhat waited for moderators before is posted here when a moderator sends /queue."
    await send(context, chat.id, text)
    if what == "moderation" and staff is not None:
        # Prompts and reports that came while no moderators' group was set are posted now.
        await moderation.post_backlog(context, chat.id, staff)


@guarded
async def cmd_moderator(update: Update, context: Context) -> None:
    """/moderator add|remove <telegram id> (or in reply to the person): who moderates from this group."""
    core, chat = core_of(context), update.effective_chat
    args = context.args or []
    if not args or args[0] not in ("add", "remove"):
        raise InvalidInput("Use /moderator add <telegram id> or /moderator remove <telegram id>, or reply to the person.")
    actor = await group_admin(update, context)
    replied = update.message.reply_to_message
    if len(args) > 1 and args[1].isdigit():
        tg_id = args[1]
    elif replied is not None and replied.from_user is not None:
        tg_id = str(replied.from_user.id)
    else:
        raise InvalidInput("Give the person's Telegram id, or reply to one of their messages.")
    conf = await core.community_settings(PLATFORM, chat.id)
    mods = [str(x) for x in conf.get("moderators") or []]
    mods = sorted(set(mods) | {tg_id}) if args[0] == "add" else [m for m in mods if m != tg_id]
    await core.update_community_settings(actor, PLATFORM, chat.id, moderators=mods)
    found = await core.find_user(PLATFORM, tg_id)
    if found is not None:
        role = Role.moderator if args[0] == "add" else Role.member
        await core.sync_platform_role(found.id, role, source=f"telegram:{chat.id}")
    await send(context, chat.id, f"Moderators here: {', '.join(mods) or 'none'}.")


def deep_links(username: str) -> object:
    """URL buttons that open a private chat with the bot at a task of each kind."""
    rows = [[InlineKeyboardButton(label, url=f"https://t.me/{username}?start={kind}")] for label, kind in DEEP_LINKS]
    return keyboard(rows)


async def post_open_tasks(context: Context, chat_id: int, conf: dict) -> None:
    """Post what work is open, with a deep link per kind of task."""
    stats = await core_of(context).collection_stats(lang=conf.get("lang"))
    states = stats.get("trees", {}).get("by_state", {})
    text = (
        "Chorus needs you! Help build an open assistant, one message at a time.\n\n"
        f"Prompts awaiting review: {states.get('initial_prompt_review', 0)}\n"
        f"Conversations growing: {states.get('growing', 0)}\n"
        f"Conversations to rank: {states.get('ranking', 0) + states.get('backlog_ranking', 0)}\n\n"
        "Tap a task to continue in a private chat with me."
    )
    await send(context, chat_id, text, reply_markup=deep_links(context.bot.username))


async def post_due(context: Context) -> None:
    """Job: post open tasks in every task group whose interval has passed."""
    core = core_of(context)
    now = time.time()
    for scope, conf in (await core.all_community_settings(PLATFORM)).items():
        if not conf.get("task_channel"):
            continue
        interval = max(1, int(conf.get("post_interval_minutes") or 60)) * 60
        if not await core.first_delivery(PLATFORM, f"group-post:{scope}:{interval}:{int(now // interval)}"):
            continue  # this slot's post is out already (before a restart, or by another process)
        try:
            await post_open_tasks(context, int(conf["task_channel"]), conf)
        except Exception:  # noqa: BLE001 - one group's failure (bot removed) must not stop the others
            log.exception("could not post open tasks to %s", scope)
