"""What every Telegram handler shares: the core, the member behind an update, callback data, errors."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import ContextTypes

from bots.render import TELEGRAM_MESSAGE_LIMIT, split_text, task_title
from core.errors import ChorusError
from core.models import Role
from core.service import Chorus
from core.views import TaskView, UserView

log = logging.getLogger("chorus.telegram")

PLATFORM = "telegram"
CALLBACK_LIMIT = 64  # bytes; Telegram rejects longer callback_data (the library does not check)
ALERT_LIMIT = 200  # characters of a callback answer
Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context], Awaitable[None]]
SORRY = "Sorry, something went wrong on our side. Please try again; what I confirmed as saved is kept."


def core_of(context: Context) -> Chorus:
    """The Chorus core the application was built with."""
    return context.application.bot_data["core"]


async def member(update: Update, context: Context) -> UserView:
    """The Chorus user behind the update's sender, created on first sight."""
    u = update.effective_user
    return await core_of(context).user_from_identity(PLATFORM, u.id, display_name=u.full_name, username=u.username)


def pack(*parts: str | int) -> str:
    """Callback data from ids (never text), checked against Telegram's 64-byte limit."""
    data = ":".join(str(p) for p in parts)
    if len(data.encode()) > CALLBACK_LIMIT:
        raise ValueError(f"callback data over {CALLBACK_LIMIT} bytes: {data!r}")
    return data


def hex_id(value: uuid.UUID | str) -> str:
    """A uuid in its 32-character form, to keep callback data short."""
    return uuid.UUID(str(value)).hex


def unpack(data: str) -> list[str]:
    """The parts of callback data after its prefix."""
    return data.split(":")[1:]


def button(label: str, *parts: str | int) -> InlineKeyboardButton:
    """An inline button carrying packed callback data."""
    return InlineKeyboardButton(label, callback_data=pack(*parts))


def keyboard(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup | None:
    """An inline keyboard from non-empty rows, or None when there is nothing to tap."""
    rows = [r for r in rows if r]
    return InlineKeyboardMarkup(rows) if rows else None


async def send(context: Context, chat_id: int, text: str, **kwargs):
    """Send text, split across messages within Telegram's limit; the markup goes on the last one."""
    markup = kwargs.pop("reply_markup", None)
    parts = split_text(text, TELEGRAM_MESSAGE_LIMIT)
    sent = None
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        sent = await context.bot.send_message(chat_id, part, reply_markup=markup if last else None, **kwargs)
    return sent


async def edit(context: Context, chat_id: int | str, message_id: int | str, text: str, markup=None) -> None:
    """Edit a message the bot sent; a message that is gone or unchanged is not an error."""
    text = split_text(text, TELEGRAM_MESSAGE_LIMIT)[0]
    try:
        await context.bot.edit_message_text(text, chat_id=int(chat_id), message_id=int(message_id), reply_markup=markup)
    except BadRequest as e:
        if "not modified" not in str(e) and "not found" not in str(e):
            raise


async def tell(update: Update, context: Context, text: str, *, alert: bool = True) -> None:
    """Tell the person something: as a callback answer when they tapped, else as a message."""
    q = update.callback_query
    if q is not None and not getattr(context, "answered", False):
        context.answered = True
        if len(text) <= ALERT_LIMIT:
            await q.answer(text, show_alert=alert)
            return
        await q.answer()
    chat = update.effective_chat
    if chat is not None:
        await send(context, chat.id, text)


def guarded(fn: Handler) -> Handler:
    """Show a core error as its sentence; answer every tap so the client stops spinning."""

    @functools.wraps(fn)
    async def wrapper(update: Update, context: Context) -> None:
        try:
            await fn(update, context)
        except ChorusError as e:
            await tell(update, context, e.message)
        except Forbidden:
            log.info("the bot may not write to chat %s", update.effective_chat and update.effective_chat.id)
        except Exception:
            # A bug or an outage must not leave the person guessing whether their work was saved.
            log.exception("handler %s failed on update %s", fn.__name__, update.update_id)
            try:
                await tell(update, context, SORRY)
            except Exception:  # noqa: BLE001 - the platform itself is failing; the log has it
                pass
        finally:
            q = update.callback_query
            if q is not None and not getattr(context, "answered", False):
                context.answered = True
                try:
                    await q.answer()
                except BadRequest:
                    pass  # the query is too old: nothing to stop spinning

    return wrapper


async def ack(update: Update, context: Context, text: str | None = None) -> None:
    """Answer a tap once (a short toast when text is given)."""
    q = update.callback_query
    if q is not None and not getattr(context, "answered", False):
        context.answered = True
        await q.answer(text)


def is_staff(user: UserView) -> bool:
    """Whether the user is a Chorus moderator or maintainer."""
    return Role(user.role).level >= Role.moderator.level


def private(update: Update) -> bool:
    """Whether the update comes from a private chat."""
    return update.effective_chat is not None and update.effective_chat.type == "private"


def footer(task: TaskView) -> list[InlineKeyboardButton]:
    """Skip and report buttons every task has."""
    t = hex_id(task.id)
    row = [button("⏭ Skip", "sk", t)]
    if task.conversation:
        row.append(button("⚑ Report", "rp", t))
    return row


async def finished(context: Context, task: TaskView, sentence: str) -> None:
    """Replace a task's buttons with the outcome and a button for the next task."""
    if "control" in task.ui:
        await edit(context, task.ui["chat"], task.ui["control"], f"{task_title(task)}\n\n✅ {sentence}",
                   keyboard([[button("▶️ Next task", "nt")]]))  # fmt: skip


async def save_ui_and_redraw(update: Update, context: Context, user, task: TaskView, ui: dict, control) -> None:
    """Store a task's half-done state, acknowledge the tap, and redraw the message that was tapped."""
    await core_of(context).set_task_ui(user.id, task.id, ui)
    await ack(update, context)
    text, markup = control(replace(task, ui=ui))
    shown = update.callback_query.message  # the message tapped shows this task: redraw it
    await edit(context, shown.chat.id, shown.message_id, text, markup)
