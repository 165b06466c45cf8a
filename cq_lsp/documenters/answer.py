"""Reading the LLM's answer: find the JSON object, unwrap a CLI envelope, validate into a record.

Accepted: a bare JSON object; one inside prose or a ```json fence; a CLI envelope such as claude's
``{"type": "result", "result": "..."}`` (or ``{"response": ...}``, OpenAI's ``choices``), whose
payload is itself any of these. The object is validated strictly with cattrs against
``FileRecord``: missing optional fields take their defaults, a wrong type makes the answer invalid,
and keys the record does not know are ignored (the identity fields — path, filename, language,
processor — always come from us, never from the model).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from cq_lsp.documenters.base import DocumenterError
from cq_lsp.documenters.records import RECORD_FIELDS, FileRecord
from cq_lsp.humanize import show_value

PREVIEW_CHARS = 80
# Keys under which CLIs wrap the model's text (claude: result; gemini: response; others).
ENVELOPE_KEYS = ("result", "response", "output", "completion", "content", "text", "message")
_MAX_DEPTH = 4
# Candidate "{" positions tried when the object hides in prose (bounds the work on garbage).
_MAX_SCAN = 400
_FENCE = re.compile(r"```[ \t]*(?:json|JSON|jsonc)?[ \t]*\r?\n(.*?)```", re.DOTALL)


class AnswerError(DocumenterError):
    """The answer could not be read as a record; worth another attempt (models vary)."""


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """The first ``limit`` characters of ``text`` on one line."""
    flat = " ".join(text.split())
    return (flat[:limit] + "…") if len(flat) > limit else (flat or "(empty output)")


def _as_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _is_record_like(obj: Mapping[str, Any]) -> bool:
    return any(k in obj for k in RECORD_FIELDS)


def _find_object(text: str) -> dict[str, Any] | None:
    """The JSON object inside prose: a fenced block first, else the first ``{`` that parses."""
    for match in _FENCE.finditer(text):
        obj = _as_object(match.group(1).strip())
        if obj is not None:
            return obj
    decoder = json.JSONDecoder()
    first: dict[str, Any] | None = None
    start = text.find("{")
    tried = 0
    while start != -1 and tried < _MAX_SCAN:
        tried += 1
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            if _is_record_like(value):
                return value
            first = first or value
        start = text.find("{", end)
    return first


def _object_in(text: str, depth: int) -> dict[str, Any]:
    stripped = text.strip()
    obj = _as_object(stripped)
    if obj is None:
        obj = _find_object(stripped)
    if obj is None:
        raise AnswerError(f"invalid JSON from LLM: {preview(stripped)}")
    return _unwrap(obj, depth)


def _unwrap(obj: dict[str, Any], depth: int) -> dict[str, Any]:
    if _is_record_like(obj) or depth >= _MAX_DEPTH:
        return obj
    if obj.get("is_error") is True or obj.get("type") == "error":
        said = obj.get("result") or obj.get("error") or obj.get("subtype") or obj
        raise AnswerError(f"the LLM command reported an error: {preview(str(said))}")
    for key in ENVELOPE_KEYS:
        inner = obj.get(key)
        if isinstance(inner, str):
            return _object_in(inner, depth + 1)
        if isinstance(inner, dict):
            return _unwrap(inner, depth + 1)
    choices = obj.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            return _object_in(message["content"], depth + 1)
    return obj


def extract_object(stdout: str) -> dict[str, Any]:
    """The answer's JSON object, unwrapped from any envelope; else ``AnswerError``."""
    return _object_in(stdout, 0)


# ---------------------------------------------------------------------------------------------
# Strict validation with cattrs.


class _Bad(ValueError):
    pass


def _show(value: Any) -> str:
    return show_value(value, limit=40)  # an LLM's answer: keep the quoted part short


def _string(value: Any, _t: Any) -> str:
    if not isinstance(value, str):
        raise _Bad(f"must be a string, got {_show(value)}")
    return value


def _object(value: Any, _t: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(f"must be an object ({{...}}), got {_show(value)}")
    return dict(value)


def _strings(value: Any, _t: Any) -> list[str]:
    # A bare string is a sequence too: "requests" must not become ["r", "e", ...].
    if not isinstance(value, list):
        raise _Bad(f"must be a list of strings, got {_show(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _Bad(f"[{i}]: must be a string, got {_show(item)}")
    return list(value)


_converter_cache: list[Any] = []


def _converter() -> Any:
    if _converter_cache:
        return _converter_cache[0]
    import typing

    import cattrs

    conv = cattrs.Converter()
    conv.register_structure_hook(str, _string)

    def origin_is(origin: type) -> Callable[[Any], bool]:
        return lambda t: t is origin or typing.get_origin(t) is origin

    conv.register_structure_hook_func(origin_is(dict), _object)
    conv.register_structure_hook_func(origin_is(list), _strings)
    _converter_cache.append(conv)
    return conv


def _problems(exc: BaseException, path: str = "") -> list[str]:
    from cattrs.errors import AttributeValidationNote, BaseValidationError

    if isinstance(exc, BaseValidationError):
        out: list[str] = []
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            name = note.name if isinstance(note, AttributeValidationNote) else path
            out += _problems(sub, name)
        for sub in without:
            out += _problems(sub, path)
        return out
    text = str(exc)
    sep = "" if text.startswith("[") else ": "
    return [f"{path}{sep}{text}" if path else text]


def to_record(
    obj: Mapping[str, Any], *, path: str, filename: str, language: str, processor: str
) -> FileRecord:
    """Validate the answer's fields into a ``FileRecord``; ``AnswerError`` names a problem."""
    if "overview" not in obj:
        keys = ", ".join(list(obj)[:6]) or "none"
        raise AnswerError(f'invalid answer from LLM: "overview" is missing (keys: {keys})')
    data: dict[str, Any] = {k: obj[k] for k in RECORD_FIELDS if k in obj}
    data.update(path=path, filename=filename, language=language, processor=processor)
    try:
        record: FileRecord = _converter().structure(data, FileRecord)
    except Exception as exc:
        problems = _problems(exc) or [str(exc)]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise AnswerError(f"invalid answer from LLM: {problems[0]}{more}") from None
    return record


def parse_answer(
    stdout: str, *, path: str, filename: str, language: str, processor: str
) -> FileRecord:
    """The record in the LLM's output, or ``AnswerError`` with a one-line reason."""
    return to_record(
        extract_object(stdout),
        path=path,
        filename=filename,
        language=language,
        processor=processor,
    )
