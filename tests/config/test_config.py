"""Configuration: schema, strict validation, layers, migration, editing, cache and trust."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cq_lsp.config import schema as cfg
from cq_lsp.config.edit import get_key, migrate_file, set_key, write_initial_config
from cq_lsp.config.load import ConfigCache, load_config
from cq_lsp.config.migrate import detect_version, migrate_dict
from cq_lsp.config.schema import Config, ProcessingConfig, default_config_dict, validate
from cq_lsp.config.trust import is_trusted, trust_repo_config
from cq_lsp.errors import ConfigError, NotInitializedError, UsageError

DESIGN_DEFAULTS: dict[str, Any] = {
    "schema_version": 2,
    "dataset_name": "my-repo",
    "model": "sonnet",
    "processor": {
        "kind": "static",
        "command": None,
        "timeout_s": 120,
        "max_file_bytes": 1048576,
        "concurrency": 2,
        "fallback": "static",
        "env": [],
    },
    "processing": {
        "mode": "auto",
        "fallback_to_sync": True,
        "batch_size": 5,
        "delay_seconds": 300,
        "debounce_ms": 1000,
        "max_retries": 2,
        "retry_delay_s": 60,
        "worker_check_interval": 5,
        "queue_timeout": 30,
    },
    "worker": {"threads": 2, "idle_exit_s": 900},
    "queue": {"backend": "sqlite", "url": None},
    "cache": {"local": True, "max_bytes": 1073741824, "url": None, "write": True},
    "pool": {"url": None, "timeout_s": 600},
    "exclude_patterns": [
        "node_modules/",
        "dist/",
        "build/",
        ".venv/",
        "venv/",
        "__pycache__/",
        "coverage/",
        "*.min.js",
        "*.map",
        "*.lock",
    ],
}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment whose user config and data dirs are temporary (never the real user's)."""
    homes = {
        "CQ_LSP_CONFIG_HOME": str(tmp_path / "user-config"),
        "CQ_LSP_DATA_HOME": str(tmp_path / "user-data"),
    }
    for key, value in homes.items():
        monkeypatch.setenv(key, value)
    for var in list(os.environ):
        if var.startswith("CODEQUERY_"):
            monkeypatch.delenv(var)
    return homes


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "my-repo"
    (path / ".code-query").mkdir(parents=True)
    return path


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def repo_file(root: Path) -> Path:
    return root / ".code-query" / "config.json"


def user_file(env: dict[str, str]) -> Path:
    return Path(env["CQ_LSP_CONFIG_HOME"]) / "config.json"


def problems_of(exc_info: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return exc_info.value.problems


def no_temp_files(*dirs: Path) -> bool:
    return not [p for d in dirs for p in d.iterdir() if p.name.endswith(".tmp")]


# --- defaults -------------------------------------------------------------------------------


def test_defaults_mirror_design(root: Path, env: dict[str, str]) -> None:
    loaded = load_config(root, env=env)
    assert default_config_dict("my-repo") == DESIGN_DEFAULTS
    assert cfg.to_dict(loaded.config) == DESIGN_DEFAULTS
    assert loaded.sources["processing.batch_size"] == "default"
    assert set(loaded.sources.values()) == {"default"}
    assert loaded.repo_file == repo_file(root)
    assert loaded.repo_file_hash is None
    assert loaded.command_trusted is True
    assert loaded.untrusted_reason is None
    assert loaded.warnings == []


def test_dataset_name_defaults_to_a_safe_folder_name(tmp_path: Path, env: dict[str, str]) -> None:
    odd = tmp_path / "my repo (copy)"
    odd.mkdir()
    assert load_config(odd, env=env).config.dataset_name == "my-repo-copy"


def test_direct_construction_is_validated() -> None:
    with pytest.raises(ValueError, match=r"^batch_size: must be an integer from 1 to 100, got 0$"):
        ProcessingConfig(batch_size=0)
    assert Config().processing.batch_size == 5


# --- precedence -----------------------------------------------------------------------------


def test_each_layer_overrides_the_one_below(root: Path, env: dict[str, str]) -> None:
    write_json(user_file(env), {"model": "user-model", "processing": {"batch_size": 10}})
    loaded = load_config(root, env=env)
    assert loaded.config.processing.batch_size == 10
    assert loaded.config.model == "user-model"
    assert loaded.sources["processing.batch_size"] == "user"

    write_json(repo_file(root), {"schema_version": 2, "processing": {"batch_size": 20}})
    loaded = load_config(root, env=env)
    assert loaded.config.processing.batch_size == 20
    assert loaded.sources["processing.batch_size"] == "repo"
    assert loaded.config.model == "user-model"  # untouched by the repo file

    loaded = load_config(root, env={**env, "CODEQUERY_BATCH_SIZE": "30"})
    assert loaded.config.processing.batch_size == 30
    assert loaded.sources["processing.batch_size"] == "env"

    loaded = load_config(
        root, env={**env, "CODEQUERY_BATCH_SIZE": "30"}, editor={"processing": {"batch_size": 40}}
    )
    assert loaded.config.processing.batch_size == 40
    assert loaded.sources["processing.batch_size"] == "editor"
    assert loaded.sources["model"] == "user"


def test_merge_is_deep_per_section(root: Path, env: dict[str, str]) -> None:
    write_json(user_file(env), {"processing": {"delay_seconds": 7}})
    write_json(repo_file(root), {"schema_version": 2, "processing": {"batch_size": 9}})
    processing = load_config(root, env=env).config.processing
    assert (processing.delay_seconds, processing.batch_size, processing.max_retries) == (7, 9, 2)
    assert processing.mode == "auto"


@pytest.mark.parametrize(
    ("var", "value", "key", "expected"),
    [
        ("CODEQUERY_MODEL", "opus", "model", "opus"),
        ("CODEQUERY_PROCESSING_MODE", "manual", "processing.mode", "manual"),
        ("CODEQUERY_BATCH_SIZE", " 12 ", "processing.batch_size", 12),
        (
            "CODEQUERY_QUEUE_URL",
            "redis://localhost:6379/0",
            "queue.url",
            "redis://localhost:6379/0",
        ),
    ],
)
def test_environment_variables(
    root: Path, env: dict[str, str], var: str, value: str, key: str, expected: Any
) -> None:
    loaded = load_config(root, env={**env, var: value})
    assert get_key(loaded.config, key) == expected
    assert loaded.sources[key] == "env"


def test_queue_url_from_env_selects_redis(root: Path, env: dict[str, str]) -> None:
    loaded = load_config(root, env={**env, "CODEQUERY_QUEUE_URL": "rediss://cache:6380/1"})
    assert loaded.config.queue.backend == "redis"
    assert loaded.sources["queue.backend"] == "env"


def test_empty_environment_variable_is_ignored(root: Path, env: dict[str, str]) -> None:
    loaded = load_config(root, env={**env, "CODEQUERY_MODEL": ""})
    assert loaded.config.model == "sonnet"


def test_bad_environment_values_name_the_variable(root: Path, env: dict[str, str]) -> None:
    bad = {**env, "CODEQUERY_BATCH_SIZE": "five", "CODEQUERY_PROCESSING_MODE": "sometimes"}
    with pytest.raises(ConfigError) as exc_info:
        load_config(root, env=bad)
    assert exc_info.value.source == "environment"
    assert problems_of(exc_info) == [
        'CODEQUERY_PROCESSING_MODE: must be one of "auto", "manual", got "sometimes"',
        'CODEQUERY_BATCH_SIZE: must be an integer from 1 to 100, got "five"',
    ]


def test_bad_editor_settings_name_the_editor(root: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as exc_info:
        load_config(root, env=env, editor={"worker": {"threads": 0}})
    assert exc_info.value.source == "editor settings"
    assert problems_of(exc_info) == ["worker.threads: must be an integer from 1 to 32, got 0"]


# --- validation -----------------------------------------------------------------------------


def test_malformed_json_names_file_line_and_column(root: Path, env: dict[str, str]) -> None:
    path = repo_file(root)
    path.write_text('{\n  "model": "x",\n}\n')
    with pytest.raises(ConfigError) as exc_info:
        load_config(root, env=env)
    err = exc_info.value
    assert err.source == str(path)
    assert err.message == (
        f"{path} is not valid JSON: Expecting property name enclosed in double quotes"
        " at line 3, column 1"
    )
    assert err.problems == ["line 3, column 1: Expecting property name enclosed in double quotes"]


def test_top_level_must_be_an_object(root: Path, env: dict[str, str]) -> None:
    repo_file(root).write_text("[1, 2]")
    with pytest.raises(ConfigError) as exc_info:
        load_config(root, env=env)
    assert problems_of(exc_info) == ["(top level): must be an object ({...}), got [1, 2]"]


def test_unknown_key_suggests_the_close_one(root: Path, env: dict[str, str]) -> None:
    write_json(repo_file(root), {"schema_version": 2, "processor": {"comand": ["llm"]}})
    with pytest.raises(ConfigError) as exc_info:
        load_config(root, env=env)
    assert exc_info.value.source == str(repo_file(root))
    assert problems_of(exc_info) == ['processor.comand: unknown key (did you mean "command"?)']
    assert validate({"zzz": 1}) == [
        "zzz: unknown key (valid keys: schema_version, dataset_name, model, processor, "
        "processing, worker, queue, cache, pool, exclude_patterns)"
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            {"processing": {"batch_size": "five"}},
            'processing.batch_size: must be an integer from 1 to 100, got "five"',
        ),
        (
            {"processing": {"max_retries": True}},
            "processing.max_retries: must be an integer from 0 to 10, got true",
        ),
        (
            {"processing": {"batch_size": 2.5}},
            "processing.batch_size: must be an integer from 1 to 100, got 2.5",
        ),
        (
            {"exclude_patterns": "abc"},
            'exclude_patterns: must be a list of gitignore-style patterns, got "abc"',
        ),
        (
            {"exclude_patterns": ["ok/", 1]},
            "exclude_patterns[1]: must be a non-empty string, got 1",
        ),
        (
            {"model": 3},
            'model: must be a model name of 1 to 100 letters, digits or "._:/-", got 3',
        ),
        (
            {"model": "sonnet --dangerously-skip-permissions"},
            'model: must be a model name of 1 to 100 letters, digits or "._:/-", '
            'got "sonnet --dangerously-skip-permissions"',
        ),
        (
            {"dataset_name": ".."},
            'dataset_name: must be a name of letters, digits, "_", "." and "-" '
            '(not "." or ".."), got ".."',
        ),
        (
            {"processor": {"command": "claude -p"}},
            "processor.command: must be a non-empty list of strings (program and arguments) "
            'or null, got "claude -p"',
        ),
        (
            {"processor": {"timeout_s": "60"}},
            'processor.timeout_s: must be a number greater than 0 and at most 86400, got "60"',
        ),
        (
            {"processor": {"env": ["API KEY"]}},
            "processor.env[0]: must be an environment variable name (letters, digits, _), "
            'got "API KEY"',
        ),
        (
            {"processing": {"fallback_to_sync": "yes"}},
            'processing.fallback_to_sync: must be true or false, got "yes"',
        ),
        (
            {"queue": {"backend": "kafka"}},
            'queue.backend: must be one of "sqlite", "redis", got "kafka"',
        ),
        ({"worker": 5}, "worker: must be an object ({...}), got 5"),
        ({"schema_version": 3}, "schema_version: must be 2 (the schema this cq-lsp reads), got 3"),
    ],
)
def test_wrong_types(data: dict[str, Any], problem: str) -> None:
    assert validate(data) == [problem]


INT_RANGE = "must be an integer from"


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("processing.batch_size", 0, f"{INT_RANGE} 1 to 100, got 0"),
        ("processing.batch_size", 101, f"{INT_RANGE} 1 to 100, got 101"),
        ("processing.delay_seconds", -1, f"{INT_RANGE} 0 to 86400, got -1"),
        ("processing.debounce_ms", 60001, f"{INT_RANGE} 0 to 60000, got 60001"),
        ("processing.max_retries", 11, f"{INT_RANGE} 0 to 10, got 11"),
        ("processing.retry_delay_s", 3601, f"{INT_RANGE} 0 to 3600, got 3601"),
        (
            "processing.worker_check_interval",
            0,
            "must be a number greater than 0 and at most 3600, got 0",
        ),
        ("processing.queue_timeout", -0.5, "must be a number from 0 to 3600, got -0.5"),
        ("worker.threads", 33, f"{INT_RANGE} 1 to 32, got 33"),
        ("worker.idle_exit_s", 86401, f"{INT_RANGE} 0 to 86400, got 86401"),
        ("processor.concurrency", 0, f"{INT_RANGE} 1 to 64, got 0"),
        ("processor.max_file_bytes", 0, f"{INT_RANGE} 1 to 1073741824, got 0"),
    ],
)
def test_out_of_range(key: str, value: Any, problem: str) -> None:
    section, leaf = key.split(".")
    assert validate({section: {leaf: value}}) == [f"{key}: {problem}"]


def test_accepted_edge_values() -> None:
    assert validate({"processing": {"batch_size": 5.0, "queue_timeout": 0, "mode": "manual"}}) == []
    assert validate({"processor": {"timeout_s": 0.5}, "worker": {"idle_exit_s": 0}}) == []


def test_all_problems_are_reported(root: Path, env: dict[str, str]) -> None:
    write_json(
        repo_file(root),
        {"schema_version": 2, "model": 3, "processing": {"batch_size": "five", "max_retries": 11}},
    )
    with pytest.raises(ConfigError) as exc_info:
        load_config(root, env=env)
    assert exc_info.value.message == f"{repo_file(root)} has 3 invalid setting(s)"
    assert problems_of(exc_info) == [
        'model: must be a model name of 1 to 100 letters, digits or "._:/-", got 3',
        'processing.batch_size: must be an integer from 1 to 100, got "five"',
        "processing.max_retries: must be an integer from 0 to 10, got 11",
    ]
    assert 'processing.batch_size: must be an integer from 1 to 100, got "five"' in str(
        exc_info.value
    )


def test_redis_backend_needs_a_redis_url(root: Path, env: dict[str, str]) -> None:
    write_json(repo_file(root), {"schema_version": 2, "queue": {"backend": "redis"}})
    with pytest.raises(ConfigError) as exc_info:
        load_config(root, env=env)
    assert exc_info.value.source == "repo"
    assert problems_of(exc_info) == [
        'queue.url: required when queue.backend is "redis", e.g. "redis://localhost:6379/0"'
    ]
    assert validate({"queue": {"backend": "redis", "url": "http://x"}}) == [
        'queue.url: must start with redis://, rediss:// or unix://, got "http://x"'
    ]
    # The URL may come from another layer.
    loaded = load_config(root, env={**env, "CODEQUERY_QUEUE_URL": "unix:///run/redis.sock"})
    assert loaded.config.queue.url == "unix:///run/redis.sock"


def test_command_kind_needs_a_command() -> None:
    assert validate({"processor": {"kind": "command"}}) == [
        'processor.command: required when processor.kind is "command": the program and its '
        'arguments, e.g. ["claude", "-p"]'
    ]
    assert validate({"processor": {"kind": "command", "command": []}}) == [
        "processor.command: must be a non-empty list of strings (program and arguments) or null,"
        " got []"
    ]
    assert validate({"processor": {"kind": "command", "command": ["llm", "-p"]}}) == []


# --- migration ------------------------------------------------------------------------------

V0 = {
    "mainDatasetName": "legacy_ds",
    "excludePatterns": ["node_modules/*", "*.pyc", ".git/*"],
    "model": "sonnet",
    "createdAt": "2024-05-01T10:00:00",
    "version": "1.1.0",
    "worktreeInfo": {"branch": "main", "isWorktree": False},
}
V1 = {
    "dataset_name": "v1_ds",
    "model": "claude-3-5-sonnet-20240620",
    "processing": {"mode": "manual", "batch_size": 7, "retry_attempts": 4, "retry_delay": 30},
    "exclude_patterns": ["tests/*"],
}


def test_detect_version() -> None:
    assert detect_version(V0) == 0
    assert detect_version({"datasetName": "x", "mode": "auto"}) == 0
    assert detect_version(V1) == 1
    assert detect_version({"dataset_name": "x", "auto_process": True}) == 1
    assert detect_version({"schema_version": 2, "dataset_name": "x"}) == 2
    assert detect_version({"model": "opus"}) == 2
    assert detect_version({}) == 2


def test_migrate_dict() -> None:
    assert migrate_dict(V0) == {
        "schema_version": 2,
        "dataset_name": "legacy_ds",
        "model": "sonnet",
        "exclude_patterns": ["node_modules/", "*.pyc", ".git/"],
    }
    assert migrate_dict(V1) == {
        "schema_version": 2,
        "dataset_name": "v1_ds",
        "model": "claude-3-5-sonnet-20240620",
        "processing": {"mode": "manual", "batch_size": 7, "max_retries": 4, "retry_delay_s": 30},
        "exclude_patterns": ["tests/"],
    }
    assert migrate_dict({"datasetName": "d", "auto_process": False})["processing"] == {
        "mode": "manual"
    }
    v2 = {"schema_version": 2, "model": "x"}
    assert migrate_dict(v2) == v2


@pytest.mark.parametrize(("data", "version"), [(V0, 0), (V1, 1)])
def test_old_files_load_in_memory_with_a_warning(
    root: Path, env: dict[str, str], data: dict[str, Any], version: int
) -> None:
    path = write_json(repo_file(root), data)
    before = path.read_bytes()
    loaded = load_config(root, env=env)
    assert loaded.warnings == [
        f"{path} is schema v{version}; read it as v2 in memory; run `cq-lsp config migrate`"
    ]
    assert loaded.config.dataset_name == ("legacy_ds" if version == 0 else "v1_ds")
    assert path.read_bytes() == before  # loading never rewrites the file


def test_migrate_file_keeps_a_backup(root: Path, env: dict[str, str]) -> None:
    path = write_json(repo_file(root), V1)
    original = path.read_bytes()
    result = migrate_file(root)
    assert result.from_version == 1
    assert result.changed is True
    assert result.backup_path == path.with_name("config.json.v1.bak")
    assert result.backup_path.read_bytes() == original
    assert json.loads(path.read_text()) == migrate_dict(V1)
    assert path.read_text().startswith('{\n  "schema_version": 2,\n')
    loaded = load_config(root, env=env)
    assert loaded.warnings == []
    assert loaded.config.processing.max_retries == 4
    assert no_temp_files(path.parent)

    again = migrate_file(root)
    assert (again.from_version, again.backup_path, again.changed) == (2, None, False)


def test_migrate_file_never_overwrites_a_backup(root: Path) -> None:
    path = write_json(repo_file(root), V0)
    old_backup = path.with_name("config.json.v0.bak")
    old_backup.write_text("older")
    result = migrate_file(root)
    assert result.backup_path == path.with_name("config.json.v0.1.bak")
    assert old_backup.read_text() == "older"


def test_migrate_file_refuses_an_invalid_result(root: Path) -> None:
    path = write_json(repo_file(root), {**V0, "mainDatasetName": "has space"})
    before = path.read_bytes()
    with pytest.raises(ConfigError) as exc_info:
        migrate_file(root)
    assert problems_of(exc_info) == [
        'dataset_name: must be a name of letters, digits, "_", "." and "-" (not "." or ".."),'
        ' got "has space"'
    ]
    assert path.read_bytes() == before
    assert not path.with_name("config.json.v0.bak").exists()


def test_migrate_file_without_config(tmp_path: Path) -> None:
    with pytest.raises(NotInitializedError):
        migrate_file(tmp_path)


# --- init, get, set -------------------------------------------------------------------------


def test_write_initial_config(root: Path, env: dict[str, str]) -> None:
    path = write_initial_config(root)
    assert path == repo_file(root)
    written = json.loads(path.read_text())
    # Only what a team shares: anything more would shadow the user's own config file.
    assert written == {
        k: DESIGN_DEFAULTS[k] for k in ("schema_version", "dataset_name", "exclude_patterns")
    }
    assert cfg.to_dict(load_config(root, env=env).config) == DESIGN_DEFAULTS
    assert (root / ".code-query" / ".gitignore").read_text() == "*\n!config.json\n!.gitignore\n"
    assert no_temp_files(path.parent)
    # An existing config is returned unchanged.
    path.write_text('{"schema_version": 2, "model": "mine"}\n')
    assert write_initial_config(root, "other") == path
    assert path.read_text() == '{"schema_version": 2, "model": "mine"}\n'
    loaded = load_config(root, env=env)
    assert loaded.warnings == []
    assert loaded.sources["model"] == "repo"


def test_write_initial_config_with_dataset_name(tmp_path: Path) -> None:
    path = write_initial_config(tmp_path, "my_ds")
    assert json.loads(path.read_text())["dataset_name"] == "my_ds"
    with pytest.raises(ConfigError) as exc_info:
        write_initial_config(tmp_path / "x", "bad name")
    assert exc_info.value.problems[0].startswith("dataset_name: must be a name of letters")


def test_get_key(root: Path, env: dict[str, str]) -> None:
    config = load_config(root, env=env).config
    assert get_key(config, "processing.batch_size") == 5
    assert get_key(config, "queue") == {"backend": "sqlite", "url": None}
    assert get_key(config, "exclude_patterns")[0] == "node_modules/"
    with pytest.raises(UsageError) as exc_info:
        get_key(config, "processing.batch")
    assert exc_info.value.message == (
        'unknown config key "processing.batch" (did you mean "processing.batch_size"?)'
    )
    assert exc_info.value.hint is not None
    assert "processing.debounce_ms" in exc_info.value.hint


def test_set_key_good(root: Path, env: dict[str, str]) -> None:
    path = write_json(repo_file(root), {"schema_version": 2, "exclude_patterns": ["keep/"]})
    assert set_key(root, "processing.batch_size", "10", env=env) == 10
    assert set_key(root, "dataset_name", "2024", env=env) == "2024"  # a string field stays text
    assert set_key(root, "processor.command", '["llm", "-p"]', env=env) == ["llm", "-p"]
    assert set_key(root, "processing.mode", "manual", env=env) == "manual"
    assert json.loads(path.read_text()) == {
        "schema_version": 2,
        "exclude_patterns": ["keep/"],
        "processing": {"batch_size": 10, "mode": "manual"},
        "dataset_name": "2024",
        "processor": {"command": ["llm", "-p"]},
    }
    assert path.read_text().startswith('{\n  "schema_version": 2,\n  "exclude_patterns": [\n')
    assert no_temp_files(path.parent)
    assert load_config(root, env=env).config.processing.batch_size == 10


def test_set_key_bad_leaves_the_file_untouched(root: Path, env: dict[str, str]) -> None:
    path = write_json(repo_file(root), {"schema_version": 2, "model": "opus"})
    before = path.read_bytes()
    with pytest.raises(ConfigError) as exc_info:
        set_key(root, "processing.batch_size", "five", env=env)
    assert problems_of(exc_info) == [
        'processing.batch_size: must be an integer from 1 to 100, got "five"'
    ]
    with pytest.raises(ConfigError) as exc_info:
        set_key(root, "queue.backend", "redis", env=env)
    assert problems_of(exc_info)[0].startswith("queue.url: required when queue.backend is")
    with pytest.raises(UsageError):
        set_key(root, "processing.batchsize", "5", env=env)
    assert path.read_bytes() == before
    assert no_temp_files(path.parent)


def test_set_key_refuses_an_old_schema(root: Path, env: dict[str, str]) -> None:
    write_json(repo_file(root), V0)
    with pytest.raises(ConfigError) as exc_info:
        set_key(root, "model", "opus", env=env)
    assert exc_info.value.hint == "run `cq-lsp config migrate`, then set the key again"


# --- cache ----------------------------------------------------------------------------------


def test_cache_reloads_and_keeps_the_last_good_config(root: Path, env: dict[str, str]) -> None:
    path = write_json(repo_file(root), {"schema_version": 2, "processing": {"batch_size": 3}})
    cache = ConfigCache(root, env=env)
    first = cache.get()
    assert first.config.processing.batch_size == 3
    assert cache.get() is first  # unchanged files: no reload

    write_json(path, {"schema_version": 2, "processing": {"batch_size": 42}})
    assert cache.get().config.processing.batch_size == 42
    assert cache.error is None

    write_json(path, {"schema_version": 2, "processing": {"batch_size": "lots"}})
    assert cache.get().config.processing.batch_size == 42
    assert cache.error is not None
    assert cache.error.problems == [
        'processing.batch_size: must be an integer from 1 to 100, got "lots"'
    ]

    write_json(path, {"schema_version": 2, "processing": {"batch_size": 8}})
    assert cache.get().config.processing.batch_size == 8
    assert cache.error is None

    write_json(user_file(env), {"model": "from-user"})
    assert cache.get().config.model == "from-user"


def test_cache_falls_back_to_defaults_when_never_good(root: Path, env: dict[str, str]) -> None:
    repo_file(root).write_text("{oops")
    cache = ConfigCache(root, env=env)
    loaded = cache.get()
    assert loaded.config.processing.batch_size == 5
    assert loaded.config.dataset_name == "my-repo"
    assert cache.error is not None
    assert "line 1, column 2" in cache.error.message


def test_cache_applies_the_editor_layer(root: Path, env: dict[str, str]) -> None:
    assert ConfigCache(root, env=env).get().config.worker.threads == 2
    cache = ConfigCache(root, env=env, editor={"worker": {"threads": 4}}, editor_trusted=False)
    assert cache.get().config.worker.threads == 4


# --- trust ----------------------------------------------------------------------------------

COMMAND_CONFIG = {"schema_version": 2, "processor": {"kind": "command", "command": ["my-llm"]}}


def test_trust_flow(root: Path, env: dict[str, str]) -> None:
    path = write_json(repo_file(root), COMMAND_CONFIG)
    loaded = load_config(root, env=env)
    assert loaded.command_trusted is False
    assert loaded.config.processor.command == ("my-llm",)
    assert loaded.untrusted_reason == (
        "the repository's .code-query/config.json sets processor.command, which runs a program; "
        f"run `cq-lsp config trust` in {root} to allow this exact file (an edited file needs "
        "trusting again), or trust the workspace in your editor"
    )
    assert loaded.repo_file_hash is not None
    assert not is_trusted(root, loaded.repo_file_hash, env=env)

    digest = trust_repo_config(root, env=env)
    assert digest == loaded.repo_file_hash
    assert is_trusted(root, digest, env=env)
    trusted = load_config(root, env=env)
    assert trusted.command_trusted is True
    assert trusted.untrusted_reason is None
    assert no_temp_files(Path(env["CQ_LSP_DATA_HOME"]))

    path.write_text(path.read_text() + " ")  # any edit, even whitespace, needs trust again
    assert load_config(root, env=env).command_trusted is False
    assert load_config(root, env=env, editor_trusted=True).command_trusted is True


def test_command_from_user_env_or_editor_is_trusted(root: Path, env: dict[str, str]) -> None:
    write_json(user_file(env), {"processor": {"kind": "command", "command": ["user-llm"]}})
    assert load_config(root, env=env).command_trusted is True
    write_json(repo_file(root), {"schema_version": 2, "processor": {"command": ["repo-llm"]}})
    assert load_config(root, env=env).command_trusted is False
    loaded = load_config(root, env=env, editor={"processor": {"command": ["editor-llm"]}})
    assert loaded.command_trusted is True
    assert loaded.sources["processor.command"] == "editor"


def test_repo_env_passthrough_needs_trust(root: Path, env: dict[str, str]) -> None:
    # Which variables reach the (trusted, user-configured) command is as sensitive as the command.
    write_json(user_file(env), {"processor": {"kind": "command", "command": ["user-llm"]}})
    write_json(repo_file(root), {"schema_version": 2, "processor": {"env": ["AWS_SECRET_KEY"]}})
    assert load_config(root, env=env).command_trusted is False


def test_cache_notices_trust(root: Path, env: dict[str, str]) -> None:
    write_json(repo_file(root), COMMAND_CONFIG)
    cache = ConfigCache(root, env=env)
    assert cache.get().command_trusted is False
    trust_repo_config(root, env=env)
    assert cache.get().command_trusted is True


def test_trust_without_config(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(NotInitializedError):
        trust_repo_config(tmp_path, env=env)


# --- import cost ----------------------------------------------------------------------------


def test_import_stays_light() -> None:
    code = (
        "import sys, cq_lsp.config.schema, cq_lsp.config.trust, cq_lsp.config.migrate; "
        "heavy = ['cattrs', 'platformdirs', 'pygls', 'huey', 'rich', 'tree_sitter', 'lsprotocol']; "
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- malformed files: a message and exit 2, never a traceback or a hang (issue 12, item 8) -------


def _malformed_cases(tmp_path: Path) -> dict[str, tuple[str | None, str]]:
    """name -> (file text, or None for a special file made by the test; expected words)."""
    return {
        "huge_int": ('{"processing": {"batch_size": ' + "9" * 5000 + "}}", "processing.batch_size"),
        "nested_lists": ('{"exclude_patterns": ' + "[" * 100_000 + "]" * 100_000 + "}", "deeper"),
        "nested_objects": ('{"a": ' + '{"a": ' * 50_000 + "1" + "}" * 50_001, "deeper"),
        "duplicate": ('{"processing": {"batch_size": 500, "batch_size": 5}}', "given twice"),
        "dev_zero": (None, "not a regular file"),
        "fifo": (None, "not a regular file"),
        "too_large": ('{"model": "' + "m" * (2 << 20) + '"}', "larger than"),
    }


@pytest.mark.parametrize(
    "case",
    ["huge_int", "nested_lists", "nested_objects", "duplicate", "dev_zero", "fifo", "too_large"],
)
def test_malformed_config_is_a_clear_error(case: str, tmp_path: Path, cq: Any) -> None:
    cq.run("init")
    config = cq.root / ".code-query" / "config.json"
    text, words = _malformed_cases(tmp_path)[case]
    config.unlink()
    if case == "dev_zero":
        config.symlink_to("/dev/zero")
    elif case == "fifo":
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        config.symlink_to(fifo)
    else:
        assert text is not None
        config.write_text(text, encoding="utf-8")
    for args in (("status",), ("config", "validate"), ("index",)):
        # A timeout, not a timing: a FIFO used to block forever.
        proc = cq.run(*args, check=False, timeout=60)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr
        assert words in proc.stderr, (args, proc.stderr[-2000:])


def test_live_config_keeps_the_last_good_one_through_malformed_edits(
    root: Path, env: dict[str, str]
) -> None:
    config = root / ".code-query" / "config.json"
    config.parent.mkdir(exist_ok=True)
    config.write_text('{"processing": {"batch_size": 7}}', encoding="utf-8")
    cache = ConfigCache(root, env=env)
    assert cache.get().config.processing.batch_size == 7
    for text in ("[" * 100_000 + "]" * 100_000, '{"a": ' * 50_000 + "1" + "}" * 50_000):
        config.write_text(text, encoding="utf-8")
        assert cache.get().config.processing.batch_size == 7
        assert isinstance(cache.error, ConfigError)
