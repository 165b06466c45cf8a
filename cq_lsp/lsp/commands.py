"""Arguments of the ``cq.*`` commands: validated here, so a wrong argument is a JSON-RPC
InvalidParams error that says what was expected, never a crash.

Every command takes zero or one argument: an object (its keys below), or a bare string that is
the command's main argument. Any object may carry ``root`` to pick the workspace folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cq_lsp.errors import UsageError

COMMANDS = (
    "cq.status",
    "cq.search",
    "cq.show",
    "cq.index",
    "cq.init",
    "cq.worker.start",
    "cq.worker.stop",
    "cq.worker.restart",
    "cq.queue.list",
    "cq.queue.add",
    "cq.queue.remove",
    "cq.queue.clear",
    "cq.queue.retry",
    "cq.queue.cleanup",
    "cq.queue.history",
    "cq.hooks.install",
    "cq.hooks.uninstall",
    "cq.hooks.status",
)

# key -> (expected type description, checker)
_STR = ("a string", lambda v: isinstance(v, str) and bool(v))
_INT = ("a positive integer", lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0)
_BOOL = ("true or false", lambda v: isinstance(v, bool))
_STRS = (
    "a list of strings",
    lambda v: isinstance(v, list) and all(isinstance(x, str) and x for x in v),
)

_KEYS: dict[str, dict[str, tuple[str, Any]]] = {
    "cq.status": {"all": _BOOL},
    "cq.search": {"query": _STR, "limit": _INT},
    "cq.show": {"path": _STR},
    "cq.index": {"paths": _STRS, "wait": _BOOL},
    "cq.init": {"dataset": _STR, "hooks": _BOOL},
    "cq.queue.list": {"state": _STRS, "limit": _INT},
    "cq.queue.add": {"paths": _STRS},
    "cq.queue.remove": {"paths": _STRS},
    "cq.queue.history": {"n": _INT},
}
_REQUIRED = {
    "cq.search": "query",
    "cq.show": "path",
    "cq.queue.add": "paths",
    "cq.queue.remove": "paths",
}
#: what a bare string argument stands for.
_MAIN = {
    "cq.search": ("query", False),
    "cq.show": ("path", False),
    "cq.index": ("paths", True),
    "cq.queue.add": ("paths", True),
    "cq.queue.remove": ("paths", True),
    "cq.queue.list": ("state", True),
}


def _usage(command: str) -> str:
    keys = _KEYS.get(command, {})
    fields = ", ".join(f'"{k}": {desc}' for k, (desc, _) in keys.items())
    shape = "{" + ", ".join(filter(None, [fields, '"root": a workspace folder path'])) + "}"
    main = _MAIN.get(command)
    alt = f" or a string ({main[0]})" if main else ""
    return f"{command} takes one argument: {shape}{alt}"


def parse_arguments(command: str, arguments: list[Any] | tuple[Any, ...] | None) -> dict[str, Any]:
    """The command's arguments as one checked dict (with ``root`` when given)."""
    args = list(arguments or [])
    paths_command = command in ("cq.queue.add", "cq.queue.remove", "cq.index")
    if len(args) > 1 and paths_command and all(isinstance(a, str) for a in args):
        args = [{"paths": args}]
    if len(args) > 1:
        raise UsageError(f"{command}: too many arguments ({len(args)})", hint=_usage(command))
    raw: Any = args[0] if args else {}
    if raw is None:
        raw = {}
    if isinstance(raw, str):
        main = _MAIN.get(command)
        if main is None:
            raise UsageError(f"{command}: unexpected argument {raw!r}", hint=_usage(command))
        raw = {main[0]: [raw] if main[1] else raw}
    if not isinstance(raw, Mapping):
        raise UsageError(
            f"{command}: the argument must be an object, got {type(raw).__name__}",
            hint=_usage(command),
        )
    keys = _KEYS.get(command, {})
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "root":
            if not isinstance(value, str) or not value:
                raise UsageError(f"{command}: root must be a folder path", hint=_usage(command))
            out["root"] = value
            continue
        if key not in keys:
            raise UsageError(f"{command}: unknown argument {key!r}", hint=_usage(command))
        desc, ok = keys[key]
        if not ok(value):
            raise UsageError(
                f"{command}: {key} must be {desc}, got {value!r}", hint=_usage(command)
            )
        out[key] = value
    required = _REQUIRED.get(command)
    if required and required not in out:
        raise UsageError(f"{command}: {required} is required", hint=_usage(command))
    return out
