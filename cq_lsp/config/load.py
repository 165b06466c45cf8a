"""Loading the layered configuration, caching it, and keeping the last good one.

Precedence, lowest first: defaults < user file < repository ``.code-query/config.json`` <
environment (``CODEQUERY_*``) < editor settings.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from cq_lsp.config import trust
from cq_lsp.config.files import (
    read_config_file,
    read_repo_config,
    repo_config_path,
    user_config_path,
)
from cq_lsp.config.migrate import detect_version, migrate_dict
from cq_lsp.config.schema import (
    REDIS_SCHEMES,
    SCHEMA_VERSION,
    USER_ONLY_SECTIONS,
    Config,
    converter,
    cross_problems,
    deep_merge,
    default_config_dict,
    get_path,
    layer_problems,
    leaf_keys,
    safe_dataset_name,
    to_dict,
)
from cq_lsp.errors import ConfigError
from cq_lsp.humanize import show_value


def _file_layer(
    data: dict[str, Any], path: Path, label: str, warnings: list[str]
) -> dict[str, Any]:
    version = detect_version(data)
    if version < SCHEMA_VERSION:
        fix = (
            "run `cq-lsp config migrate`"
            if label == "repo"
            else 'update it to the v2 keys and add "schema_version": 2'
        )
        warnings.append(f"{path} is schema v{version}; read it as v2 in memory; {fix}")
        data = migrate_dict(data)
    problems = layer_problems(data)
    if problems:
        raise ConfigError(
            f"{path} has {len(problems)} invalid setting(s)",
            problems=problems,
            hint="fix the keys listed; `cq-lsp config validate` checks the file",
            source=str(path),
        )
    return data


_ENV_KEYS = {
    "CODEQUERY_MODEL": "model",
    "CODEQUERY_PROCESSING_MODE": "processing.mode",
    "CODEQUERY_BATCH_SIZE": "processing.batch_size",
    "CODEQUERY_QUEUE_URL": "queue.url",
    "CODEQUERY_CACHE_URL": "cache.url",
    "CODEQUERY_POOL_URL": "pool.url",
}


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for var, key in _ENV_KEYS.items():
        raw = environ.get(var)
        if not raw:  # an empty value is how shells "unset" in scripts: treat it as absent
            continue
        value: Any = raw
        if var == "CODEQUERY_BATCH_SIZE":
            try:
                value = int(raw.strip())
            except ValueError:
                value = raw  # reported below as 'got "five"', naming the variable
        section, _, leaf = key.rpartition(".")
        (layer.setdefault(section, {}) if section else layer)[leaf] = value
        if var == "CODEQUERY_QUEUE_URL" and raw.startswith(REDIS_SCHEMES):
            layer["queue"]["backend"] = "redis"
    problems = layer_problems(layer)
    if problems:
        by_key = {key: var for var, key in _ENV_KEYS.items()}
        named = []
        for line in problems:
            key, _, rest = line.partition(": ")
            named.append(f"{by_key.get(key, key)}: {rest}")
        raise ConfigError(
            "an environment variable holds an invalid setting",
            problems=named,
            hint="fix or unset the variables listed",
            source="environment",
        )
    return layer


def _editor_layer(editor: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(editor, Mapping):
        problems = [f"(top level): must be an object ({{...}}), got {show_value(editor)}"]
    else:
        problems = layer_problems(editor)
    if problems:
        raise ConfigError(
            "the editor's cq-lsp settings are invalid",
            problems=problems,
            hint="fix them in the editor's settings (initializationOptions / cq-lsp.*)",
            source="editor settings",
        )
    return dict(editor)


# ---------------------------------------------------------------------------------------------
# Loading.

# What program runs and what it receives: set by a repository file, these need trust.
_TRUST_KEYS = ("processor.command", "processor.env")


@attrs.define(frozen=True, kw_only=True)
class LoadedConfig:
    """A merged configuration and where each key came from."""

    config: Config
    #: dotted key -> the layer that set it: default, user, repo, env or editor.
    sources: dict[str, str]
    repo_file: Path
    #: sha256 of the repo file's bytes, or None when there is no repo file.
    repo_file_hash: str | None
    #: False when the command (or the env it receives) comes from an untrusted repository file.
    command_trusted: bool
    warnings: list[str]
    #: why the command is not honoured and how to trust it; None when trusted.
    untrusted_reason: str | None = None


def load_config(
    root: Path,
    *,
    editor: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    editor_trusted: bool = False,
) -> LoadedConfig:
    """Load and merge every layer for the work tree at ``root``.

    ``env`` defaults to ``os.environ``. Raises ``ConfigError`` naming the bad layer and every bad
    key. A missing repository or user file is not an error.
    """
    root = Path(root)
    environ = os.environ if env is None else env
    warnings: list[str] = []
    layers: list[tuple[str, dict[str, Any]]] = []

    user_path = user_config_path(environ)
    user_data, _ = read_config_file(user_path)
    if user_data is not None:
        layers.append(("user", _file_layer(user_data, user_path, "user", warnings)))
    repo_path = repo_config_path(root)
    repo_data, repo_raw, own_file = read_repo_config(root)
    repo_hash = trust.file_sha256(repo_raw) if repo_raw is not None else None
    if repo_data is not None:
        repo_layer = _file_layer(repo_data, repo_path, "repo", warnings)
        for section in USER_ONLY_SECTIONS:
            if repo_layer.pop(section, None) is not None:
                warnings.append(
                    f'{repo_path}: "{section}" is ignored there: where content and records go is '
                    "the user's choice; set it in the user config file or the environment"
                )
        layers.append(("repo", repo_layer))
    layers.append(("env", _env_layer(environ)))
    if editor is not None:
        layers.append(("editor", _editor_layer(editor)))

    merged = default_config_dict(safe_dataset_name(root))
    sources = dict.fromkeys(leaf_keys(merged), "default")
    for name, layer in layers:
        merged = deep_merge(merged, layer)
        sources.update(dict.fromkeys(leaf_keys(layer), name))
    config: Config = converter().structure(merged, Config)
    cross = cross_problems(config)
    if cross:
        blamed = {sources.get(k) for k in ("queue.backend", "processor.kind")} - {"default"}
        raise ConfigError(
            "the merged configuration is inconsistent",
            problems=cross,
            hint="set the missing key in the same place as the key that needs it",
            source=", ".join(sorted(s for s in blamed if s)) or "config",
        )

    from_repo = any(
        sources.get(k) == "repo" and bool(get_path(to_dict(config), k)) for k in _TRUST_KEYS
    )
    # A config.json that is a symlink (or sits in a symlinked .code-query/) is not this
    # repository's own file: a command it sets is never honoured, whatever trust says, so that
    # an untrusted repository cannot borrow a trusted one's file.
    trusted = not from_repo or (
        own_file and (editor_trusted or trust.is_trusted(root, repo_hash, env=environ))
    )
    reason = None
    if not trusted:
        reason = trust.untrusted_reason(root) if own_file else trust.symlinked_reason(root)
    return LoadedConfig(
        config=config,
        sources=sources,
        repo_file=repo_path,
        repo_file_hash=repo_hash,
        command_trusted=trusted,
        warnings=warnings,
        untrusted_reason=reason,
    )


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    # The inode changes on each atomic replace: catches same-size edits within one mtime tick.
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class ConfigCache:
    """The configuration of one work tree, reloaded when its files change.

    When a reload fails, ``get()`` keeps returning the last good configuration (or the defaults, if
    there never was one) and ``error`` holds the ``ConfigError`` for the server to show.
    """

    def __init__(
        self,
        root: Path,
        *,
        editor: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        editor_trusted: bool = False,
    ) -> None:
        self.root = Path(root)
        self._editor = editor
        self._env = env
        self._editor_trusted = editor_trusted
        self._lock = threading.Lock()
        self._loaded: LoadedConfig | None = None
        self._stamps: object = None
        self.error: ConfigError | None = None

    def _current_stamps(self) -> object:
        # The trust store is watched too: `cq-lsp config trust` must take effect without a restart.
        return (
            _stamp(repo_config_path(self.root)),
            _stamp(user_config_path(self._env)),
            _stamp(trust.trust_store_path(self._env)),
        )

    def get(self) -> LoadedConfig:
        """The current configuration, reloading first if a file changed."""
        with self._lock:
            # Stamps are taken before reading, so an edit during the load causes another reload.
            stamps = self._current_stamps()
            if self._loaded is not None and stamps == self._stamps:
                return self._loaded
            try:
                self._loaded = load_config(
                    self.root,
                    editor=self._editor,
                    env=self._env,
                    editor_trusted=self._editor_trusted,
                )
                self.error = None
            except Exception as exc:  # a long-running process keeps going
                # read_config_file turns what it can foresee into ConfigError; anything else
                # (RecursionError, MemoryError…) must not reach the worker's task or the LSP.
                error = (
                    exc
                    if isinstance(exc, ConfigError)
                    else ConfigError(
                        f"the configuration could not be loaded: {type(exc).__name__}: {exc}",
                        hint="fix .code-query/config.json or the user config file",
                        source=str(repo_config_path(self.root)),
                    )
                )
                self.error = error
                if self._loaded is None:
                    self._loaded = _fallback(self.root, error)
            self._stamps = stamps
            return self._loaded


def _fallback(root: Path, exc: ConfigError) -> LoadedConfig:
    config = Config(dataset_name=safe_dataset_name(root))
    return LoadedConfig(
        config=config,
        sources=dict.fromkeys(leaf_keys(to_dict(config)), "default"),
        repo_file=repo_config_path(root),
        repo_file_hash=None,
        command_trusted=True,
        warnings=[f"using the default configuration: {exc.message}"],
    )
