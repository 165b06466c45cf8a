"""Checking tool arguments against the tool's JSON schema, with messages an agent can act on.

The schemas use a small subset of JSON Schema (object of typed properties, required, enum,
minimum/maximum, minLength, arrays of strings), so the check is written out here: each problem
names the argument, what was expected and what arrived, and the hint lists what is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cq_lsp.errors import UsageError
from cq_lsp.humanize import show_value

_TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _type_ok(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[kind])


def _usage(tool: str, schema: Mapping[str, Any]) -> str:
    props = schema.get("properties", {})
    required = set(schema.get("required", ()))
    parts = [f"{name}{'' if name in required else '?'}: {spec.get('type', 'any')}"
             for name, spec in props.items()]  # fmt: skip
    return f"{tool} takes {{{', '.join(parts)}}}"


def _check_value(tool: str, name: str, spec: Mapping[str, Any], value: Any, usage: str) -> None:
    kind = spec.get("type")
    if kind is not None and not _type_ok(value, kind):
        raise UsageError(
            f"{tool}: {name} must be {_article(kind)}, got {show_value(value)}", hint=usage
        )
    if "enum" in spec and value not in spec["enum"]:
        allowed = ", ".join(map(show_value, spec["enum"]))
        raise UsageError(
            f"{tool}: {name} must be one of {allowed}, got {show_value(value)}", hint=usage
        )
    if kind == "string" and len(value.strip()) < spec.get("minLength", 0):
        raise UsageError(f"{tool}: {name} must not be empty", hint=spec.get("description", usage))
    if kind in ("integer", "number"):
        low, high = spec.get("minimum"), spec.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            raise UsageError(
                f"{tool}: {name} must be from {low} to {high}, got {show_value(value)}", hint=usage
            )
    if kind == "array":
        items = spec.get("items", {})
        item_kind = items.get("type")
        for i, item in enumerate(value):
            if item_kind is not None and not _type_ok(item, item_kind):
                raise UsageError(
                    f"{tool}: {name}[{i}] must be {_article(item_kind)}, got {show_value(item)}",
                    hint=usage,
                )
        if len(value) > spec.get("maxItems", len(value)):
            raise UsageError(
                f"{tool}: {name} has {len(value)} items, at most {spec['maxItems']} are accepted",
                hint="split the call into several",
            )


def _article(kind: str) -> str:
    return {"integer": "an integer", "object": "an object ({...})", "array": "a list"}.get(
        kind, f"a {kind}"
    )


def check_arguments(tool: str, schema: Mapping[str, Any], args: Any) -> dict[str, Any]:
    """The arguments with defaults filled in, or a ``UsageError`` naming the first problem."""
    usage = _usage(tool, schema)
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise UsageError(f"{tool}: arguments must be an object, got {show_value(args)}", hint=usage)
    props: Mapping[str, Any] = schema.get("properties", {})
    unknown = [k for k in args if k not in props]
    if unknown:
        raise UsageError(f"{tool}: unknown argument {unknown[0]!r}", hint=usage)
    for name in schema.get("required", ()):
        if args.get(name) is None:
            what = props[name].get("description", "")
            raise UsageError(
                f"{tool}: missing required argument {name!r}" + (f" ({what})" if what else ""),
                hint=usage,
            )
    out: dict[str, Any] = {}
    for name, spec in props.items():
        if args.get(name) is None:
            if "default" in spec:
                out[name] = spec["default"]
            continue
        _check_value(tool, name, spec, args[name], usage)
        out[name] = args[name]
    return out
