"""Typed results of the shared commands: what crosses from the command table to a face.

Every action of ``commands/table.py`` returns one of these classes; the CLI prints from their
attributes, and each face turns them into JSON at its edge with ``to_json`` (the CLI's
``--json``, the language server's ``workspace/executeCommand`` answer, MCP's tool results).
Their JSON is the contract of docs/architecture.md ("JSON shapes"): a field's JSON name is in its
metadata (``uptime_s`` is ``"uptimeS"``, ``recall_at_1`` is ``"recall@1"``), and a field marked
``omit`` is left out while it is None — the contract's "when false also ``documented_sha``".

The core and the store build plain JSON objects (the status object is also a notification, a
search hit is also an evaluation's input); ``from_json`` reads one into its class strictly: a key
the class does not declare is an error, so a new field cannot reach a face without being typed
here. Every CLI command but ``search``/``symbol`` (which keep plain JSON, see cli/search.py) pays
for this module, so it stays cheap: hand-written over ``attrs.fields`` instead of a cattrs
converter (whose import costs ~20 ms), and classes that generate no ``__eq__``/``__repr__``/slots
(which doubled their ~15 ms of class creation): compare and show them through ``to_json``.

Parts that are open by design stay ``dict``: a documenter's own findings in a file record (an LLM
writes them), the evaluation's misses, and the sharing part of the
status object (built and documented by core/sharing.py).
"""

from __future__ import annotations

import types
import typing
from typing import Any, TypeVar, Union

import attrs

from cq_lsp.errors import CqLspError

T = TypeVar("T")


class ResultShapeError(CqLspError):
    """The core produced an object that does not match its declared result (a bug of ours)."""

    def __init__(self, message: str) -> None:
        super().__init__(
            message, hint="this is a bug in cq-lsp: please report it with the command you ran"
        )


def key(
    json: str | None = None, *, omit: bool = False, default: Any = None, last: bool = False
) -> Any:
    """A result field: its JSON name when it differs, whether None leaves it out, and whether
    it comes after the subclass's own fields (a base class's fields otherwise lead)."""
    return attrs.field(default=default, metadata={"json": json, "omit": omit, "last": last})


def required(json: str | None = None) -> Any:
    return attrs.field(metadata={"json": json, "omit": False})


def listing() -> Any:
    return attrs.field(factory=list, metadata={"json": None, "omit": False})


# -- the two conversions -------------------------------------------------------------------------


def to_json(value: Any) -> Any:
    """A result (or anything holding results) as the contract's JSON value."""
    if attrs.has(type(value)):
        out: dict[str, Any] = {}
        for f in _ordered(type(value)):
            v = getattr(value, f.name)
            if v is None and f.metadata.get("omit"):
                continue
            out[f.metadata.get("json") or f.name] = to_json(v)
        return out
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def from_json(cls: type[T], data: Any) -> T:
    """``data`` (a JSON object built by the core) as ``cls``; refuses unknown or missing keys."""
    if not isinstance(data, dict):
        raise ResultShapeError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    fields = _fields(cls)
    extra = set(data) - set(fields)
    if extra:
        raise ResultShapeError(f"{cls.__name__}: undeclared key(s) {sorted(extra)}")
    kwargs: dict[str, Any] = {}
    for name, (attr, hint) in fields.items():
        if name in data:
            kwargs[attr.name] = _convert(hint, data[name])
        elif attr.default is attrs.NOTHING:
            raise ResultShapeError(f"{cls.__name__}: missing key {name!r}")
    return cls(**kwargs)


_ORDER: dict[type, list[attrs.Attribute[Any]]] = {}
_FIELDS: dict[type, dict[str, tuple[attrs.Attribute[Any], Any]]] = {}


def _ordered(cls: type) -> list[attrs.Attribute[Any]]:
    if cls not in _ORDER:
        fields = attrs.fields(cls)
        _ORDER[cls] = [f for f in fields if not f.metadata.get("last")] + [
            f for f in fields if f.metadata.get("last")
        ]
    return _ORDER[cls]


def _fields(cls: type) -> dict[str, tuple[attrs.Attribute[Any], Any]]:
    """JSON name → (field, resolved type), computed once per class."""
    if cls not in _FIELDS:
        hints = typing.get_type_hints(cls)
        _FIELDS[cls] = {
            (f.metadata.get("json") or f.name): (f, hints[f.name]) for f in attrs.fields(cls)
        }
    return _FIELDS[cls]


def _convert(hint: Any, value: Any) -> Any:
    """Nested results become their classes; everything else is taken as the core made it."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        classes = [arg for arg in typing.get_args(hint) if attrs.has(arg)]
        if not isinstance(value, dict) or not classes:
            return value
        for cls in classes[:-1]:  # the first class the object fits (Waited | Followed)
            try:
                return from_json(cls, value)
            except ResultShapeError:
                continue
        return from_json(classes[-1], value)
    if origin is list and isinstance(value, list):
        (item,) = typing.get_args(hint)
        return [_convert(item, v) for v in value]
    if origin is dict and isinstance(value, dict):
        _, item = typing.get_args(hint)
        return {k: _convert(item, v) for k, v in value.items()}
    if attrs.has(hint):
        return from_json(hint, value)
    return value


# -- search and symbol ---------------------------------------------------------------------------


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class Freshness:
    """Whether an answer describes the file as it is now (None: not checked)."""

    fresh: bool | None = key(omit=True, last=True)
    documented_sha: str | None = key(omit=True, last=True)
    current_sha: str | None = key(omit=True, last=True)

    @property
    def stale(self) -> bool:
        return self.fresh is False


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class SearchHit(Freshness):
    path: str = required()
    score: float = required()
    snippet: str = required()
    overview: str | None = required()
    line: int | None = required()
    kind: str = required()  # definition | symbol | path | text
    symbol: str | None = required()
    why: list[str] = listing()
    language: str | None = key()
    match: str | None = key()

    @property
    def where(self) -> str:
        """``path:line``, which terminals and editors open at the line."""
        return f"{self.path}:{self.line}" if self.line else self.path


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class SearchResult:
    query: str = required()
    syntax: str = required()  # "fts" or "plain"
    mode: str = required()
    terms: list[str] | None = key(omit=True)
    results: list[SearchHit] = listing()


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class SymbolHit(Freshness):
    name: str = required()
    kind: str = required()
    path: str = required()
    line: int = required()
    container: str | None = required()
    signature: str = required()
    doc: str = required()

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    @property
    def qualified(self) -> str:
        return f"{self.container}.{self.name}" if self.container else self.name


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class SymbolResult:
    query: str = required()
    symbols: list[SymbolHit] = listing()


# -- eval -----------------------------------------------------------------------------------------


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class Recall:
    n: int = required()
    recall_at_1: float | None = required("recall@1")
    recall_at_5: float | None = required("recall@5")
    mrr: float | None = required()


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class Baseline:
    definition: Recall = required()
    history: Recall = required()


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class EvalResult:
    definition: Recall = required()
    history: Recall = required()
    baselines: dict[str, Baseline] = required()  # "bm25", "grep"
    misses: list[dict[str, Any]] = listing()  # {task, query, expected, rank, got}
    definitions_from: str = required()


# -- show -----------------------------------------------------------------------------------------


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class FileRecord(Freshness):
    """One file's documentation (code-query's record, plus the ledger's state)."""

    path: str = required()
    filename: str | None = required()
    language: str | None = required()
    overview: str | None = required()
    # What the documenter found, as it wrote it (an LLM may add keys of its own).
    functions: Any = key()
    exports: Any = key()
    imports: Any = key()
    types_interfaces_classes: Any = key()
    constants: Any = key()
    dependencies: Any = key()
    other_notes: Any = key()
    ddd_context: Any = key()
    content_sha: str | None = key()
    documented_at_commit: str | None = key()
    documented_at: str | None = key()
    processor: str | None = key()
    dataset_id: str | None = key()
    symbols: list[dict[str, Any]] = listing()
    state: str = required()


# -- index, queue ---------------------------------------------------------------------------------


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class Refused:
    path: str = required()
    reason: str = required()  # "missing", or why the path guard skipped it
    message: str = required()
    hint: str | None = key()


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class Waited:
    """``index --wait`` in a terminal: how the queue drained."""

    documented: int = required()
    failed: int = required()
    newly_failed: int = required("newlyFailed")
    elapsed_s: float = required("elapsedS")
    files_per_s: float | None = required("filesPerS")
    restarts: int = required()
    left: int | None = key(omit=True)  # documenting in the foreground: jobs not reached


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class Followed:
    """``cq.index`` with ``wait`` in the editor: the followed jobs' states at the end."""

    queued: int = required()
    delayed: int = required()
    running: int = required()
    done: int = required()
    failed: int = required()
    skipped: int = required()
    cancelled: int | None = key(omit=True)
    total: int = required()
    elapsed_s: float = required("elapsedS")
    cancelled_by_user: bool = required("cancelledByUser")


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class IndexResult:
    queued: int = required()
    unchanged: int = required()
    removed: int = required()
    skipped: int = required()
    refused: list[Refused] = listing()
    note: str | None = key(omit=True)  # what the face did about a worker ("worker started")
    wait: Waited | Followed | None = key(omit=True)

    @property
    def missing(self) -> list[Refused]:
        return [r for r in self.refused if r.reason == "missing"]


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class Job:
    path: str = required()
    state: str = required()
    sha: str | None = required()
    attempts: int = required()
    error: str | None = required()
    queued_at: str | None = required()
    reason: str | None = key()
    source: str | None = key()
    started_at: str | None = key()
    finished_at: str | None = key()
    age_s: float | None = key("ageS")
    due_at: str | None = key(omit=True)  # a delayed job: when it becomes due


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class JobsResult:
    jobs: list[Job] = listing()


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class HistoryEntry:
    at: str = required()
    op: str = required()
    count: int = required()
    detail: str | None = required()
    source: str | None = required()


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class HistoryResult:
    history: list[HistoryEntry] = listing()


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class Removed:
    removed: int = required()


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class Cleared:
    cleared: int = required()


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class Retried:
    queued: int = required()
    note: str | None = key(omit=True)


# -- worker ---------------------------------------------------------------------------------------


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class WorkerPart:
    """The ``worker`` part of the status object."""

    state: str = required()  # stopped | starting | running | stopping | unresponsive | crashed
    pid: int | None = required()
    uptime_s: float | None = required("uptimeS")
    restarts: int = required()
    rss_bytes: int | None = required("rssBytes")
    # A live process only (the heartbeat's age is null until its first beat).
    cpu_s: float | None = key("cpuS")
    heartbeat_age_s: float | None = key("heartbeatAgeS")
    last_pid: int | None = key("lastPid", omit=True)  # crashed: the pid it had


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class Stopped:
    stopped: bool = required()
    pid: int | None = key(omit=True)
    graceful: bool | None = key(omit=True)
    message: str | None = key(omit=True)


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class WorkerResult:
    """What ``worker start|stop|restart`` did, and the worker afterwards."""

    started: bool | None = key(omit=True)
    stopped: bool | Stopped | None = key(omit=True)  # restart: the stop's own result
    pid: int | None = key(omit=True)
    graceful: bool | None = key(omit=True)
    message: str | None = key(omit=True)
    worker: WorkerPart = required()


# -- status ---------------------------------------------------------------------------------------


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class QueuePart:
    queued: int = required()
    running: int = required()
    failed: int = required()
    done: int = required()
    skipped: int = required()
    oldest_queued_s: float | None = required("oldestQueuedS")
    delayed: int = required()
    next_due_s: float | None = required("nextDueS")


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class Staleness:
    stale: int = required()
    changed: int = required()
    missing: int = required()
    examples: list[str] = listing()
    check_ms: float | None = required("checkMs")


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class IndexPart:
    files: int = required()
    stale: int = required()
    staleness: Staleness | None = key(omit=True)  # absent: no index to compare
    path: str | None = key(omit=True)


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class DocumenterPart:
    kind: str = required()
    calls: int = required()
    failures: int = required()
    llm_calls: int = required("llmCalls")
    llm_failures: int = required("llmFailures")
    llm_fallbacks: int = required("llmFallbacks")


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class Status:
    """The status object (``status --json``, ``cq/status``, MCP ``get_status``). A work tree
    without an index (not initialized, not a git work tree) has only the first six parts."""

    root: str = required()
    health: str = required()  # ok | warning | error
    message: str = required()
    worker: WorkerPart = required()
    queue: QueuePart = required()
    index: IndexPart = required()
    documenter: DocumenterPart | None = key(omit=True)
    sharing: dict[str, Any] | None = key(omit=True)  # core/sharing.py's part
    mode: str | None = key(omit=True)
    at: float | None = key(omit=True)
    # The language server's own findings about the folder.
    initialized: bool | None = key(omit=True)
    config_error: str | None = key("configError", omit=True)
    worker_error: str | None = key("workerError", omit=True)
    worker_start_error: str | None = key("workerStartError", omit=True)
    user_stopped: bool | None = key("userStopped", omit=True)
    settings_error: str | None = key("settingsError", omit=True)  # the editor's settings


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class Statuses:
    """``status --all``: every folder the face serves."""

    folders: list[Status] = listing()


# -- init and hooks -------------------------------------------------------------------------------


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class HookChange:
    """What ``hooks install``/``uninstall`` did to one hook."""

    name: str = required()
    path: str = required()
    action: str = required()  # installed, upgraded, chained, conflict, removed, restored…
    chained: str | None = key()  # the user's own hook, now run after ours
    via: str | None = key(omit=True)  # a hook manager: husky, lefthook, pre-commit
    message: str | None = key(omit=True)  # a conflict: what to do
    restored: str | None = key(omit=True)  # uninstall: the user's hook, back in its place


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class HookState:
    """One hook in ``hooks status``."""

    name: str = required()
    path: str = required()
    kind: str = required()  # ours, foreign, absent, pre-commit…
    chained: str | None = required()
    via: str = required()
    state: str = required()  # installed, outdated, missing, python-gone, pre-commit
    version: int | None = key(omit=True)
    python: str | None = key(omit=True)
    python_exists: bool | None = key("pythonExists", omit=True)
    other_python: bool | None = key("otherPython", omit=True)  # a shim of another install


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class HooksChanged:
    """``hooks install`` and ``hooks uninstall`` (whose answer has nulls for what it does not
    look at)."""

    root: str = required()
    hooks_dir: str = required("hooksDir")
    hooks_path: str | None = key("hooksPath")
    manager: str | None = key()
    python: str | None = key()
    instructions: str | None = key()  # a hook manager's snippet to add by hand
    notes: list[str] = listing()
    hooks: list[HookChange] = listing()

    @property
    def conflicts(self) -> list[HookChange]:
        return [h for h in self.hooks if h.action == "conflict"]


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class HooksStatus:
    root: str = required()
    hooks_dir: str = required("hooksDir")
    hooks_path: str | None = required("hooksPath")
    manager: str | None = required()
    python: str = required()
    installed: bool = required()
    hooks: list[HookState] = listing()
    skipped: bool = required()
    initialized: bool = required()
    log: str = required()
    last_log: str | None = required("lastLog")
    not_initialized_note: str | None = required("notInitializedNote")


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class InitResult:
    root: str = required()
    config: str = required()
    created: bool = required()
    hooks: HooksChanged | None = key(omit=True)
