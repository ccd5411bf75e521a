"""`chorus message …`, `chorus tree …`, `chorus queue` and `chorus audit`: moderation from a terminal."""

from __future__ import annotations

import sys

from bots.commands.users import acting, add_actor
from bots.render import short


def register(sub) -> None:
    """Add the `message`, `tree`, `queue` and `audit` subcommands."""
    p = sub.add_parser("message", help="delete, undelete, edit, approve or reject a message")
    msub = p.add_subparsers(dest="message_command", metavar="ACTION", required=True)
    for name, func, helptext in (
        ("delete", _delete, "delete a message and every reply below it"),
        ("undelete", _undelete, "restore a deleted message and what was deleted with it"),
        ("approve", _decide(True), "accept a message in review"),
        ("reject", _decide(False), "reject a message in review"),
        ("dismiss", _dismiss, "close a message's reports without action"),
    ):
        q = msub.add_parser(name, help=helptext)
        q.add_argument("message_id")
        q.add_argument("--reason")
        q.set_defaults(func=func)
        add_actor(q)
    edit = msub.add_parser("edit", help="replace a message's text (the old one is kept as a revision)")
    edit.add_argument("message_id")
    edit.add_argument("text", help="the new text, or - to read it from standard input")
    edit.set_defaults(func=_edit)
    add_actor(edit)
    hist = msub.add_parser("history", help="a message's earlier texts")
    hist.add_argument("message_id")
    hist.set_defaults(func=_history)
    add_actor(hist)

    t = sub.add_parser("tree", help="halt or resume a conversation tree")
    tsub = t.add_subparsers(dest="tree_command", metavar="ACTION", required=True)
    halt = tsub.add_parser("halt", help="stop a tree: no more tasks from it")
    halt.add_argument("tree_id", help="the tree's id or any of its messages' ids")
    halt.add_argument("--reason", required=True)
    halt.set_defaults(func=_halt)
    resume = tsub.add_parser("resume", help="let a halted tree carry on")
    resume.add_argument("tree_id")
    resume.add_argument("--reason")
    resume.set_defaults(func=_resume)
    for q in (halt, resume):
        add_actor(q)

    queue = sub.add_parser("queue", help="prompts awaiting review and reported messages")
    queue.add_argument("--kind", choices=["review", "report"])
    queue.add_argument("--lang")
    queue.add_argument("--limit", type=int, default=20)
    queue.set_defaults(func=_queue)
    add_actor(queue)

    audit = sub.add_parser("audit", help="the audit log: who did what, when and why")
    audit.add_argument("--limit", type=int, default=50)
    audit.add_argument("--target", help="only entries about this message, tree or user id")
    audit.set_defaults(func=_audit)
    add_actor(audit)


async def _delete(args) -> int:
    async with acting(args) as (core, actor):
        n = await core.delete_message(actor.id, args.message_id, reason=args.reason)
    print(f"Deleted {n} message{'s' if n != 1 else ''}.")
    return 0


async def _undelete(args) -> int:
    async with acting(args) as (core, actor):
        n = await core.undelete_message(actor.id, args.message_id, reason=args.reason)
    print(f"Restored {n} message{'s' if n != 1 else ''}.")
    return 0


def _decide(accept: bool):
    """The handler of `message approve` (accept=True) or `message reject`."""

    async def decide(args) -> int:
        async with acting(args) as (core, actor):
            await core.review(actor.id, args.message_id, accept, reason=args.reason)
        print("Approved." if accept else "Rejected.")
        return 0

    return decide


async def _dismiss(args) -> int:
    async with acting(args) as (core, actor):
        n = await core.resolve_reports(actor.id, args.message_id, action="dismiss", reason=args.reason)
    print(f"Dismissed {n} report{'s' if n != 1 else ''}.")
    return 0


async def _edit(args) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    async with acting(args) as (core, actor):
        await core.edit_message(actor.id, args.message_id, text)
    print("Edited; the previous text is kept as a revision.")
    return 0


async def _history(args) -> int:
    async with acting(args) as (core, actor):
        revisions = await core.message_revisions(actor.id, args.message_id)
    for at, text in revisions:
        print(f"{at:%Y-%m-%d %H:%M} {short(text, 100)}")
    if not revisions:
        print("This message was never edited.")
    return 0


async def _halt(args) -> int:
    async with acting(args) as (core, actor):
        await core.halt_tree(actor.id, args.tree_id, reason=args.reason)
    print("The tree is halted.")
    return 0


async def _resume(args) -> int:
    async with acting(args) as (core, actor):
        state = await core.resume_tree(actor.id, args.tree_id, reason=args.reason)
    print(f"The tree is resumed ({state}).")
    return 0


async def _queue(args) -> int:
    async with acting(args) as (core, actor):
        items = await core.moderation_queue(actor.id, kind=args.kind, lang=args.lang, limit=args.limit)
    for item in items:
        m = item.message
        flags = " [deleted]" if m.deleted else ""
        print(f"{item.kind:<6} {m.id} {m.lang} {m.role}{flags}: {short(m.text, 80)}")
        for reason in item.reasons:
            print(f"       - {short(reason, 100)}")
    if not items:
        print("The queue is empty.")
    return 0


async def _audit(args) -> int:
    async with acting(args) as (core, actor):
        entries = await core.audit_log(actor.id, limit=args.limit, target_id=args.target)
    for e in entries:
        who = e.actor_name or "Chorus"
        why = f" because {short(e.reason, 80)}" if e.reason else ""
        print(f"{e.created_at:%Y-%m-%d %H:%M:%S} {who}: {e.action} {e.target_type} {e.target_id}{why}")
    if not entries:
        print("The audit log is empty.")
    return 0
