"""Tasks in a private chat: /task, showing a task, writing by reply (ForceReply), drafts, skip, report.

A task is shown as the conversation (split within Telegram's limit) and one control message with
the buttons; a writing task adds a ForceReply message. Which messages show which task is kept in
the database (record_post and the task's ui), so a reply or a tap after a restart still lands.
"""

from __future__ import annotations

from telegram import ForceReply, Update

from bots.render import TELEGRAM_MESSAGE_LIMIT, conversation_blocks, letter, paginate, task_title
from bots.telegram import labels, moderation, ranking
from bots.telegram.common import (
    PLATFORM, Context, ack, button, core_of, edit, finished, footer, guarded, hex_id, keyboard, member, private, send,
    unpack,
)  # fmt: skip
from core.errors import InvalidInput, NoTaskAvailable
from core.models import TaskType
from core.views import TaskView

# What a person may type after /task, and the task types tried in that order.
TYPE_ALIASES: dict[str, tuple[TaskType, ...]] = {
    "prompt": (TaskType.initial_prompt,),
    "reply": (TaskType.assistant_reply, TaskType.prompter_reply),
    "assistant": (TaskType.assistant_reply,),
    "user": (TaskType.prompter_reply,),
    "rank": (TaskType.rank_assistant_replies, TaskType.rank_prompter_replies),
    "label": (TaskType.label_initial_prompt, TaskType.label_assistant_reply, TaskType.label_prompter_reply),
    **{t.value: (t,) for t in TaskType},
}
WRITE_HINT = "✍️ Reply to this message with your text."


def conversation_pages(task: TaskView) -> list[str]:
    """The conversation of a task as plain-text pages, each within Telegram's limit (UTF-16 units)."""
    blocks = conversation_blocks(task)
    if not blocks:
        return []
    limit = TELEGRAM_MESSAGE_LIMIT
    while True:
        pages = paginate(blocks, limit, lambda h, b: f"— {h} —\n{b}" if b else f"— {h} —")
        longest = max(len(p.encode("utf-16-le")) // 2 for p in pages)
        if longest <= TELEGRAM_MESSAGE_LIMIT:
            return pages
        limit -= longest - TELEGRAM_MESSAGE_LIMIT + 16  # astral characters count twice in Telegram


def control(task: TaskView) -> tuple[str, object]:
    """The text and buttons of a task's control message, from the task as stored."""
    if task.kind == "rank":
        return ranking.control(task)
    if task.kind == "label":
        return labels.control(task)
    t = hex_id(task.id)
    text = task_title(task)
    rows = []
    if task.draft:
        text += f"\n\nYour saved draft:\n{task.draft}"
        rows.append([button("📨 Send the draft", "ds", t)])
    rows.append(footer(task))
    return text, keyboard(rows)


def has_draft(task: TaskView) -> bool:
    """Whether skipping would throw away something the person made (text, a partial ranking, labels)."""
    return bool(task.draft or task.ui.get("order") or task.ui.get("values"))


async def show_task(context: Context, chat_id: int, user_id, task: TaskView) -> None:
    """Send a task to a chat and remember which messages show it."""
    core = core_of(context)
    for page in conversation_pages(task):
        await context.bot.send_message(chat_id, page)
    text, markup = control(task)
    ctl = await send(context, chat_id, text, reply_markup=markup)
    await core.record_post(PLATFORM, chat_id, ctl.message_id, "task", task.id)
    ui = {**task.ui, "chat": chat_id, "control": ctl.message_id}
    if task.kind == "write":
        fr = await context.bot.send_message(chat_id, WRITE_HINT, reply_markup=ForceReply(input_field_placeholder="Your text"))
        await core.record_post(PLATFORM, chat_id, fr.message_id, "task", task.id)
        ui["reply"] = fr.message_id
    await core.set_task_ui(user_id, task.id, ui)


async def refresh(context: Context, task: TaskView) -> None:
    """Redraw a task's control message after its state changed."""
    if "control" in task.ui:
        text, markup = control(task)
        await edit(context, task.ui["chat"], task.ui["control"], text, markup)


async def new_task(update: Update, context: Context, words: list[str]) -> None:
    """Find a task of the asked kind (or any) and show it."""
    core = core_of(context)
    user = await member(update, context)
    kind = words[0].lower() if words else None
    if kind is not None and kind not in TYPE_ALIASES:
        raise InvalidInput(f"'{kind}' is not a kind of task. Try one of: prompt, reply, assistant, user, rank, label.")
    for type_ in TYPE_ALIASES[kind] if kind else (None,):
        try:
            task = await core.request_task(user.id, type=type_)
            break
        except NoTaskAvailable:
            continue
    else:
        raise NoTaskAvailable()
    await show_task(context, update.effective_chat.id, user.id, task)


@guarded
async def cmd_task(update: Update, context: Context) -> None:
    """/task [kind]: the next task, in a private chat."""
    if not private(update):
        link = f"https://t.me/{context.bot.username}?start=task"
        await send(context, update.effective_chat.id, f"Tasks are done in a private chat with me: {link}")
        return
    await new_task(update, context, context.args or [])


@guarded
async def on_next(update: Update, context: Context) -> None:
    """The "Next task" button."""
    await ack(update, context)
    await new_task(update, context, [])


async def _own_task(update: Update, context: Context) -> tuple[object, TaskView]:
    user = await member(update, context)
    task = await core_of(context).get_task(user.id, unpack(update.callback_query.data)[0])
    return user, task


@guarded
async def on_skip(update: Update, context: Context) -> None:
    """Skip, asking first when the person has a draft that would be lost."""
    user, task = await _own_task(update, context)
    if has_draft(task) and "control" in task.ui:
        t = hex_id(task.id)
        await edit(context, task.ui["chat"], task.ui["control"], "You have unsent work on this task. Skip it anyway?",
                   keyboard([[button("Yes, skip", "sy", t), button("No, keep it", "sn", t)]]))  # fmt: skip
        return
    await _skip(update, context, user, task)


@guarded
async def on_skip_confirmed(update: Update, context: Context) -> None:
    """The person confirmed skipping a task with a draft."""
    user, task = await _own_task(update, context)
    await _skip(update, context, user, task)


async def _skip(update: Update, context: Context, user, task: TaskView) -> None:
    result = await core_of(context).skip_task(user.id, task.id)
    await ack(update, context, "Skipped.")
    await finished(context, task, result.message)


@guarded
async def on_keep(update: Update, context: Context) -> None:
    """The person chose not to skip: show the task again."""
    _, task = await _own_task(update, context)
    await refresh(context, task)


@guarded
async def on_send_draft(update: Update, context: Context) -> None:
    """Submit the saved draft of a writing task."""
    user, task = await _own_task(update, context)
    if not task.draft:
        raise InvalidInput("There is no draft to send.")
    await submit_text(update, context, user, task, task.draft)


async def submit_text(update: Update, context: Context, user, task: TaskView, text: str) -> None:
    """Store a written answer, say so, and send a new prompt to the moderators."""
    core = core_of(context)
    result = await core.submit_reply(user.id, task.id, text)
    await ack(update, context, "Saved.")
    text = result.message
    if result.created_message_id is not None:  # how to fix a typo: the author may edit for a while
        grace = core.settings.task.edit_grace_minutes
        text += f"\n\nTo correct it within {grace} minutes: /edit {result.created_message_id} <new text>"
    await send(context, update.effective_chat.id, text, reply_markup=keyboard([[button("▶️ Next task", "nt")]]))
    await finished(context, task, "Answered.")
    if task.type == TaskType.initial_prompt:
        await moderation.announce(context, "review", result.created_message_id)


@guarded
async def on_report(update: Update, context: Context) -> None:
    """Report: a ranking task first asks which message; others report the last message shown."""
    _, task = await _own_task(update, context)
    t = hex_id(task.id)
    if task.candidates:
        rows = [[button("The conversation", "rq", t, -1)]] + [[button(f"Reply {letter(i)}", "rq", t, i)] for i in range(len(task.candidates))]
        await ack(update, context)
        await send(context, update.effective_chat.id, "Which message do you report?", reply_markup=keyboard(rows))
        return
    await _ask_reason(update, context, task, -1)


@guarded
async def on_report_which(update: Update, context: Context) -> None:
    """The message of a ranking task being reported was chosen."""
    _, task = await _own_task(update, context)
    await _ask_reason(update, context, task, int(unpack(update.callback_query.data)[1]))


async def _ask_reason(update: Update, context: Context, task: TaskView, index: int) -> None:
    target = task.target if index < 0 else task.candidates[index]
    if target is None:
        raise InvalidInput("There is no message to report in this task.")
    await ack(update, context)
    msg = await context.bot.send_message(update.effective_chat.id, "Why do you report this message? Reply with the reason.",
                                         reply_markup=ForceReply(input_field_placeholder="The reason"))  # fmt: skip
    await core_of(context).record_post(PLATFORM, msg.chat_id, msg.message_id, "report", target.id)


@guarded
async def on_text(update: Update, context: Context) -> None:
    """Text in a private chat: an answer when it replies to a task, a report reason, or else a draft."""
    core = core_of(context)
    msg = update.message
    user = await member(update, context)
    replied = msg.reply_to_message
    post = await core.find_post(PLATFORM, msg.chat_id, replied.message_id) if replied else None
    if post is not None and post.kind == "task":
        task = await core.get_task(user.id, post.object_id)
        await submit_text(update, context, user, task, msg.text)
        return
    if post is not None and post.kind == "report":
        await core.report(user.id, post.object_id, msg.text)
        await send(context, msg.chat_id, "Thank you. The moderators will look at it.")
        await moderation.announce(context, "report", post.object_id, reason=msg.text)
        return
    shown = [t for t in await core.current_tasks(user.id) if t.kind == "write" and t.ui.get("chat") == msg.chat_id]
    if not shown:
        await send(context, msg.chat_id, "Send /task to get a task, or /help to see what I can do.")
        return
    task = shown[0]
    await core.save_draft(user.id, task.id, msg.text)
    await send(context, msg.chat_id, "I kept this as a draft of your task. Send it as your answer?",
               reply_markup=keyboard([[button("📨 Send the draft", "ds", hex_id(task.id))]]))  # fmt: skip
