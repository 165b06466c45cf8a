"""The documenter contract shared by the static and the command documenters."""

from __future__ import annotations

from typing import Protocol

import attrs

from cq_lsp.documenters.records import FileRecord


@attrs.define(frozen=True, kw_only=True)
class DocumentContext:
    """What a documenter may know besides the file itself. Everything here is plain data.

    ``local_modules`` are the top-level module and package names that belong to the repository
    (so ``import billing`` in that repository is not a third-party dependency).
    """

    local_modules: frozenset[str] = frozenset()
    model: str = "sonnet"


class Documenter(Protocol):
    name: str

    def document(
        self, path: str, content: str, language: str, context: DocumentContext
    ) -> FileRecord: ...


class DocumenterError(Exception):
    """The documenter could not produce a record; the message is one line, shown to the user.

    ``retryable``: whether another attempt may succeed (a timeout may; a missing program will not).
    ``fallback``: whether the static record may stand in (not when the command was refused).
    """

    retryable = True
    fallback = True
