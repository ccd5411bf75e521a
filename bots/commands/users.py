"""`chorus user …`, `chorus leaderboard` and `chorus stats`: people, their roles and points, and the collection.

Commands that change something act as a Chorus identity (`--as PLATFORM:ID`, by default the
console user `console:local`); the core checks that identity's role like any other. An identity
named in CHORUS_MAINTAINERS is made a maintainer, which is how the first maintainer comes to be.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator

from core.config import load_settings
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.models import Role
from core.service import Chorus
from core.views import UserView

DEFAULT_ACTOR = "console:local"


def parse_identity(text: str) -> tuple[str, str]:
    """'discord:1234' as ('discord', '1234'); a clear error for anything else."""
    platform, sep, ext = (text or "").partition(":")
    if not sep or not platform or not ext:
        raise InvalidInput(f"'{text}' is not an account: write PLATFORM:ID, e.g. discord:1234 or console:alice.")
    return platform, ext


async def resolve_user(core: Chorus, ref: str) -> UserView:
    """A user named by PLATFORM:ID or by their Chorus id."""
    with contextlib.suppress(ValueError):
        return await core.get_user(uuid.UUID(ref))
    platform, ext = parse_identity(ref)
    user = await core.find_user(platform, ext)
    if user is None:
        raise NotFound(f"No Chorus user has the account {ref}.")
    return user


@contextlib.asynccontextmanager
async def acting(args) -> AsyncIterator[tuple[Chorus, UserView]]:
    """The core, and the identity the command acts as (a moderator or a maintainer)."""
    settings = load_settings()
    core = await Chorus.open(settings)
    try:
        platform, ext = parse_identity(getattr(args, "as_", None) or DEFAULT_ACTOR)
        named = (platform, ext) in settings.maintainer_identities
        actor = await core.find_user(platform, ext)
        if actor is None and named:
            actor = await core.user_from_identity(platform, ext, display_name=ext)
        if actor is None:
            raise NotFound(f"{platform}:{ext} is not a Chorus user. Name it in CHORUS_MAINTAINERS to act as it.")
        if named and actor.role != Role.maintainer:
            await core.sync_platform_role(actor.id, Role.maintainer, source="CHORUS_MAINTAINERS")
            actor = await core.get_user(actor.id)
        if actor.role == Role.member:
            raise PermissionDenied(f"{platform}:{ext} is a member; the command line needs a moderator or a maintainer.")
        yield core, actor
    finally:
        await core.close()


def add_actor(p) -> None:
    """The --as option every acting command takes."""
    p.add_argument("--as", dest="as_", metavar="PLATFORM:ID", default=DEFAULT_ACTOR,
                   help=f"act as this account (default {DEFAULT_ACTOR})")  # fmt: skip


def register(sub) -> None:
    """Add the `user`, `leaderboard` and `stats` subcommands."""
    p = sub.add_parser("user", help="roles, bans, data purges and points of a user")
    usub = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    role = usub.add_parser("role", help="give a user a role (maintainers only)")
    role.add_argument("user", metavar="PLATFORM:ID")
    role.add_argument("role", choices=[r.value for r in Role])
    role.add_argument("--reason")
    role.set_defaults(func=_role)
    ban = usub.add_parser("ban", help="ban a user: their tasks stop and waiting prompts are halted")
    ban.add_argument("user", metavar="PLATFORM:ID")
    ban.add_argument("--reason", required=True)
    ban.set_defaults(func=_ban)
    unban = usub.add_parser("unban", help="lift a ban")
    unban.add_argument("user", metavar="PLATFORM:ID")
    unban.add_argument("--reason")
    unban.set_defaults(func=_unban)
    purge = usub.add_parser("purge", help="remove a user's data on their request (maintainers only)")
    purge.add_argument("user", metavar="PLATFORM:ID")
    purge.add_argument("--reason", required=True)
    purge.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    purge.set_defaults(func=_purge)
    show = usub.add_parser("show", help="a user's role, points, level and streak")
    show.add_argument("user", metavar="PLATFORM:ID")
    show.set_defaults(func=_show)
    for q in (role, ban, unban, purge, show):
        add_actor(q)

    lb = sub.add_parser("leaderboard", help="top contributors of a day, week, month or all time")
    lb.add_argument("--window", choices=["day", "week", "month", "all"], default="all")
    lb.add_argument("--limit", type=int, default=10)
    lb.add_argument("--trolls", action="store_true", help="the troll board instead (moderators)")
    lb.add_argument("--json", action="store_true", help="print JSON")
    add_actor(lb)
    lb.set_defaults(func=_leaderboard)

    st = sub.add_parser("stats", help="collection statistics: trees by state, messages, rankings, labels")
    st.add_argument("--lang", help="only this language")
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(func=_stats)


async def _role(args) -> int:
    async with acting(args) as (core, actor):
        target = await resolve_user(core, args.user)
        user = await core.set_role(actor.id, target.id, args.role, reason=args.reason)
        print(f"{user.display_name} ({args.user}) is now a {user.role}.")
    return 0


async def _ban(args) -> int:
    async with acting(args) as (core, actor):
        target = await resolve_user(core, args.user)
        await core.ban_user(actor.id, target.id, reason=args.reason)
        print(f"{target.display_name} ({args.user}) is banned; their open tasks were cancelled.")
    return 0


async def _unban(args) -> int:
    async with acting(args) as (core, actor):
        target = await resolve_user(core, args.user)
        await core.unban_user(actor.id, target.id, reason=args.reason)
        print(f"{target.display_name} ({args.user}) is no longer banned.")
    return 0


async def _purge(args) -> int:
    if not args.yes:
        raise InvalidInput("Purging cannot be undone: add --yes to confirm.")
    async with acting(args) as (core, actor):
        target = await resolve_user(core, args.user)
        counts = await core.purge_user(actor.id, target.id, reason=args.reason)
        print(f"Purged {args.user}: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + ".")
    return 0


async def _show(args) -> int:
    from bots.render import points_in_words

    async with acting(args) as (core, _actor):
        user = await resolve_user(core, args.user)
        pts = await core.user_points(user.id)
        print(f"{user.display_name} ({args.user}), {user.role}{', banned' if user.banned else ''}")
        print(points_in_words(pts))
    return 0


async def _leaderboard(args) -> int:
    async with acting(args) as (core, actor):
        if args.trolls:
            rows = await core.troll_board(actor.id, limit=args.limit)
            data = [{"position": r.position, "user_id": str(r.user_id), "name": r.display_name, "score": r.score,
                     "banned": r.banned, **r.counts} for r in rows]  # fmt: skip
            lines = [f"{r.position:>3}. {r.display_name}: {r.score}{' (banned)' if r.banned else ''}" for r in rows]
        else:
            rows = await core.leaderboard(args.window, limit=args.limit)
            data = [{"position": r.position, "user_id": str(r.user_id), "name": r.display_name, "points": r.points} for r in rows]
            lines = [f"{r.position:>3}. {r.display_name}: {r.points} points" for r in rows]
    print(json.dumps(data, indent=2) if args.json else ("\n".join(lines) or "Nobody has points in this window yet."))
    return 0


async def _stats(args) -> int:
    settings = load_settings()
    core = await Chorus.open(settings)
    try:
        data = await core.collection_stats(lang=args.lang)
    finally:
        await core.close()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    from bots.render import stats_lines

    print("\n".join(stats_lines(data)))
    return 0
