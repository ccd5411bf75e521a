"""/admin export: a maintainer gets an oasst file they can parse; members and moderators are refused."""

from __future__ import annotations

from sqlalchemy import select

from core.models import AuditLog
from tests.discord.exports import read_export, seed_trees


async def staff(fake):
    """Server roles for moderators and maintainers, mapped by the server's admin; returns (mod, maintainer)."""
    fake.add_role("Mods")
    fake.add_role("Maintainers")
    owner = fake.add_member("owner", admin=True)
    await fake.answer(await fake.command(owner, "admin roles", purpose="moderator_roles", role=fake.roles["Mods"]))
    await fake.answer(await fake.command(owner, "admin roles", purpose="maintainer_roles", role=fake.roles["Maintainers"]))
    return fake.add_member("mod", roles=("Mods",)), fake.add_member("keeper", roles=("Maintainers",))


async def test_maintainer_gets_a_parsable_export(discord_env, tmp_path):
    fake, core = discord_env.fake, discord_env.core
    _, keeper = await staff(fake)
    seeded = await seed_trees(core, tmp_path)

    shown = await fake.answer(await fake.command(keeper, "admin export"))
    assert "2 trees, 4 messages" in shown["content"] and shown["flags"] & 64  # only the maintainer sees it
    name, data = fake.attachment(shown)
    assert name.startswith("chorus-trees-ready-for-export-") and name.endswith(".jsonl.gz")
    trees = read_export(data)
    assert {t["message_tree_id"] for t in trees} == {k for k, v in seeded.items() if v["tree_state"] == "ready_for_export"}
    for t in trees:
        original = seeded[t["message_tree_id"]]["prompt"]
        assert t["prompt"]["text"] == original["text"]
        assert t["prompt"]["replies"][0]["text"] == original["replies"][0]["text"]

    shown = await fake.answer(await fake.command(keeper, "admin export", state="all", language="en", anonymize_seed="s3cret"))
    name, data = fake.attachment(shown)
    assert "-en-anon-" in name and "anonymised" in shown["content"]
    trees = read_export(data)
    assert sorted(t["prompt"]["text"] for t in trees) == ["How do tides work?", "Why is the sky blue?"]
    assert not {t["message_tree_id"] for t in trees} & set(seeded)  # ids are hashed
    async with core.db.read() as s:
        audited = (await s.scalars(select(AuditLog).where(AuditLog.action == "export"))).all()
    assert [a.details["trees"] for a in audited] == [2, 2]


async def test_members_and_moderators_are_refused(discord_env, tmp_path):
    fake, core = discord_env.fake, discord_env.core
    mod, _ = await staff(fake)
    await seed_trees(core, tmp_path)
    for who in (fake.add_member("member"), mod):
        shown = await fake.answer(await fake.command(who, "admin export"))
        assert shown["content"] == "Only maintainers may export the data."
        assert not shown["attachments"] and not fake.files.get(int(shown["id"]))
    async with core.db.read() as s:
        assert (await s.scalars(select(AuditLog).where(AuditLog.action == "export"))).all() == []


async def test_bad_options_and_a_file_over_the_limit_get_a_sentence(discord_env, tmp_path):
    fake, core = discord_env.fake, discord_env.core
    _, keeper = await staff(fake)
    await seed_trees(core, tmp_path)
    shown = await fake.answer(await fake.command(keeper, "admin export", language="en gb"))
    assert "not a language code" in shown["content"] and not shown["attachments"]
    shown = await fake.answer(await fake.command(keeper, "admin export", anonymize_seed="   "))
    assert "seed needs some text" in shown["content"] and not shown["attachments"]
    # The bot checks the size the interaction allows, so Discord never has to refuse an upload
    # (the fixture fails the test if the fake recorded a refused one).
    fake.attachment_limit = 200
    shown = await fake.answer(await fake.command(keeper, "admin export"))
    assert "over the 200 bytes Discord accepts" in shown["content"] and "chorus export" in shown["content"]
    assert not shown["attachments"]


async def test_a_slow_export_is_deferred_then_delivered(discord_env, tmp_path, monkeypatch):
    """Past Discord's window the bot defers ("thinking…"), then edits the answer in with the file."""
    from bots.discord import replies

    monkeypatch.setattr(replies, "DEFER_AFTER", 0.0)  # as if the export took longer than 2 s
    fake, core = discord_env.fake, discord_env.core
    _, keeper = await staff(fake)
    seeded = await seed_trees(core, tmp_path)
    shown = await fake.answer(await fake.command(keeper, "admin export"))
    assert "2 trees, 4 messages" in shown["content"] and shown["flags"] & 64
    name, data = fake.attachment(shown)
    assert name.endswith(".jsonl.gz")
    ready = {k for k, v in seeded.items() if v["tree_state"] == "ready_for_export"}
    assert {t["message_tree_id"] for t in read_export(data)} == ready
