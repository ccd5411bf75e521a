"""Provenance manifests written beside every checkpoint.

A manifest records the export file's hash, the id of every message whose text went into training
(as target or as context), the configuration, library versions and metrics, and embeds the
manifest of the model it started from. Following that chain proves whether a message, for example
one deleted before the export, can have reached a model.
"""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

NAME = "chorus_manifest.json"
FORMAT = 1


def library_versions() -> dict:
    """Versions of the libraries that shape training results."""
    out = {"python": platform.python_version()}
    for pkg in ("chorus", "torch", "transformers", "tokenizers", "accelerate", "safetensors"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def message_ids(records: list[dict]) -> list[str]:
    """Every message id that appears in SFT threads, ranking groups or pairs (sorted, unique)."""
    ids: set[str] = set()
    for r in records:
        for t in r.get("turns") or r.get("prompt") or []:
            ids.add(t["message_id"])
        for reply in r.get("replies") or []:
            ids.add(reply["message_id"])
        for key in ("chosen_id", "rejected_id"):
            if r.get(key):
                ids.add(r[key])
    return sorted(ids)


def build(stage: str, *, export_path: str, export_sha256: str, report: dict, data_options: dict,
          config: dict, train_records: list[dict], eval_records: list[dict], base: str,
          base_manifest: dict | None) -> dict:
    """The manifest of one stage (metrics are added when it is written)."""
    return {
        "format": FORMAT,
        "stage": stage,
        "created": datetime.now(timezone.utc).isoformat(),
        "export": {"path": export_path, "sha256": export_sha256, "report": report},
        "data_options": data_options,
        "config": config,
        "versions": library_versions(),
        "trained_message_ids": message_ids(train_records),
        "eval_message_ids": message_ids(eval_records),
        "base": {"name": base, "manifest": base_manifest},
    }


def write(directory: str | Path, data: dict) -> Path:
    """Write the manifest into a checkpoint directory."""
    path = Path(directory) / NAME
    path.write_text(json.dumps(data, indent=1, default=str))
    return path


def read(directory: str | Path) -> dict | None:
    """The manifest in a directory, or None for a model from elsewhere."""
    path = Path(directory) / NAME
    return json.loads(path.read_text()) if path.exists() else None


def chain(data: dict | None):
    """This manifest and those of every model it was trained from, newest first."""
    while data:
        yield data
        data = (data.get("base") or {}).get("manifest")


def find_messages(directory: str | Path, ids: list[str]) -> dict[str, list[str]]:
    """For each id, the stages ('sft', 'rm', ... or 'sft:eval') whose data contained it.

    An empty list proves the message did not reach the model through any recorded stage. A model
    whose chain ends in a base without a manifest is only covered back to that base.
    """
    data = read(directory)
    if data is None:
        raise FileNotFoundError(f"no {NAME} in {directory}")
    found: dict[str, list[str]] = {i: [] for i in ids}
    for m in chain(data):
        trained, evaluated = set(m.get("trained_message_ids") or ()), set(m.get("eval_message_ids") or ())
        for i in ids:
            if i in trained:
                found[i].append(m["stage"])
            if i in evaluated:
                found[i].append(f"{m['stage']}:eval")
    return found
