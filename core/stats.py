"""Collection statistics: trees by state, messages, rankings and labels, overall or for one language."""

from __future__ import annotations

from sqlalchemy import false, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Ballot, Label, LabelMeans, Message, RankingResult, Tree


def _lang(column, lang: str | None):
    return [column == lang] if lang else []


async def tree_counts(session: AsyncSession, lang: str | None) -> dict[str, int]:
    """Trees per state."""
    rows = await session.execute(select(Tree.state, func.count()).where(*_lang(Tree.lang, lang)).group_by(Tree.state))
    return {state: n for state, n in sorted(rows)}


async def message_counts(session: AsyncSession, lang: str | None) -> dict[str, int]:
    """Messages in total and by role, review outcome, deletion and origin."""
    m = Message
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(m.role == "prompter"),
                func.count().filter(m.role == "assistant"),
                func.count().filter(m.depth == 0),
                func.count().filter(m.deleted == true()),
                func.count().filter(m.review_result == true(), m.deleted == false()),
                func.count().filter(m.review_result == false()),
                func.count().filter(m.review_result.is_(None), m.deleted == false()),
                func.count().filter(m.synthetic == true()),
            ).where(*_lang(m.lang, lang))
        )
    ).one()
    keys = ("total", "prompter", "assistant", "prompts", "deleted", "accepted", "rejected", "pending_review", "synthetic")
    return dict(zip(keys, (int(v or 0) for v in row)))


async def ranking_counts(session: AsyncSession, lang: str | None) -> dict[str, object]:
    """Ballots cast, sibling sets scored, how many were decided by a tie-break, and mean agreement."""
    ballots = await session.scalar(
        select(func.count()).select_from(Ballot).join(Message, Message.id == Ballot.parent_id).where(*_lang(Message.lang, lang))
    )
    scored, contested, mean_w = (
        await session.execute(
            select(func.count(), func.count().filter(RankingResult.contested == true()), func.avg(RankingResult.agreement))
            .select_from(RankingResult)
            .join(Message, Message.id == RankingResult.parent_id)
            .where(*_lang(Message.lang, lang))
        )
    ).one()
    return {
        "ballots": int(ballots or 0),
        "sibling_sets_scored": int(scored or 0),
        "contested": int(contested or 0),
        "mean_agreement": None if mean_w is None else round(float(mean_w), 4),
    }


async def label_counts(session: AsyncSession, lang: str | None) -> dict[str, int]:
    """Label sets given here, and label sets in all, imported ones included (the ratings)."""
    sets = await session.scalar(
        select(func.count()).select_from(Label).join(Message, Message.id == Label.message_id).where(*_lang(Message.lang, lang))
    )
    ratings = await session.scalar(
        select(func.coalesce(func.sum(LabelMeans.ratings), 0))
        .select_from(LabelMeans)
        .join(Message, Message.id == LabelMeans.message_id)
        .where(*_lang(Message.lang, lang))
    )
    return {"label_sets": int(sets or 0), "ratings": int(ratings or 0)}


async def by_language(session: AsyncSession) -> dict[str, dict[str, int]]:
    """Trees and messages per language."""
    out: dict[str, dict[str, int]] = {}
    for lang, n in await session.execute(select(Tree.lang, func.count()).group_by(Tree.lang)):
        out.setdefault(lang, {"trees": 0, "messages": 0})["trees"] = n
    for lang, n in await session.execute(select(Message.lang, func.count()).group_by(Message.lang)):
        out.setdefault(lang, {"trees": 0, "messages": 0})["messages"] = n
    return dict(sorted(out.items()))


async def collection_stats(session: AsyncSession, lang: str | None) -> dict:
    """Everything above in one dict (per-language breakdown only when no language is given)."""
    trees = await tree_counts(session, lang)
    stats = {
        "lang": lang,
        "trees": {"total": sum(trees.values()), "by_state": trees},
        "messages": await message_counts(session, lang),
        "rankings": await ranking_counts(session, lang),
        "labels": await label_counts(session, lang),
    }
    if lang is None:
        stats["languages"] = await by_language(session)
    return stats
