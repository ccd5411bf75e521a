"""The whole pipeline on the real oasst2 sample, through the command line: export -> SFT -> RM -> DPO."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.cli import main
from trainer.export import file_sha256
from trainer.manifest import NAME, find_messages, read

COMMON = ["--max-steps", "3", "--save-steps", "2", "--logging-steps", "1", "--max-len", "192",
          "--batch-size", "4", "--tiny-vocab", "400", "--no-progress"]


def deleted_ids(path: Path) -> list[str]:
    out = []
    for line in open(path):
        tree = json.loads(line)
        stack = [tree["prompt"]]
        while stack:
            n = stack.pop()
            if n.get("deleted") and tree["tree_state"] == "ready_for_export":
                out.append(n["message_id"])
            stack.extend(n.get("replies") or [])
    return out


@pytest.mark.parametrize("base", ["tiny", "tiny-llama"])
def test_export_to_sft_rm_dpo(oasst2_export, tmp_path, base, capsys):
    data = ["--data", str(oasst2_export), "--val-fraction", "0.2"]
    assert main(["data", *data, "--out", str(tmp_path / "data")]) == 0
    report = json.loads((tmp_path / "data" / "report.json").read_text())
    assert report["counts"]["sft"]["train"] > 0 and report["dropped_messages"]["deleted"] > 0

    assert main(["sft", *data, "--base", base, "--out", str(tmp_path / "sft"), *COMMON]) == 0
    assert main(["rm", *data, "--base", str(tmp_path / "sft"), "--out", str(tmp_path / "rm"), *COMMON]) == 0
    assert main(["dpo", *data, "--base", str(tmp_path / "sft"), "--out", str(tmp_path / "dpo"),
                 "--precompute-ref", *COMMON]) == 0

    sha = file_sha256(oasst2_export)
    for stage in ("sft", "rm", "dpo"):
        out = tmp_path / stage
        m = read(out)
        assert m["stage"] == stage and m["export"]["sha256"] == sha
        assert m["trained_message_ids"] and m["versions"]["torch"] and m["config"]["max_steps"] == 3
        assert (out / "tokenizer.json").exists() and (out / "config.json").exists()
        assert (out / "checkpoint-2" / NAME).exists() and (out / "checkpoint-2" / "tokenizer.json").exists()
        assert (out / "metrics.jsonl").read_text().count("\n") >= 3
    assert read(tmp_path / "dpo")["base"]["manifest"]["stage"] == "sft"
    assert "val_pair_accuracy" in read(tmp_path / "rm")["metrics"]
    assert "val_reward_accuracy" in read(tmp_path / "dpo")["metrics"]
    assert "val_loss" in read(tmp_path / "sft")["metrics"]

    # Messages deleted before export never reached any stage; trained ones are traced through the chain.
    gone = deleted_ids(oasst2_export)
    assert gone and all(v == [] for v in find_messages(tmp_path / "dpo", gone).values())
    trained = read(tmp_path / "sft")["trained_message_ids"][0]
    assert "sft" in find_messages(tmp_path / "dpo", [trained])[trained]
    capsys.readouterr()
    assert main(["audit", "--model", str(tmp_path / "dpo"), *gone[:3]]) == 0
    assert main(["audit", "--model", str(tmp_path / "dpo"), trained]) == 1

    # The trained SFT model generates with the chat format and stops at the end of its turn.
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import torch
    from trainer.chat_format import ChatTokens, encode_generation_prompt
    tok = AutoTokenizer.from_pretrained(tmp_path / "sft")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "dpo")
    chat = ChatTokens.of(tok)
    assert model.generation_config.eos_token_id == [chat.end, chat.eos] and chat.pad != chat.eos
    ids = torch.tensor([encode_generation_prompt(tok, [{"role": "prompter", "text": "Hello"}])])
    assert model.generate(ids, max_new_tokens=4, do_sample=False).shape[1] <= ids.shape[1] + 4


def test_cli_help_needs_no_torch():
    code = ("import argparse, sys; from trainer.cli import add_train_parser; "
            "p = argparse.ArgumentParser(); add_train_parser(p.add_subparsers()); "
            "p.parse_args(['train', 'sft', '--data', 'x', '--out', 'y']); "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
