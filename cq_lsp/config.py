"""Configuration: the schema, strict validation, layered loading, caching and editing.

Precedence, lowest first: defaults < user file < repository ``.code-query/config.json`` <
environment (``CODEQUERY_*``) < editor settings. Every layer is partial and is validated on its own
(so an error names the layer it came from), then the layers are deep-merged per section and the
cross-field checks run on the result.

cattrs is imported lazily: it costs ~20 ms, and importing this module must stay cheap for git hooks.
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, NoReturn

import attrs

from cq_lsp import trust
from cq_lsp.atomic import write_json_atomic, write_text_atomic
from cq_lsp.config_migrate import MigrationResult, detect_version, migrate_dict, migrate_file
from cq_lsp.errors import ConfigError, NotInitializedError, UsageError

__all__ = [
    "Config",
    "ConfigCache",
    "LoadedConfig",
    "MigrationResult",
    "ProcessingConfig",
    "ProcessorConfig",
    "QueueConfig",
    "WorkerConfig",
    "default_config_dict",
    "detect_version",
    "get_key",
    "load_config",
    "migrate_dict",
    "migrate_file",
    "read_config_file",
    "repo_config_path",
    "set_key",
    "structure_config",
    "to_dict",
    "user_config_path",
    "validate",
    "write_initial_config",
]

SCHEMA_VERSION = 2
CONFIG_DIR_NAME = ".code-query"
CONFIG_FILE_NAME = "config.json"
# Tests and sandboxes point this at a temporary dir so they never read the real user's config.
CONFIG_HOME_ENV = "CQ_LSP_CONFIG_HOME"
GITIGNORE_TEXT = "*\n!config.json\n!.gitignore\n"
DEFAULT_EXCLUDE_PATTERNS = (
    "node_modules/", "dist/", "build/", ".venv/", "venv/", "__pycache__/",
    "coverage/", "*.min.js", "*.map", "*.lock",
)  # fmt: skip
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

# ---------------------------------------------------------------------------------------------
# Field checks: one object per field does the strict type check, the range check and the message,
# both for cattrs (structuring user input) and for attrs (constructing in Python).


class _Invalid(ValueError):
    """A value's problem, phrased to follow ``key.path: ``."""


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Check:
    expect = "a valid value"
    wants_string = False

    def __call__(self, value: Any) -> Any:
        raise NotImplementedError

    def fail(self, value: Any) -> NoReturn:
        raise _Invalid(f"must be {self.expect}, got {_show(value)}")


class _Int(_Check):
    def __init__(self, lo: int, hi: int, expect: str | None = None) -> None:
        self.lo, self.hi = lo, hi
        self.expect = expect or f"an integer from {lo} to {hi}"

    def __call__(self, value: Any) -> int:
        # bool is an int subclass; true for a count is a mistake, not 1.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(value)
        if not self.lo <= value <= self.hi:
            self.fail(value)
        return value


class _Float(_Check):
    def __init__(self, lo: float, hi: float, *, lo_open: bool) -> None:
        self.lo, self.hi, self.lo_open = lo, hi, lo_open
        low = f"greater than {lo:g} and at most" if lo_open else f"from {lo:g} to"
        self.expect = f"a number {low} {hi:g}"

    def __call__(self, value: Any) -> float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            self.fail(value)
        ok = (self.lo < value if self.lo_open else self.lo <= value) and value <= self.hi
        if not ok:  # NaN fails here too
            self.fail(value)
        return value


class _Bool(_Check):
    expect = "true or false"

    def __call__(self, value: Any) -> bool:
        if not isinstance(value, bool):
            self.fail(value)
        return value


class _Choice(_Check):
    wants_string = True

    def __init__(self, *values: str) -> None:
        self.values = values
        self.expect = "one of " + ", ".join(f'"{v}"' for v in values)

    def __call__(self, value: Any) -> str:
        if value not in self.values or not isinstance(value, str):
            self.fail(value)
        return value


class _Text(_Check):
    wants_string = True

    def __init__(
        self, pattern: str, expect: str, *, optional: bool = False, forbid: tuple[str, ...] = ()
    ) -> None:
        self.pattern = re.compile(pattern)
        self.expect = expect + (" or null" if optional else "")
        self.optional, self.forbid = optional, forbid

    def __call__(self, value: Any) -> str | None:
        if value is None and self.optional:
            return None
        if not isinstance(value, str) or not self.pattern.fullmatch(value):
            self.fail(value)
        if value in self.forbid:
            self.fail(value)
        return value


class _StrList(_Check):
    def __init__(
        self,
        item: str,
        expect: str,
        *,
        item_expect: str = "a non-empty string",
        optional: bool = False,
    ) -> None:
        self.item, self.item_expect = re.compile(item), item_expect
        self.expect = expect + (" or null" if optional else "")
        self.optional = optional

    def __call__(self, value: Any) -> tuple[str, ...] | None:
        if value is None and self.optional:
            return None
        # A bare string is a sequence too; cattrs would turn "abc" into ("a", "b", "c").
        if not isinstance(value, (list, tuple)) or (self.optional and not value):
            self.fail(value)
        for i, item in enumerate(value):
            if not isinstance(item, str) or not self.item.fullmatch(item):
                raise _Invalid(f"[{i}] must be {self.item_expect}, got {_show(item)}")
        return tuple(value)


class _Const(_Check):
    def __init__(self, value: int, expect: str) -> None:
        self.value, self.expect = value, expect

    def __call__(self, value: Any) -> int:
        if value != self.value or isinstance(value, bool):
            self.fail(value)
        return self.value


def _validator(check: _Check) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def run(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        try:
            check(value)
        except _Invalid as exc:
            raise ValueError(f"{attribute.name}: {exc}") from None

    return run


def _field(check: _Check, default: Any) -> Any:
    return attrs.field(default=default, validator=_validator(check), metadata={"check": check})


# ---------------------------------------------------------------------------------------------
# The schema (mirrors the JSON in DESIGN.md "Configuration").


@attrs.frozen(kw_only=True)
class ProcessorConfig:
    """How a file becomes documentation: the offline static documenter or an external command."""

    kind: Literal["static", "command"] = _field(_Choice("static", "command"), "static")
    #: argv of the documenting program (e.g. ``["claude", "-p"]``); never run through a shell.
    command: tuple[str, ...] | None = _field(
        _StrList(r"(?s).+", "a non-empty list of strings (program and arguments)", optional=True),
        None,
    )
    timeout_s: float = _field(_Float(0, 86400, lo_open=True), 120)
    max_file_bytes: int = _field(_Int(1, 1 << 30), 1048576)
    concurrency: int = _field(_Int(1, 64), 2)
    fallback: Literal["static", "none"] = _field(_Choice("static", "none"), "static")
    #: names of extra environment variables passed to the command (all others are withheld).
    env: tuple[str, ...] = _field(
        _StrList(
            r"[A-Za-z_][A-Za-z0-9_]*",
            "a list of environment variable names",
            item_expect="an environment variable name (letters, digits, _)",
        ),
        (),
    )


@attrs.frozen(kw_only=True)
class ProcessingConfig:
    """When queued work runs."""

    mode: Literal["auto", "manual"] = _field(_Choice("auto", "manual"), "auto")
    fallback_to_sync: bool = _field(_Bool(), True)
    batch_size: int = _field(_Int(1, 100), 5)
    #: delay for work queued by git hooks; coalesces rebases and bursts of commits.
    delay_seconds: int = _field(_Int(0, 86400), 300)
    #: delay for work queued by saves.
    debounce_ms: int = _field(_Int(0, 60000), 1000)
    max_retries: int = _field(_Int(0, 10), 2)
    retry_delay_s: int = _field(_Int(0, 3600), 60)
    worker_check_interval: float = _field(_Float(0, 3600, lo_open=True), 5)
    queue_timeout: float = _field(_Float(0, 3600, lo_open=False), 30)


@attrs.frozen(kw_only=True)
class WorkerConfig:
    """The worker process."""

    threads: int = _field(_Int(1, 32), 2)
    #: seconds without work before the worker exits; 0 means never.
    idle_exit_s: int = _field(_Int(0, 86400), 900)


@attrs.frozen(kw_only=True)
class QueueConfig:
    """The transport between producers and the worker."""

    backend: Literal["sqlite", "redis"] = _field(_Choice("sqlite", "redis"), "sqlite")
    url: str | None = _field(_Text(r"\S+", "a URL string", optional=True), None)


@attrs.frozen(kw_only=True)
class Config:
    """The whole configuration. ``load_config`` fills ``dataset_name`` from the work-tree name."""

    schema_version: int = _field(
        _Const(SCHEMA_VERSION, f"{SCHEMA_VERSION} (the schema this cq-lsp reads)"), SCHEMA_VERSION
    )
    dataset_name: str = _field(
        _Text(
            r"[A-Za-z0-9_.-]+",
            'a name of letters, digits, "_", "." and "-" (not "." or "..")',
            forbid=(".", ".."),
        ),
        "default",
    )
    #: reaches an LLM command's argv, hence the narrow alphabet.
    model: str = _field(
        _Text(r"[A-Za-z0-9._:/-]{1,100}", 'a model name of 1 to 100 letters, digits or "._:/-"'),
        "sonnet",
    )
    processor: ProcessorConfig = attrs.field(factory=ProcessorConfig)
    processing: ProcessingConfig = attrs.field(factory=ProcessingConfig)
    worker: WorkerConfig = attrs.field(factory=WorkerConfig)
    queue: QueueConfig = attrs.field(factory=QueueConfig)
    exclude_patterns: tuple[str, ...] = _field(
        _StrList(r"(?s).+", "a list of gitignore-style patterns"), DEFAULT_EXCLUDE_PATTERNS
    )


# ---------------------------------------------------------------------------------------------
# The private converter and its error messages.

_converter_cache: list[Any] = []


def _hook(check: _Check) -> Callable[[Any, Any], Any]:
    return lambda value, _type: check(value)


def _converter() -> Any:
    if _converter_cache:
        return _converter_cache[0]
    import cattrs
    from cattrs.gen import make_dict_structure_fn, override

    conv = cattrs.Converter(forbid_extra_keys=True)
    # Strict scalars for any field without its own check: the defaults call str()/int() on anything.
    for typ, check in ((str, _Text(r"(?s).*", "a string")), (bool, _Bool())):
        conv.register_structure_hook(typ, _hook(check))
    conv.register_structure_hook(int, lambda v, _t: _Int(-(2**63), 2**63 - 1, "an integer")(v))
    conv.register_structure_hook(
        float, lambda v, _t: _Float(float("-inf"), float("inf"), lo_open=False)(v)
    )

    def factory(cl: type) -> Callable[[Any, Any], Any]:
        hooks = {
            a.name: override(struct_hook=_hook(a.metadata["check"]))
            for a in attrs.fields(cl)
            if "check" in a.metadata
        }
        inner: Callable[[Any, Any], Any] = make_dict_structure_fn(
            cl,
            conv,
            _cattrs_forbid_extra_keys=True,
            **hooks,  # type: ignore[arg-type]
        )

        def structure(value: Any, typ: Any) -> Any:
            if not isinstance(value, Mapping):
                raise _Invalid(f"must be an object ({{...}}), got {_show(value)}")
            return inner(value, typ)

        return structure

    conv.register_structure_hook_factory(attrs.has, factory)
    _converter_cache.append(conv)
    return conv


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _flatten(exc: BaseException, path: str) -> list[str]:
    """One ``key.path: problem`` line per leaf of a cattrs exception group."""
    import difflib

    from cattrs.errors import (
        AttributeValidationNote,
        BaseValidationError,
        ForbiddenExtraKeysError,
        IterableValidationNote,
    )

    if isinstance(exc, BaseValidationError):
        out: list[str] = []
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            if isinstance(note, AttributeValidationNote):
                out += _flatten(sub, _join(path, note.name))
            elif isinstance(note, IterableValidationNote):
                out += _flatten(sub, f"{path}[{note.index}]")
        for sub in without:
            out += _flatten(sub, path)
        return out
    if isinstance(exc, ForbiddenExtraKeysError):
        valid = [a.name for a in attrs.fields(exc.cl)]
        lines = []
        for key in sorted(exc.extra_fields, key=str):
            close = difflib.get_close_matches(key, valid, n=1)
            tip = f'did you mean "{close[0]}"?' if close else "valid keys: " + ", ".join(valid)
            lines.append(f"{_join(path, key)}: unknown key ({tip})")
        return lines
    message = str(exc)
    # _StrList reports "[i] ..." so the index joins the key without a separator.
    if message.startswith("["):
        return [f"{path}{message.replace(' must', ': must', 1)}"]
    return [f"{path or '(top level)'}: {message}"]


def _layer_problems(data: Mapping[str, Any]) -> list[str]:
    """Type, range and unknown-key problems of one partial v2 layer."""
    try:
        _converter().structure(data, Config)
    except Exception as exc:
        problems = _flatten(exc, "")
        if problems:
            return problems
        raise
    return []


def _cross_problems(config: Config) -> list[str]:
    problems = []
    url = config.queue.url
    if config.queue.backend == "redis":
        if url is None:
            problems.append(
                'queue.url: required when queue.backend is "redis", e.g. "redis://localhost:6379/0"'
            )
        elif not url.startswith(REDIS_SCHEMES):
            problems.append(
                f"queue.url: must start with redis://, rediss:// or unix://, got {_show(url)}"
            )
    if config.processor.kind == "command" and not config.processor.command:
        problems.append(
            'processor.command: required when processor.kind is "command": '
            'the program and its arguments, e.g. ["claude", "-p"]'
        )
    return problems


def validate(data: Mapping[str, Any]) -> list[str]:
    """All problems of a config mapping (any schema version; older ones are migrated first)."""
    if not isinstance(data, Mapping):
        return [f"(top level): must be an object ({{...}}), got {_show(data)}"]
    if detect_version(data) < SCHEMA_VERSION:
        data = migrate_dict(data)
    problems = _layer_problems(data)
    if problems:
        return problems
    merged = _deep_merge(default_config_dict("default"), data)
    return _cross_problems(_converter().structure(merged, Config))


def structure_config(data: Mapping[str, Any], *, source: str = "config") -> Config:
    """A ``Config`` from a complete or partial v2 mapping; ``ConfigError`` lists every problem."""
    problems = validate(data)
    if problems:
        raise ConfigError(f"{source} is invalid", problems=problems, source=source)
    merged = _deep_merge(default_config_dict("default"), migrate_dict(data))
    return _converter().structure(merged, Config)


# ---------------------------------------------------------------------------------------------
# Defaults, layers and merging.


def _safe_dataset_name(root: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(root).resolve().name).strip("-")
    return name if name and name not in (".", "..") else "default"


def default_config_dict(dataset_name: str) -> dict[str, Any]:
    """The full v2 defaults as JSON-ready data (lists, not tuples), in DESIGN.md's key order."""
    return to_dict(Config(dataset_name=dataset_name))


def to_dict(config: Config) -> dict[str, Any]:
    """``config`` as JSON-ready data: tuples become lists, so it compares equal to parsed JSON."""
    return attrs.asdict(
        config, value_serializer=lambda _i, _a, v: list(v) if isinstance(v, tuple) else v
    )


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _leaf_keys(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            keys += _leaf_keys(value, _join(prefix, key))
        else:
            keys.append(_join(prefix, key))
    return keys


def _all_keys() -> list[str]:
    defaults = default_config_dict("default")
    sections = [k for k, v in defaults.items() if isinstance(v, dict)]
    return sorted([*sections, *_leaf_keys(defaults)])


def repo_config_path(root: Path) -> Path:
    """``<root>/.code-query/config.json``."""
    return Path(root) / CONFIG_DIR_NAME / CONFIG_FILE_NAME


def user_config_path(env: Mapping[str, str] | None = None) -> Path:
    """The user file: ``$CQ_LSP_CONFIG_HOME/config.json`` or the platform's user config dir."""
    environ = os.environ if env is None else env
    override = environ.get(CONFIG_HOME_ENV)
    if override:
        return Path(override) / CONFIG_FILE_NAME
    import platformdirs  # ~10 ms; only paid when a config is actually loaded

    return Path(platformdirs.user_config_dir("cq-lsp")) / CONFIG_FILE_NAME


def read_config_file(path: Path) -> tuple[dict[str, Any] | None, bytes | None]:
    """Parse a config file; ``(None, None)`` when it does not exist.

    The bytes are returned as read, so the trust hash is of exactly what was parsed.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", source=str(path)) from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte {exc.start})",
            hint="save it as UTF-8",
            source=str(path),
        ) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            problems=[f"line {exc.lineno}, column {exc.colno}: {exc.msg}"],
            hint="fix the syntax (JSON allows no comments and no trailing commas)",
            source=str(path),
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path} must hold a JSON object",
            problems=[f"(top level): must be an object ({{...}}), got {_show(data)}"],
            source=str(path),
        )
    return data, raw


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
    problems = _layer_problems(data)
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
    problems = _layer_problems(layer)
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
        problems = [f"(top level): must be an object ({{...}}), got {_show(editor)}"]
    else:
        problems = _layer_problems(editor)
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
    repo_data, repo_raw = read_config_file(repo_path)
    repo_hash = trust.file_sha256(repo_raw) if repo_raw is not None else None
    if repo_data is not None:
        layers.append(("repo", _file_layer(repo_data, repo_path, "repo", warnings)))
    layers.append(("env", _env_layer(environ)))
    if editor is not None:
        layers.append(("editor", _editor_layer(editor)))

    merged = default_config_dict(_safe_dataset_name(root))
    sources = dict.fromkeys(_leaf_keys(merged), "default")
    for name, layer in layers:
        merged = _deep_merge(merged, layer)
        sources.update(dict.fromkeys(_leaf_keys(layer), name))
    config: Config = _converter().structure(merged, Config)
    cross = _cross_problems(config)
    if cross:
        blamed = {sources.get(k) for k in ("queue.backend", "processor.kind")} - {"default"}
        raise ConfigError(
            "the merged configuration is inconsistent",
            problems=cross,
            hint="set the missing key in the same place as the key that needs it",
            source=", ".join(sorted(s for s in blamed if s)) or "config",
        )

    from_repo = any(
        sources.get(k) == "repo" and bool(_get(to_dict(config), k)) for k in _TRUST_KEYS
    )
    trusted = not from_repo or editor_trusted or trust.is_trusted(root, repo_hash, env=environ)
    return LoadedConfig(
        config=config,
        sources=sources,
        repo_file=repo_path,
        repo_file_hash=repo_hash,
        command_trusted=trusted,
        warnings=warnings,
        untrusted_reason=None if trusted else trust.untrusted_reason(root),
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

    def set_editor(self, editor: Mapping[str, Any] | None, *, editor_trusted: bool) -> None:
        """New editor settings (didChangeConfiguration); the next ``get()`` reloads."""
        with self._lock:
            self._editor, self._editor_trusted = editor, editor_trusted
            self._stamps = None

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
            except ConfigError as exc:
                self.error = exc
                if self._loaded is None:
                    self._loaded = _fallback(self.root, exc)
            self._stamps = stamps
            return self._loaded


def _fallback(root: Path, exc: ConfigError) -> LoadedConfig:
    config = Config(dataset_name=_safe_dataset_name(root))
    return LoadedConfig(
        config=config,
        sources=dict.fromkeys(_leaf_keys(to_dict(config)), "default"),
        repo_file=repo_config_path(root),
        repo_file_hash=None,
        command_trusted=True,
        warnings=[f"using the default configuration: {exc.message}"],
    )


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
    name = dataset_name if dataset_name is not None else _safe_dataset_name(root)
    problems = _layer_problems({"dataset_name": name})
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


def _get(data: Any, key: str) -> Any:
    for part in key.split("."):
        data = data[part]
    return data


def _unknown_key(key: str) -> UsageError:
    import difflib

    valid = _all_keys()
    close = difflib.get_close_matches(key, valid, n=1)
    tip = f' (did you mean "{close[0]}"?)' if close else ""
    return UsageError(f'unknown config key "{key}"{tip}', hint="valid keys: " + ", ".join(valid))


def get_key(config: Config, key: str) -> Any:
    """The JSON value of a dotted key (``processing.batch_size``) or a whole section."""
    if key not in _all_keys():
        raise _unknown_key(key)
    return _get(to_dict(config), key)


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


def _check_of(key: str) -> _Check | None:
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
    if key not in _all_keys():
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

    problems = _layer_problems(new)
    if not problems:
        # Cross-field checks see the user file too: it may hold the command or the queue URL.
        merged = default_config_dict("default")
        try:
            user, _ = read_config_file(user_config_path(env))
        except ConfigError:
            user = None
        if (
            user is not None
            and detect_version(user) == SCHEMA_VERSION
            and not _layer_problems(user)
        ):
            merged = _deep_merge(merged, user)
        problems = _cross_problems(_converter().structure(_deep_merge(merged, new), Config))
    if problems:
        raise ConfigError(
            f"not set: {key} = {value} would make {path} invalid",
            problems=problems,
            source=str(path),
        )
    write_json_atomic(path, new)
    return parsed
