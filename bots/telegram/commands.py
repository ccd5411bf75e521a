"""Member commands: /start (with deep links), /help, /language, /points, /leaderboard, and the menu."""

from __future__ import annotations

from telegram import Bot, BotCommand, BotCommandScopeAllChatAdministrators, BotCommandScopeDefault, Update

from bots.render import points_formula
from bots.telegram import tasks
from bots.telegram.common import Context, core_of, guarded, member, private, send
from core.errors import InvalidInput

MEMBER_COMMANDS = [
    ("task", "Get a task: prompt, reply, rank or label"),
    ("language", "Set the language of your tasks"),
    ("points", "Your points and level"),
    ("leaderboard", "Top contributors: day, week, month or all"),
    ("help", "What Chorus is and how to take part"),
]
ADMIN_COMMANDS = [
    ("setup", "Configure this group: tasks, moderation, lang, off"),
    ("moderator", "Add or remove a moderator of this group"),
    ("queue", "Post what awaits the moderators"),
    ("approve", "Approve a message by id"),
    ("reject", "Reject a message by id"),
    ("delete", "Delete a message by id"),
    ("undelete", "Restore a deleted message"),
    ("halt", "Halt a conversation tree, with a reason"),
    ("resume", "Resume a halted tree"),
    ("ban", "Ban a user, with a reason"),
    ("unban", "Lift a ban"),
    ("audit", "Latest moderation actions"),
    ("edit", "Correct a message: /edit <id> <new text>"),
    ("purge", "Maintainers: remove a user's data"),
    ("export", "Maintainers: the data as an oasst file"),
]
HELP = """Chorus builds an open assistant with its community: you write prompts, reply as the user or as the assistant, rank replies and label messages. Moderators review the prompts.

/task – your next task (or /task prompt, reply, assistant, user, rank, label)
  • writing: reply to my message with your text
  • ranking: tap the replies from best to worst, then Submit
  • labels: answer each question with the buttons
/language <code> – the language of your tasks (e.g. en, de, pt-BR)
/points – your points, level and streak
/leaderboard [day|week|month|all] – top contributors
/edit <id> <new text> – correct what you wrote, shortly after sending it
/help – this message

Moderators: /queue, /approve, /reject, /delete, /undelete, /halt, /resume, /ban, /unban, /audit, /edit (any message).
Maintainers: /role, /purge <user> <reason>, /export [state=…] [lang=…] [seed=…].
Group admins: /setup tasks [minutes], /setup moderation, /moderator add|remove."""


async def publish_menu(bot: Bot) -> None:
    """Set the command menu: member commands everywhere, moderation commands for group admins."""
    members = [BotCommand(c, d) for c, d in MEMBER_COMMANDS]
    await bot.set_my_commands(members, scope=BotCommandScopeDefault())
    await bot.set_my_commands(members + [BotCommand(c, d) for c, d in ADMIN_COMMANDS],
                              scope=BotCommandScopeAllChatAdministrators())  # fmt: skip


@guarded
async def cmd_start(update: Update, context: Context) -> None:
    """/start [kind]: greet, or continue with a task when opened from a group's deep link."""
    await member(update, context)
    payload = (context.args or [None])[0]
    if payload and private(update):
        await tasks.new_task(update, context, [] if payload == "task" else [payload])
        return
    await send(context, update.effective_chat.id, HELP)


@guarded
async def cmd_help(update: Update, context: Context) -> None:
    """/help: what the bot does."""
    await send(context, update.effective_chat.id, HELP)


@guarded
async def cmd_language(update: Update, context: Context) -> None:
    """/language [tag]: show or set the language of one's tasks."""
    user = await member(update, context)
    if not context.args:
        await send(context, update.effective_chat.id, f"Your tasks are in '{user.lang}'. Change it with /language <code>, e.g. /language de.")
        return
    user = await core_of(context).set_language(user.id, context.args[0])
    await send(context, update.effective_chat.id, f"Your tasks will now be in '{user.lang}'.")


@guarded
async def cmd_points(update: Update, context: Context) -> None:
    """/points: one's points, level and streak, with the formula."""
    user = await member(update, context)
    p = await core_of(context).user_points(user.id)
    parts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in p.breakdown.items() if v)
    nxt = f" ({p.next_level_at - p.total} to the next)" if p.next_level_at else ""
    text = (f"{user.display_name}: {p.total} points, level {p.level} – {p.level_name}{nxt}.\n"
            f"Streak: {p.streak_days} days.\n" + (f"From: {parts}.\n" if parts else "") + "\n" + points_formula())  # fmt: skip
    await send(context, update.effective_chat.id, text)


@guarded
async def cmd_leaderboard(update: Update, context: Context) -> None:
    """/leaderboard [day|week|month|all]: the top contributors."""
    window = (context.args or ["all"])[0].lower()
    if window not in ("day", "week", "month", "all"):
        raise InvalidInput("Use /leaderboard day, week, month or all.")
    rows = await core_of(context).leaderboard(window, limit=10)
    title = {"all": "all time", "day": "today", "week": "this week", "month": "this month"}[window]
    lines = [f"{r.position}. {r.display_name} – {r.points}" for r in rows] or ["No points yet: be the first with /task!"]
    await send(context, update.effective_chat.id, f"Top contributors, {title}:\n" + "\n".join(lines))
