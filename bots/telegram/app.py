"""The Telegram bot's wiring in one place, and `run_telegram`, which `chorus run` starts.

Handlers live in one module per concept; this module only connects them to updates. The bot runs
in the caller's event loop (initialize/start/stop, never run_polling, which owns the loop).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from aiohttp import web
from telegram import Update
from telegram.ext import (
    AIORateLimiter, Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler, MessageHandler,
    MessageReactionHandler, TypeHandler, filters,
)  # fmt: skip

from bots.telegram import commands, groups, labels, maintainers, moderation, ranking, tasks
from bots.telegram.updates import ChatOrderedProcessor, drop_redelivered
from core.config import Settings
from core.service import Chorus

log = logging.getLogger("chorus.telegram")

# message_reaction is only sent to bots that ask for it (and are admins of the group).
ALLOWED_UPDATES = ["message", "callback_query", "message_reaction"]
POLL_TIMEOUT = 30  # seconds a getUpdates call may wait for news


def build_application(core: Chorus, settings: Settings, *, post_every: float = 60.0, rate_limiter: bool = True) -> Application:
    """An Application with every handler registered; `post_every` is how often the group poster wakes."""
    builder = ApplicationBuilder().token(settings.telegram_token).concurrent_updates(ChatOrderedProcessor(256))
    if settings.telegram_api_base:
        base = settings.telegram_api_base
        builder = builder.base_url(base).base_file_url(base.rsplit("/bot", 1)[0] + "/file/bot")
    if rate_limiter:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    builder = builder.get_updates_read_timeout(POLL_TIMEOUT + 10).connection_pool_size(64).pool_timeout(30)
    app = builder.build()
    app.bot_data["core"] = core

    app.add_handler(TypeHandler(Update, drop_redelivered), group=-1)
    command_map = {
        "start": commands.cmd_start, "help": commands.cmd_help, "language": commands.cmd_language,
        "points": commands.cmd_points, "leaderboard": commands.cmd_leaderboard, "task": tasks.cmd_task,
        "setup": groups.cmd_setup, "moderator": groups.cmd_moderator, "queue": moderation.cmd_queue,
        "approve": moderation.cmd_approve, "reject": moderation.cmd_reject, "delete": moderation.cmd_delete,
        "undelete": moderation.cmd_undelete, "halt": moderation.cmd_halt, "resume": moderation.cmd_resume,
        "ban": moderation.cmd_ban, "unban": moderation.cmd_unban, "role": moderation.cmd_role,
        "audit": moderation.cmd_audit, "edit": moderation.cmd_edit, "purge": maintainers.cmd_purge,
        "export": maintainers.cmd_export,
    }  # fmt: skip
    for name, handler in command_map.items():
        app.add_handler(CommandHandler(name, handler))
    callbacks = {
        "nt": tasks.on_next, "sk": tasks.on_skip, "sy": tasks.on_skip_confirmed, "sn": tasks.on_keep,
        "ds": tasks.on_send_draft, "rp": tasks.on_report, "rq": tasks.on_report_which,
        "rk": ranking.on_pick, "ru": ranking.on_undo, "rs": ranking.on_submit, "rn": ranking.on_none,
        "lv": labels.on_value, "lf": labels.on_flag, "ln": labels.on_next, "lb": labels.on_back, "ls": labels.on_submit,
        "ma": moderation.on_button, "mr": moderation.on_button, "mk": moderation.on_button, "md": moderation.on_button,
        "pg": maintainers.on_purge, "pc": maintainers.on_purge_cancel,
    }  # fmt: skip
    for prefix, handler in callbacks.items():
        app.add_handler(CallbackQueryHandler(handler, pattern=rf"^{prefix}(:|$)"))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, tasks.on_text))
    app.add_handler(MessageReactionHandler(moderation.on_reaction))
    if app.job_queue is not None and post_every > 0:
        app.job_queue.run_repeating(groups.post_due, interval=post_every, first=post_every)
    return app


def webhook_secret(token: str) -> str:
    """A secret Telegram echoes in a header, derived from the token so it survives restarts."""
    return hashlib.sha256(f"chorus-webhook:{token}".encode()).hexdigest()[:48]


async def start_webhook(app: Application, settings: Settings) -> web.AppRunner:
    """Receive updates by webhook on telegram_webhook_listen and register telegram_webhook_url."""
    secret = webhook_secret(settings.telegram_token)

    async def receive(request: web.Request) -> web.Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != secret:
            return web.Response(status=403)
        update = Update.de_json(await request.json(), app.bot)
        await app.update_queue.put(update)
        return web.Response(text="ok")

    server = web.Application()
    server.router.add_post("/{tail:.*}", receive)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    host, _, port = settings.telegram_webhook_listen.rpartition(":")
    await web.TCPSite(runner, host or "127.0.0.1", int(port)).start()
    await app.bot.set_webhook(settings.telegram_webhook_url, allowed_updates=ALLOWED_UPDATES, secret_token=secret)
    return runner


async def run_telegram(
    core: Chorus, settings: Settings, *, post_every: float = 60.0, rate_limiter: bool = True, ready: asyncio.Event | None = None
) -> None:
    """Run the Telegram bot until cancelled: long polling, or a webhook when telegram_webhook_url is set."""
    app = build_application(core, settings, post_every=post_every, rate_limiter=rate_limiter)
    await app.initialize()
    runner = None
    try:
        await commands.publish_menu(app.bot)
        await app.start()
        if settings.telegram_webhook_url:
            runner = await start_webhook(app, settings)
        else:
            await app.updater.start_polling(allowed_updates=ALLOWED_UPDATES, timeout=POLL_TIMEOUT, poll_interval=0)
        log.info("Telegram bot @%s is running", app.bot.username)
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if runner is not None:
            await runner.cleanup()
        if app.running:
            await app.stop()
        await app.shutdown()
