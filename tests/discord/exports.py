"""Trees to export and a reader for what a bot sent: shared by the Discord and Telegram export tests."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path

from core.oasst_import import import_file


def tree_line(state: str, lang: str, prompt: str, answer: str) -> dict:
    """One oasst trees-file line: a prompt and one assistant reply."""
    root, reply = str(uuid.uuid4()), str(uuid.uuid4())
    return {
        "message_tree_id": root, "tree_state": state,
        "prompt": {
            "message_id": root, "text": prompt, "role": "prompter", "lang": lang, "review_result": True,
            "user_id": str(uuid.uuid4()), "created_date": "2023-02-05T10:00:00+00:00",
            "replies": [{"message_id": reply, "parent_id": root, "text": answer, "role": "assistant", "lang": lang,
                         "review_result": True, "rank": 0, "user_id": str(uuid.uuid4()),
                         "created_date": "2023-02-05T10:05:00+00:00", "replies": []}],
        },
    }  # fmt: skip


async def seed_trees(core, folder: Path) -> dict[str, dict]:
    """Import three trees (two ready in en and de, one growing) through the real importer; by tree id."""
    lines = [
        tree_line("ready_for_export", "en", "How do tides work?", "The moon's gravity pulls the oceans."),
        tree_line("ready_for_export", "de", "Wie entstehen Gezeiten?", "Durch die Anziehung des Mondes."),
        tree_line("growing", "en", "Why is the sky blue?", "Rayleigh scattering."),
    ]
    path = folder / "seed.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    await import_file(core.db, path)
    return {line["message_tree_id"]: line for line in lines}


def read_export(data: bytes) -> list[dict]:
    """The trees of a gzipped oasst JSONL file, as a maintainer would parse it."""
    text = gzip.decompress(data).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]
