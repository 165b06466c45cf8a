"""Where a key path such as ``processing.batch_size`` sits in a JSON text (for diagnostics).

The standard json module gives no positions, so this walks the text with a small tokenizer that
tracks the path of object keys. It never raises: unknown paths resolve to their deepest existing
parent, and unparsable text to the start of the file.
"""

from __future__ import annotations

import json
import re

_WS = re.compile(r"[ \t\r\n]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")


class _Walker:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        #: dotted key path -> (start, end) offsets of the key (or of the value, for the root).
        self.spans: dict[str, tuple[int, int]] = {}

    def _skip(self) -> None:
        m = _WS.match(self.text, self.i)
        self.i = m.end() if m else self.i

    def value(self, path: str) -> None:
        self._skip()
        ch = self.text[self.i : self.i + 1]
        if ch == "{":
            self._object(path)
        elif ch == "[":
            self._array(path)
        elif ch == '"':
            m = _STRING.match(self.text, self.i)
            if not m:
                raise ValueError("unterminated string")
            self.i = m.end()
        else:
            m = _SCALAR.match(self.text, self.i)
            if not m:
                raise ValueError("unexpected character")
            self.i = m.end()

    def _object(self, path: str) -> None:
        self.i += 1
        self._skip()
        if self.text.startswith("}", self.i):
            self.i += 1
            return
        while True:
            self._skip()
            m = _STRING.match(self.text, self.i)
            if not m:
                raise ValueError("expected a key")
            key = json.loads(m.group(0))
            child = f"{path}.{key}" if path else key
            self.spans.setdefault(child, (m.start(), m.end()))
            self.i = m.end()
            self._skip()
            if not self.text.startswith(":", self.i):
                raise ValueError("expected ':'")
            self.i += 1
            self.value(child)
            self._skip()
            if self.text.startswith(",", self.i):
                self.i += 1
                continue
            if self.text.startswith("}", self.i):
                self.i += 1
                return
            raise ValueError("expected ',' or '}'")

    def _array(self, path: str) -> None:
        self.i += 1
        self._skip()
        if self.text.startswith("]", self.i):
            self.i += 1
            return
        n = 0
        while True:
            self._skip()
            start = self.i
            self.value(f"{path}[{n}]")
            self.spans.setdefault(f"{path}[{n}]", (start, self.i))
            n += 1
            self._skip()
            if self.text.startswith(",", self.i):
                self.i += 1
                continue
            if self.text.startswith("]", self.i):
                self.i += 1
                return
            raise ValueError("expected ',' or ']'")


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset)
    col = offset - (text.rfind("\n", 0, offset) + 1)
    return line, col


def locate(text: str, key_path: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """((line, col), (line, col)) of the key named by ``key_path`` (0-based, end exclusive).

    ``key_path`` is dotted, with ``[n]`` for list items (``exclude_patterns[2]``); a path that
    is not in the text resolves to its nearest existing parent, then to the first line.
    """
    walker = _Walker(text)
    try:
        walker.value("")
    except (ValueError, IndexError, RecursionError):
        pass  # keep the spans found before the syntax error (or absurd nesting)
    path = key_path.strip()
    while path:
        span = walker.spans.get(path)
        if span is not None:
            return _line_col(text, span[0]), _line_col(text, span[1])
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    first_line_end = text.find("\n")
    return (0, 0), (0, first_line_end if first_line_end >= 0 else len(text))
