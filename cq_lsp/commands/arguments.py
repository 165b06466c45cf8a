"""Typed arguments of the shared commands, checked by one private cattrs converter.

Every face hands its input here as plain data (the CLI from argparse, the language server from
``workspace/executeCommand``, MCP from a tool call); a wrong argument becomes a ``UsageError``
naming the key and what was expected, never a crash deep inside an action. Strings may not hold
NUL bytes (they reach the file system) and sizes are capped, so no argument can make an action
overflow or run for seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

import attrs

from cq_lsp.errors import UsageError

T = TypeVar("T")

# Bounds: generous for people, small enough that no request can stall a face.
MAX_LIMIT = 1000
MAX_HISTORY = 10_000
MAX_TEXT_CHARS = 4096  # one path or one query
MAX_PATHS = 10_000


class _Invalid(ValueError):
    """One argument's problem, phrased for the user ("must be a positive integer, got 'x'")."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _Invalid(f"must be a non-empty string, got {_show(value)}")
    if "\0" in value:
        raise _Invalid("must not contain a NUL character")
    if len(value) > MAX_TEXT_CHARS:
        raise _Invalid(f"must be at most {MAX_TEXT_CHARS} characters, got {len(value)}")
    return value


def _count(value: Any, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise _Invalid(f"must be an integer from 1 to {most}, got {_show(value)}")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"must be true or false, got {_show(value)}")
    return value


def _texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _Invalid(f"must be a list of strings, got {_show(value)}")
    if len(value) > MAX_PATHS:
        raise _Invalid(f"must hold at most {MAX_PATHS} entries, got {len(value)}")
    out = []
    for i, item in enumerate(value):
        try:
            out.append(_text(item))
        except _Invalid as exc:
            raise _Invalid(f"[{i}] {exc}") from None
    return tuple(out)


# Field types, by the metadata each attrs field carries: one checker per kind of value.
_CHECKS = {
    "text": _text,
    "limit": lambda v: _count(v, MAX_LIMIT),
    "history": lambda v: _count(v, MAX_HISTORY),
    "flag": _flag,
    "texts": _texts,
}


def _arg(kind: str, default: Any = attrs.NOTHING, *, main: bool = False) -> Any:
    return attrs.field(default=default, metadata={"check": kind, "main": main})


@attrs.frozen(kw_only=True)
class NoArgs:
    root: str | None = _arg("text", None)


@attrs.frozen(kw_only=True)
class StatusArgs:
    root: str | None = _arg("text", None)
    all: bool = _arg("flag", False)


@attrs.frozen(kw_only=True)
class SearchArgs:
    query: str = _arg("text", main=True)
    limit: int = _arg("limit", 10)
    root: str | None = _arg("text", None)


@attrs.frozen(kw_only=True)
class SymbolArgs:
    name: str = _arg("text", main=True)
    kind: str | None = _arg("text", None)
    limit: int = _arg("limit", 20)
    root: str | None = _arg("text", None)


@attrs.frozen(kw_only=True)
class EvalArgs:
    limit: int = _arg("limit", 200)
    root: str | None = _arg("text", None)


@attrs.frozen(kw_only=True)
class ShowArgs:
    path: str = _arg("text", main=True)
    root: str | None = _arg("text", None)


@attrs.frozen(kw_only=True)
class IndexArgs:
    paths: tuple[str, ...] = _arg("texts", (), main=True)
    wait: bool = _arg("flag", False)
    root: str | None = _arg("text", None)


@attrs.frozen(kw_only=True)
class PathsArgs:
    paths: tuple[str, ...] = _arg("texts", main=True)
    root: str | None = _arg("text", None)


@attrs.frozen(kw_only=True)
class InitArgs:
    dataset: str | None = _arg("text", None)
    hooks: bool = _arg("flag", False)
    root: str | None = _arg("text", None)


@attrs.frozen(kw_only=True)
class QueueListArgs:
    state: tuple[str, ...] | None = _arg("texts", None, main=True)
    limit: int | None = _arg("limit", None)
    root: str | None = _arg("text", None)


@attrs.frozen(kw_only=True)
class HistoryArgs:
    n: int = _arg("history", 20)
    root: str | None = _arg("text", None)


def main_field(cls: type) -> attrs.Attribute[Any] | None:
    """The argument a bare string stands for (the query of search, the path of show)."""
    return next((a for a in attrs.fields(cls) if a.metadata.get("main")), None)


def describe(cls: type) -> str:
    """What the command takes, for the hint of a usage error."""
    fields = [
        f'"{a.name}"' + ("" if a.default is attrs.NOTHING else "?")
        for a in attrs.fields(cls)
        if a.name != "root"
    ]
    main = main_field(cls)
    alt = f", or a string ({main.name})" if main is not None else ""
    return "one object {" + ", ".join([*fields, '"root"?']) + "}" + alt


@cache
def _converter() -> Any:
    # cattrs costs ~20 ms to import: only faces that parse arguments pay for it.
    import cattrs
    from cattrs.gen import make_dict_structure_fn

    conv = cattrs.Converter(forbid_extra_keys=True)

    def checked(kind: str) -> Any:
        def hook(value: Any, _type: Any) -> Any:
            if value is None:
                return None
            return _CHECKS[kind](value)

        return hook

    for cls in (
        NoArgs,
        StatusArgs,
        SearchArgs,
        SymbolArgs,
        EvalArgs,
        ShowArgs,
        IndexArgs,
        PathsArgs,
        InitArgs,
        QueueListArgs,
        HistoryArgs,
    ):
        overrides: dict[str, Any] = {
            a.name: cattrs.gen.override(struct_hook=checked(a.metadata["check"]))
            for a in attrs.fields(cls)
        }
        conv.register_structure_hook(
            cls, make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True, **overrides)
        )
    return conv


def _messages(exc: BaseException) -> list[str]:
    import cattrs

    def fmt(err: BaseException, _type: Any) -> str:
        if isinstance(err, cattrs.ForbiddenExtraKeysError):
            return "unknown argument(s) " + ", ".join(sorted(err.extra_fields))
        if isinstance(err, KeyError):
            return "is required"
        return str(err)

    if isinstance(exc, cattrs.BaseValidationError):
        out = []
        for line in cattrs.transform_error(exc, path="", format_exception=fmt):
            message, _, where = line.partition(" @ ")
            key = where.lstrip("$.").strip()
            out.append(f"{key} {message}" if key else message)
        return out
    return [str(exc)]


def parse(name: str, cls: type[T], raw: Any) -> T:
    """Structure one command's argument (an object, a bare string for its main argument, or
    nothing) into ``cls``; a ``UsageError`` names every bad key."""
    if raw is None:
        raw = {}
    if isinstance(raw, str):
        main = main_field(cls)
        if main is None:
            raise UsageError(f"{name}: unexpected argument {_show(raw)}", hint=describe(cls))
        raw = {main.name: [raw] if main.metadata["check"] == "texts" else raw}
    if not isinstance(raw, Mapping):
        raise UsageError(
            f"{name}: the argument must be an object, got {type(raw).__name__}",
            hint=describe(cls),
        )
    try:
        return _converter().structure(dict(raw), cls)
    except Exception as exc:
        raise UsageError(f"{name}: " + "; ".join(_messages(exc)), hint=describe(cls)) from None
