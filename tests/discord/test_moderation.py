"""The moderation channel, decisions by reaction, and the moderators' and maintainers' commands."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from core.models import Message, Tree, TreeState


async def configure(fake):
    """A server admin points Chorus at the moderation channel and maps the Mods role."""
    fake.add_role("Mods")
    owner = fake.add_member("owner", admin=True)
    shown = await fake.answer(await fake.command(owner, "admin channel", purpose="moderation_channel", channel=fake.channels["moderation"]))
    assert "Moderation channel: <#" in shown["content"]
    shown = await fake.answer(await fake.command(owner, "admin roles", purpose="moderator_roles", role=fake.roles["Mods"]))
    assert f"<@&{fake.roles['Mods']}>" in shown["content"]
    return owner


async def write_prompt(fake, member, text: str) -> None:
    screen = await fake.answer(await fake.command(member, "task", type="initial_prompt"))
    opened = await fake.click(member, screen, "Write")
    await fake.answer(opened)
    await fake.answer(await fake.submit(member, opened, {"Your text": text}))


async def message(core, text: str) -> Message:
    async with core.db.read() as s:
        return (await s.scalars(select(Message).where(Message.text == text))).one()


def post_of(fake, text: str) -> dict:
    return next((m for m in fake.channel_messages("moderation") if text in m["content"] and "React" in m["content"]), None)


def replies_to(fake, post: dict) -> list[dict]:
    return [m for m in fake.channel_messages("moderation") if m is not post and "prompt" in m["content"] and "React" not in m["content"]]


async def test_moderators_decide_by_reaction_members_cannot(discord_env):
    fake, core = discord_env.fake, discord_env.core
    await configure(fake)
    writer, member = fake.add_member("writer"), fake.add_member("member")
    mod = fake.add_member("mod", roles=("Mods",))
    await write_prompt(fake, writer, "First prompt @everyone")
    await write_prompt(fake, writer, "Second prompt")
    first = await fake.until(lambda: post_of(fake, "First prompt"))
    second = await fake.until(lambda: post_of(fake, "Second prompt"))
    assert {r["emoji"]["name"] for r in first["reactions"]} == {"✅", "❌"}

    await fake.react(member, first, "✅")  # a member's reaction changes nothing
    await asyncio.sleep(0.3)
    await fake.react(mod, second, "✅")
    await fake.until(lambda: [m for m in fake.channel_messages("moderation") if "approved the prompt" in m["content"]])
    assert (await message(core, "Second prompt")).review_result is True
    assert (await message(core, "First prompt @everyone")).review_result is None
    assert not [m for m in fake.channel_messages("moderation") if "member" in m["content"] and "prompt" in m["content"]]

    await fake.react(mod, first, "❌")
    await fake.until(lambda: [m for m in fake.channel_messages("moderation") if "rejected the prompt" in m["content"]])
    rejected = await message(core, "First prompt @everyone")
    assert rejected.review_result is False
    async with core.db.read() as s:
        assert (await s.get(Tree, rejected.tree_id)).state == TreeState.aborted_low_grade


async def test_reports_reach_the_moderation_channel_and_delete_by_reaction(discord_env):
    fake, core = discord_env.fake, discord_env.core
    await configure(fake)
    writer, reader = fake.add_member("writer"), fake.add_member("reader")
    mod = fake.add_member("mod", roles=("Mods",))
    await write_prompt(fake, writer, "Buy cheap pills now")
    screen = await fake.answer(await fake.command(reader, "task", type="label_initial_prompt"))
    opened = await fake.click(reader, screen, "Report")
    await fake.answer(opened)
    thanks = await fake.answer(await fake.submit(reader, opened, {"Why should moderators look at it?": "spam"}))
    assert "moderators will look" in thanks["content"]
    post = await fake.until(lambda: next((m for m in fake.channel_messages("moderation") if "reported" in m["content"]), None))
    await fake.react(mod, post, "❌")
    await fake.until(lambda: [m for m in fake.channel_messages("moderation") if "deleted the message" in m["content"]])
    assert (await message(core, "Buy cheap pills now")).deleted


async def test_moderator_commands_need_the_role(discord_env):
    fake, core = discord_env.fake, discord_env.core
    await configure(fake)
    troll, member = fake.add_member("troll"), fake.add_member("member")
    mod = fake.add_member("mod", roles=("Mods",))
    await write_prompt(fake, troll, "Some prompt")
    refused = await fake.answer(await fake.command(member, "mod ban", member=troll, reason="spam"))
    assert "moderator" in refused["content"].lower()
    done = await fake.answer(await fake.command(mod, "mod ban", member=troll, reason="spam"))
    assert "banned" in done["content"]
    blocked = await fake.answer(await fake.command(troll, "task"))
    assert "banned" in blocked["content"]
    await fake.answer(await fake.command(mod, "mod unban", member=troll))
    prompt = await message(core, "Some prompt")
    halted = await fake.answer(await fake.command(mod, "mod halt", tree=str(prompt.id), reason="off topic"))
    assert "halted" in halted["content"]
    queue = await fake.answer(await fake.command(mod, "mod queue"))
    assert "queue" in queue["content"]


async def test_settings_need_a_maintainer_or_a_server_admin(discord_env):
    fake = discord_env.fake
    member = fake.add_member("member")
    refused = await fake.answer(await fake.command(member, "admin set", setting="lang", value="de"))
    assert "Only maintainers" in refused["content"]
    owner = fake.add_member("owner", admin=True)
    bad = await fake.answer(await fake.command(owner, "admin set", setting="post_interval_minutes", value="soon"))
    assert "number of minutes" in bad["content"]
    ok = await fake.answer(await fake.command(owner, "admin set", setting="lang", value="de"))
    assert "Language of posted tasks: de" in ok["content"]
    assert (await discord_env.core.community_settings("discord", fake.guild_id))["lang"] == "de"


async def test_items_waiting_before_the_channel_existed_are_posted_once(discord_env):
    fake = discord_env.fake
    fake.add_role("Maintainers")
    owner = fake.add_member("owner", admin=True)
    await fake.answer(await fake.command(owner, "admin roles", purpose="maintainer_roles", role=fake.roles["Maintainers"]))
    writer = fake.add_member("writer")
    await write_prompt(fake, writer, "Waiting prompt one")
    await write_prompt(fake, writer, "Waiting prompt two")
    assert fake.channel_messages("moderation") == []

    moderation = fake.channels["moderation"]
    # A server admin who is not a Chorus moderator may set the channel but not read the queue.
    shown = await fake.answer(await fake.command(owner, "admin channel", purpose="moderation_channel", channel=moderation))
    assert "when a moderator runs /mod queue" in shown["content"]
    keeper = fake.add_member("keeper", roles=("Maintainers",))
    shown = await fake.answer(await fake.command(keeper, "admin channel", purpose="moderation_channel", channel=moderation))
    assert "Posting the 2 item(s) that were waiting" in shown["content"]
    first = await fake.until(lambda: post_of(fake, "Waiting prompt one"))
    await fake.until(lambda: post_of(fake, "Waiting prompt two"))

    shown = await fake.answer(await fake.command(keeper, "admin channel", purpose="moderation_channel", channel=moderation))
    assert "Posting" not in shown["content"]
    await asyncio.sleep(0.2)
    assert len([m for m in fake.channel_messages("moderation") if "Waiting prompt one" in m["content"]]) == 1
    await fake.react(keeper, first, "✅")  # a late post is decided like any other
    await fake.until(lambda: [m for m in fake.channel_messages("moderation") if "approved the prompt" in m["content"]])
    assert (await message(discord_env.core, "Waiting prompt one")).review_result is True
