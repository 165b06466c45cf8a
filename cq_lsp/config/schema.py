"""The configuration schema: attrs classes, strict cattrs validation naming the key path, defaults.

Every layer is partial and is validated on its own (so an error names the layer it came from),
then the layers are deep-merged per section (``cq_lsp.config.load``) and the cross-field checks
run on the result. cattrs is imported lazily: it costs ~20 ms, and git hooks import this module.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, NoReturn

import attrs

from cq_lsp.config.migrate import detect_version, migrate_dict
from cq_lsp.errors import ConfigError
from cq_lsp.humanize import show_value

SCHEMA_VERSION = 2
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


class Check:
    expect = "a valid value"
    wants_string = False

    def __call__(self, value: Any) -> Any:
        raise NotImplementedError

    def fail(self, value: Any) -> NoReturn:
        raise _Invalid(f"must be {self.expect}, got {show_value(value)}")


class _Int(Check):
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


class _Float(Check):
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


class _Bool(Check):
    expect = "true or false"

    def __call__(self, value: Any) -> bool:
        if not isinstance(value, bool):
            self.fail(value)
        return value


class _Choice(Check):
    wants_string = True

    def __init__(self, *values: str) -> None:
        self.values = values
        self.expect = "one of " + ", ".join(f'"{v}"' for v in values)

    def __call__(self, value: Any) -> str:
        if value not in self.values or not isinstance(value, str):
            self.fail(value)
        return value


class _Text(Check):
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


class _StrList(Check):
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
                raise _Invalid(f"[{i}] must be {self.item_expect}, got {show_value(item)}")
        return tuple(value)


class _Const(Check):
    def __init__(self, value: int, expect: str) -> None:
        self.value, self.expect = value, expect

    def __call__(self, value: Any) -> int:
        if value != self.value or isinstance(value, bool):
            self.fail(value)
        return self.value


def _validator(check: Check) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def run(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        try:
            check(value)
        except _Invalid as exc:
            raise ValueError(f"{attribute.name}: {exc}") from None

    return run


def _field(check: Check, default: Any) -> Any:
    return attrs.field(default=default, validator=_validator(check), metadata={"check": check})


# ---------------------------------------------------------------------------------------------
# The schema (mirrors the JSON in docs/architecture.md "Configuration").


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
    #: delay for work queued by git hooks when processor.kind is "command" (an LLM): coalesces
    #: rebases and bursts of commits to save calls. The static documenter never waits.
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
class CacheConfig:
    """Documentation shared by content: the user's local store and a team store on Redis.

    Honoured from the user file, the environment and the editor only (never a repository's
    config.json): sending content or records off the machine is the user's choice.
    """

    #: look records up in (and add them to) the user's local content-addressed store.
    local: bool = _field(_Bool(), True)
    #: the local store's size bound; the least recently used records go first.
    max_bytes: int = _field(_Int(1 << 20, 1 << 40), 1 << 30)
    #: a team store, e.g. "redis://cache.example:6379/2"; None: this machine only.
    url: str | None = _field(_Text(r"\S+", "a URL string", optional=True), None)
    #: False for read-only members: look records up in the team store, never write them.
    write: bool = _field(_Bool(), True)


@attrs.frozen(kw_only=True)
class PoolConfig:
    """Workers on other machines that document this user's cache misses (``cq-lsp pool run``)."""

    #: the pool's Redis, e.g. "redis://pool.example:6379/3"; None: document locally.
    url: str | None = _field(_Text(r"\S+", "a URL string", optional=True), None)
    #: how long a request may wait for the pool before the file is documented locally.
    timeout_s: float = _field(_Float(0, 86400, lo_open=True), 600)


# Keys that say where content and records go: the user's choice, never a repository's.
USER_ONLY_SECTIONS = ("cache", "pool")


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
    cache: CacheConfig = attrs.field(factory=CacheConfig)
    pool: PoolConfig = attrs.field(factory=PoolConfig)
    exclude_patterns: tuple[str, ...] = _field(
        _StrList(r"(?s).+", "a list of gitignore-style patterns"), DEFAULT_EXCLUDE_PATTERNS
    )


# ---------------------------------------------------------------------------------------------
# The private converter and its error messages.

_converter_cache: list[Any] = []


def _hook(check: Check) -> Callable[[Any, Any], Any]:
    return lambda value, _type: check(value)


def converter() -> Any:
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
                raise _Invalid(f"must be an object ({{...}}), got {show_value(value)}")
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


def layer_problems(data: Mapping[str, Any]) -> list[str]:
    """Type, range and unknown-key problems of one partial v2 layer."""
    try:
        converter().structure(data, Config)
    except Exception as exc:
        problems = _flatten(exc, "")
        if problems:
            return problems
        raise
    return []


def cross_problems(config: Config) -> list[str]:
    problems = []
    url = config.queue.url
    if config.queue.backend == "redis":
        if url is None:
            problems.append(
                'queue.url: required when queue.backend is "redis", e.g. "redis://localhost:6379/0"'
            )
        elif not url.startswith(REDIS_SCHEMES):
            problems.append(
                f"queue.url: must start with redis://, rediss:// or unix://, got {show_value(url)}"
            )
    for key, value in (("cache.url", config.cache.url), ("pool.url", config.pool.url)):
        if value is not None and not value.startswith(REDIS_SCHEMES):
            problems.append(
                f"{key}: must start with redis://, rediss:// or unix://, got {show_value(value)}"
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
        return [f"(top level): must be an object ({{...}}), got {show_value(data)}"]
    if detect_version(data) < SCHEMA_VERSION:
        data = migrate_dict(data)
    problems = layer_problems(data)
    if problems:
        return problems
    merged = deep_merge(default_config_dict("default"), data)
    return cross_problems(converter().structure(merged, Config))


def structure_config(data: Mapping[str, Any], *, source: str = "config") -> Config:
    """A ``Config`` from a complete or partial v2 mapping; ``ConfigError`` lists every problem."""
    problems = validate(data)
    if problems:
        raise ConfigError(f"{source} is invalid", problems=problems, source=source)
    merged = deep_merge(default_config_dict("default"), migrate_dict(data))
    return converter().structure(merged, Config)


# ---------------------------------------------------------------------------------------------
# Defaults, layers and merging.


def safe_dataset_name(root: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(root).resolve().name).strip("-")
    return name if name and name not in (".", "..") else "default"


def default_config_dict(dataset_name: str) -> dict[str, Any]:
    """The full v2 defaults as JSON-ready data (lists, not tuples), in the documented key order."""
    return to_dict(Config(dataset_name=dataset_name))


def to_dict(config: Config) -> dict[str, Any]:
    """``config`` as JSON-ready data: tuples become lists, so it compares equal to parsed JSON."""
    return attrs.asdict(
        config, value_serializer=lambda _i, _a, v: list(v) if isinstance(v, tuple) else v
    )


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def leaf_keys(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            keys += leaf_keys(value, _join(prefix, key))
        else:
            keys.append(_join(prefix, key))
    return keys


def all_keys() -> list[str]:
    defaults = default_config_dict("default")
    sections = [k for k, v in defaults.items() if isinstance(v, dict)]
    return sorted([*sections, *leaf_keys(defaults)])


def get_path(data: Any, key: str) -> Any:
    for part in key.split("."):
        data = data[part]
    return data
