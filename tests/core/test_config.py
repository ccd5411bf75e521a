"""Settings: defaults, environment and .env, and a clear sentence for every bad value."""

from __future__ import annotations

import pytest

from core.config import load_settings
from core.errors import ConfigError


def test_defaults_are_open_assistants():
    s = load_settings({}, dotenv=None)
    assert s.database_url == "sqlite+aiosqlite:///chorus.db"
    t = s.tree
    assert (t.max_active_trees_per_lang, t.max_tree_depth, t.max_children, t.goal_tree_size) == (10, 3, 3, 12)
    assert (t.reviews_initial_prompt, t.reviews_reply, t.ballots_per_sibling_set) == (3, 3, 3)
    assert (t.acceptance_threshold_prompt, t.auto_mod_red_flags, t.auto_mod_reply_skips) == (0.6, 4, 25)
    assert (s.task.max_pending_per_user, s.task.message_max_chars, s.task.duplicate_window_minutes) == (8, 2000, 120)


def test_environment_overrides_and_dotenv(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nCHORUS_TREE_GOAL_TREE_SIZE=7\nexport CHORUS_DEFAULT_LANG='de'\nCHORUS_TASK_LABEL_MODE=simple\n")
    s = load_settings({"CHORUS_TREE_GOAL_TREE_SIZE": "9", "CHORUS_TREE_RANK_PROMPTER_REPLIES": "yes"}, dotenv=env_file)
    assert s.tree.goal_tree_size == 9  # the environment wins over .env
    assert s.default_lang == "de" and s.task.label_mode == "simple"
    assert s.tree.rank_prompter_replies is True


@pytest.mark.parametrize(
    "env, words",
    [
        ({"CHORUS_TREE_GOAL_TREE_SIZE": "twelve"}, "CHORUS_TREE_GOAL_TREE_SIZE='twelve' is not valid: expected a whole number"),
        ({"CHORUS_TREE_ACCEPTANCE_THRESHOLD_REPLY": "1.5"}, "between 0 and 1"),
        ({"CHORUS_TREE_MAX_CHILDREN": "0"}, "at least 1"),
        ({"CHORUS_TREE_RANK_PROMPTER_REPLIES": "perhaps"}, "expected true or false"),
        ({"CHORUS_TASK_LABEL_MODE": "fancy"}, "'full' or 'simple'"),
        ({"CHORUS_DATABASE_URL": "chorus.db"}, "is not a database URL"),
        ({"CHORUS_TREE_GOAL_SIZE": "3"}, "Unknown setting CHORUS_TREE_GOAL_SIZE"),
    ],
)
def test_bad_values_are_named(env, words):
    with pytest.raises(ConfigError) as info:
        load_settings(env, dotenv=None)
    assert words in info.value.message


def test_maintainer_identities():
    s = load_settings({"CHORUS_MAINTAINERS": "discord:12, telegram:34"}, dotenv=None)
    assert s.maintainer_identities == {("discord", "12"), ("telegram", "34")}
