"""Creating and editing the repository's config file: init, ``config get|set|migrate``."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from cq_lsp.atomic import write_bytes_atomic, write_json_atomic, write_text_atomic
from cq_lsp.config.files import GITIGNORE_TEXT, read_config_file, repo_config_path, user_config_path
from cq_lsp.config.migrate import CURRENT_VERSION, MigrationResult, detect_version, migrate_dict
from cq_lsp.config.schema import (
    SCHEMA_VERSION,
    Check,
    Config,
    all_keys,
    converter,
    cross_problems,
    deep_merge,
    default_config_dict,
    get_path,
    layer_problems,
    safe_dataset_name,
    to_dict,
    validate,
)
from cq_lsp.errors import ConfigError, NotInitializedError, UsageError

# ---------------------------------------------------------------------------------------------
# Creating and editing the repository file.


def write_initial_config(root: Path, dataset_name: str | None = None) -> Path:
    """Create ``.code-query/config.json`` and ``.code-query/.gitignore``.

    The file holds what a team shares — the schema, the dataset name and the exclude patterns —
    and nothing else: every other key written here would shadow the user's own config file
    (a repository layer outranks it), so a personal ``processor.command`` could never apply.
    ``cq-lsp config show`` lists every effective value and where it comes from; ``config set``
    adds keys. An existing config is never overwritten: its path is returned unchanged.
    """
    path = repo_config_path(root)
    name = dataset_name if dataset_name is not None else safe_dataset_name(root)
    problems = layer_problems({"dataset_name": name})
    if problems:
        raise ConfigError("invalid dataset name", problems=problems, source="--dataset")
    path.parent.mkdir(exist_ok=True)
    gitignore = path.parent / ".gitignore"
    if not gitignore.exists():
        write_text_atomic(gitignore, GITIGNORE_TEXT)
    if not path.exists():
        defaults = default_config_dict(name)
        shared = {k: defaults[k] for k in ("schema_version", "dataset_name", "exclude_patterns")}
        write_json_atomic(path, shared)
    return path


def _unknown_key(key: str) -> UsageError:
    import difflib

    valid = all_keys()
    close = difflib.get_close_matches(key, valid, n=1)
    tip = f' (did you mean "{close[0]}"?)' if close else ""
    return UsageError(f'unknown config key "{key}"{tip}', hint="valid keys: " + ", ".join(valid))


def get_key(config: Config, key: str) -> Any:
    """The JSON value of a dotted key (``processing.batch_size``) or a whole section."""
    if key not in all_keys():
        raise _unknown_key(key)
    return get_path(to_dict(config), key)


def _parse_value(key: str, raw: str) -> Any:
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    # `set dataset_name 2024` means the string "2024", not the number.
    check = _check_of(key)
    if check is not None and check.wants_string and isinstance(value, (int, float, bool)):
        return raw
    return value


def _check_of(key: str) -> Check | None:
    cls: Any = Config
    attribute = None
    for part in key.split("."):
        if attribute is not None:
            cls = attribute.default.factory  # type: ignore[union-attr]
        attribute = attrs.fields_dict(cls)[part]
    return attribute.metadata.get("check") if attribute is not None else None


def set_key(root: Path, key: str, value: str, *, env: Mapping[str, str] | None = None) -> Any:
    """Set ``key`` in the repository config from its command-line text; return the new value.

    ``value`` is JSON when it parses (``10``, ``true``, ``["a"]``, ``null``), else a string. The
    whole resulting file is validated first; when invalid, ``ConfigError`` is raised and the file
    is untouched. Unrelated keys are kept as they were.
    """
    path = repo_config_path(root)
    if not path.parent.is_dir():
        raise NotInitializedError(f"{path.parent} does not exist", hint="run `cq-lsp init` first")
    if key not in all_keys():
        raise _unknown_key(key)
    data, _ = read_config_file(path)
    if data is None:
        data = {"schema_version": SCHEMA_VERSION}
    elif (version := detect_version(data)) < SCHEMA_VERSION:
        raise ConfigError(
            f"{path} is schema v{version}; it must be migrated before it can be edited",
            hint="run `cq-lsp config migrate`, then set the key again",
            source=str(path),
        )
    parsed = _parse_value(key, value)
    new = copy.deepcopy(data)
    *sections, leaf = key.split(".")
    target = new
    for part in sections:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    target[leaf] = parsed

    problems = layer_problems(new)
    if not problems:
        # Cross-field checks see the user file too: it may hold the command or the queue URL.
        merged = default_config_dict("default")
        try:
            user, _ = read_config_file(user_config_path(env))
        except ConfigError:
            user = None
        if user is not None and detect_version(user) == SCHEMA_VERSION and not layer_problems(user):
            merged = deep_merge(merged, user)
        problems = cross_problems(converter().structure(deep_merge(merged, new), Config))
    if problems:
        raise ConfigError(
            f"not set: {key} = {value} would make {path} invalid",
            problems=problems,
            source=str(path),
        )
    write_json_atomic(path, new)
    return parsed


def _backup_path(config_path: Path, version: int) -> Path:
    # Never overwrite an older backup: it may be the only copy of a hand-edited file.
    candidate = config_path.with_name(f"{config_path.name}.v{version}.bak")
    n = 1
    while candidate.exists():
        candidate = config_path.with_name(f"{config_path.name}.v{version}.{n}.bak")
        n += 1
    return candidate


def migrate_file(root: Path) -> MigrationResult:
    """Rewrite ``<root>/.code-query/config.json`` as schema v2, keeping a backup of the original.

    A v2 file is left alone. A file whose migrated form would be invalid raises ``ConfigError`` and
    is left untouched.
    """
    path = repo_config_path(root)
    data, raw = read_config_file(path)
    if data is None or raw is None:
        raise NotInitializedError(
            f"{path} does not exist, so there is nothing to migrate",
            hint="run `cq-lsp init` to create a current config",
        )
    version = detect_version(data)
    if version == CURRENT_VERSION:
        return MigrationResult(from_version=version, backup_path=None, changed=False)
    migrated = migrate_dict(data)
    problems = validate(migrated)
    if problems:
        raise ConfigError(
            f"{path} (schema v{version}) cannot be migrated: the result would be invalid",
            problems=problems,
            hint="fix these keys in the file by hand, then run `cq-lsp config migrate` again",
            source=str(path),
        )
    backup = _backup_path(path, version)
    write_bytes_atomic(backup, raw)
    write_json_atomic(path, migrated)
    return MigrationResult(from_version=version, backup_path=backup, changed=True)
