"""Commands every member uses: /task, /language, /points, /leaderboard, /help, /tutorial."""

from __future__ import annotations

import discord
from discord import app_commands

from bots import render
from bots.discord.flow import open_task
from bots.discord.items import ActionButton
from bots.discord.people import person
from bots.discord.replies import Screen, answer, frozen
from bots.discord.screens import TASK_CHOICES
from core.errors import InvalidInput

WINDOWS = {"day": "today", "week": "this week", "month": "this month", "all": "of all time"}

HELP = """**Chorus** grows an open assistant model from this community's conversations.
**/task** get a task (only you see it): write a prompt, reply as the user or the assistant, rank replies, or label a message. Pick a kind with `type:`.
**/language** the language your tasks come in · **/points** your points and how they are counted · **/leaderboard** the most active members · **/tutorial** a short tour.
Moderators: **/mod** queue, ban, unban, delete, undelete, halt, resume; react ✅ or ❌ in the moderation channel.
Maintainers: **/admin** role, roles, channel, set, settings, export."""

TUTORIAL = """**A short tour of Chorus**
1. **/task** shows you a conversation and what to do with it. Only you see it.
2. **Write** tasks open a box for your text: write as a helpful, honest assistant, or as a curious person.
3. **Rank** tasks show several replies: pick the best, then the next best. If none is acceptable, say so.
4. **Label** tasks ask about one message: is it spam, is it rude, how good is it? Answer with the buttons.
5. After each task the next one is one click away. **Skip** what you cannot judge; **Report** what breaks the rules.
Moderators review new prompts, so quality counts more than speed. Ready?"""


@app_commands.command(name="task", description="Get a task to do: write, rank or label (only you see it)")
@app_commands.describe(type="the kind of task (any kind when left empty)", language="a language code such as en, de or pt-BR")
@app_commands.choices(type=[app_commands.Choice(name=label, value=value) for value, label in TASK_CHOICES.items()])
async def task(interaction: discord.Interaction, type: app_commands.Choice[str] | None = None, language: str | None = None) -> None:
    """Show the member's next task."""
    if language is not None and not all(p.isalnum() for p in language.strip().split("-")):
        await answer(interaction, _fail(f"'{language}' is not a language code. Use a code such as en, de or pt-BR."))
        return
    await open_task(interaction, type=type.value if type else None, lang=language.strip() if language else None)


async def _fail(text: str) -> Screen:
    raise InvalidInput(text)


@app_commands.command(name="language", description="Choose the language your tasks come in")
@app_commands.describe(code="a language code such as en, de or pt-BR")
async def language(interaction: discord.Interaction, code: str) -> None:
    """Set the member's task language."""

    async def work() -> Screen:
        user = await person(interaction)
        updated = await interaction.client.core.set_language(user.id, code)
        return Screen(f"Your tasks now come in **{render.escape_discord(updated.lang)}**.")

    await answer(interaction, work())


@app_commands.command(name="points", description="Your points, level and streak, and how points are counted")
async def points(interaction: discord.Interaction) -> None:
    """Show the member's points and the formula in words."""

    async def work() -> Screen:
        core = interaction.client.core
        user = await person(interaction)
        mine = await core.user_points(user.id)
        place = await core.leaderboard_position(user.id, "all")
        where = f"\nYou are number {place[0]} of {place[1]} on the leaderboard." if place else ""
        return Screen(f"{render.points_in_words(mine)}{where}\n\n-# {render.points_formula()}")

    await answer(interaction, work())


@app_commands.command(name="leaderboard", description="The members with the most points")
@app_commands.describe(window="the period to count (all time when left empty)")
@app_commands.choices(window=[app_commands.Choice(name=f"{k}: {v}", value=k) for k, v in WINDOWS.items()])
async def leaderboard(interaction: discord.Interaction, window: app_commands.Choice[str] | None = None) -> None:
    """Show the top ten of a period."""
    period = window.value if window else "all"

    async def work() -> Screen:
        rows = await interaction.client.core.leaderboard(period, limit=10)
        if not rows:
            return Screen(f"Nobody has points {WINDOWS[period]} yet. Be the first: /task")
        lines = [f"**Leaderboard {WINDOWS[period]}**"]
        lines += [f"{r.position}. {render.escape_discord(render.short(r.display_name, 40))}: {r.points}" for r in rows]
        return Screen("\n".join(lines))

    await answer(interaction, work())


@app_commands.command(name="help", description="What Chorus is and which commands it has")
async def help_(interaction: discord.Interaction) -> None:
    """Show the commands."""
    await answer(interaction, _static(HELP))


@app_commands.command(name="tutorial", description="A short tour of how tasks work")
async def tutorial(interaction: discord.Interaction) -> None:
    """Show the tour, with a first task one click away."""
    view = discord.ui.View(timeout=None)
    view.add_item(ActionButton("take", None, "", label="Try a task", style=discord.ButtonStyle.primary))
    await answer(interaction, _static(TUTORIAL, frozen(view)))


async def _static(text: str, view: discord.ui.View | None = None) -> Screen:
    return Screen(text, view)


COMMANDS = [task, language, points, leaderboard, help_, tutorial]
