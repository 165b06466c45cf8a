"""The editor's settings for the language server: initializationOptions and the ``cq`` section.

Nested attrs classes with defaults and one private cattrs converter (camelCase keys, unknown keys
rejected). Invalid settings never stop the server: ``parse_settings`` returns the defaults and a
message built from cattrs' ``transform_error`` for the server to show.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Literal

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

NotificationLevel = Literal["off", "onError", "onWarning", "always"]
LogLevel = Literal["error", "warning", "info", "debug"]


@attrs.frozen(kw_only=True)
class ProcessingSettings:
    #: None: whatever the configuration files say.
    mode: Literal["auto", "manual"] | None = None


@attrs.frozen(kw_only=True)
class WorkerSettings:
    #: False: the server never starts a worker by itself (the CLI, hooks and commands still can).
    auto_start: bool = True


@attrs.frozen(kw_only=True)
class EditorSettings:
    #: The editor's workspace trust (VS Code's Restricted Mode sends False).
    trusted: bool = False
    show_notifications: NotificationLevel = "onError"
    #: None: the server's --log-level stands.
    log_level: LogLevel | None = None
    processing: ProcessingSettings = attrs.field(factory=ProcessingSettings)
    worker: WorkerSettings = attrs.field(factory=WorkerSettings)
    #: A partial cq-lsp configuration object : the editor layer.
    config: dict[str, Any] | None = None
    #: Keys the VS Code extension sends for itself; accepted so they are not reported as unknown.
    interpreter: list[str] | None = None
    trace: dict[str, Any] | None = None

    def editor_layer(self) -> dict[str, Any] | None:
        """The configuration layer these settings contribute (validated by cq_lsp.config.schema)."""
        layer: dict[str, Any] = dict(self.config or {})
        if self.processing.mode is not None:
            processing = dict(layer.get("processing") or {})
            processing["mode"] = self.processing.mode
            layer["processing"] = processing
        return layer or None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@cache
def _converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)

    # Strict scalars: "yes" is not a boolean and 5 is not an object.
    def _bool(value: Any, _: Any) -> bool:
        if not isinstance(value, bool):
            raise TypeError(f"must be true or false, got {value!r}")
        return value

    def _object(value: Any, _: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise TypeError(f"must be an object, got {value!r}")
        return dict(value)

    conv.register_structure_hook(bool, _bool)
    conv.register_structure_hook_func(lambda t: t == dict[str, Any], _object)
    for cls in (ProcessingSettings, WorkerSettings, EditorSettings):
        renames: dict[str, Any] = {
            a.name: override(rename=_camel(a.name)) for a in attrs.fields(cls)
        }
        conv.register_structure_hook(
            cls, make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True, **renames)
        )
    return conv


def _literal_choices(type_: Any) -> list[str]:
    out: list[str] = []
    for arg in getattr(type_, "__args__", None) or ():
        if isinstance(arg, str):
            out.append(repr(arg))
        elif arg is not type(None):
            out.extend(_literal_choices(arg))
    return out


def _format(exc: BaseException, type_: Any) -> str:
    choices = _literal_choices(type_)
    if choices:
        return "must be one of " + ", ".join(choices)
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return "unknown key(s) " + ", ".join(sorted(exc.extra_fields))
    if isinstance(exc, KeyError):
        return "required"
    if isinstance(exc, TypeError) and str(exc).startswith("must be"):
        return str(exc)
    if isinstance(exc, (TypeError, ValueError)) and type_ is not None:
        name = getattr(type_, "__name__", None) or str(type_)
        return f"must be {name}"
    return str(exc)


def _describe(exc: Exception) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        lines = cattrs.transform_error(exc, path="cq", format_exception=_format)
        # transform_error names attributes; the user wrote camelCase keys.
        return "; ".join(
            ".".join(_camel(part) for part in line.split(" @ ")[-1].split("."))
            + ": "
            + line.split(" @ ")[0]
            for line in lines
        )
    return str(exc)


def parse_settings(raw: Any) -> tuple[EditorSettings, str | None]:
    """Structure the editor's settings; on error, a one-line message and every valid key kept.

    Each top-level key that is valid on its own survives an error elsewhere: a typo in one
    setting must not switch trust off or turn notifications back on.
    """
    if raw is None:
        return EditorSettings(), None
    if not isinstance(raw, Mapping):
        return EditorSettings(), f"settings: must be an object, got {type(raw).__name__}"
    conv = _converter()
    try:
        return conv.structure(dict(raw), EditorSettings), None
    except Exception as exc:
        message = f"invalid cq settings ({_describe(exc)}); using the defaults for those"
    kept: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            conv.structure({key: value}, EditorSettings)
        except Exception:
            continue
        kept[key] = value
    return conv.structure(kept, EditorSettings), message


def merge_section(base: Mapping[str, Any] | None, section: Any) -> Any:
    """didChangeConfiguration: the ``cq`` section replaces the settings, but trust (which the
    editor sends only at startup) is kept."""
    if not isinstance(section, Mapping):
        return section
    merged = dict(section)
    if base is not None and "trusted" not in merged and "trusted" in base:
        merged["trusted"] = base["trusted"]
    return merged
