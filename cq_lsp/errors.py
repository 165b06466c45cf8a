"""Errors that carry their meaning: what went wrong, how to fix it, and the exit code it maps to.

The faces (CLI, language server, hook entry) turn these into an exit code, a JSON-RPC error or a
log line; the core only raises them.
"""

from __future__ import annotations

# Exit codes of the command line: 0 success, 1 the operation failed, 2 usage or config.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CqLspError(Exception):
    """Base class. ``hint`` says what the user can do about it."""

    exit_code = EXIT_FAILED
    # The request itself was wrong (an argument, a path, a query, a setting), not the work: a
    # protocol face answers "invalid params" instead of "internal error".
    bad_request = False

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message

    def to_dict(self) -> dict[str, object]:
        return {"error": type(self).__name__, "message": self.message, "hint": self.hint}


class UsageError(CqLspError):
    """The command was called wrongly (bad argument, unknown key)."""

    exit_code = EXIT_USAGE
    bad_request = True


class ConfigError(CqLspError):
    """A configuration file or setting is invalid. ``problems`` lists one message per key path."""

    exit_code = EXIT_USAGE
    bad_request = True

    def __init__(
        self,
        message: str,
        problems: list[str] | None = None,
        hint: str | None = None,
        source: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.problems = list(problems or [])
        self.source = source

    def __str__(self) -> str:
        lines = [self.message, *(f"  {p}" for p in self.problems)]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "problems": self.problems, "source": self.source}


class NotAWorkTreeError(CqLspError):
    """The directory is not inside a git work tree."""

    exit_code = EXIT_USAGE


class NotInitializedError(CqLspError):
    """The work tree has no .code-query/ yet."""

    exit_code = EXIT_USAGE


class PathRefused(CqLspError):
    """A path did not pass the path guard. ``reason`` is a short machine-friendly code."""

    exit_code = EXIT_FAILED
    bad_request = True

    def __init__(self, path: str, reason: str, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.path = path
        self.reason = reason


class SearchSyntaxError(CqLspError):
    """An FTS5 query that SQLite could not parse."""

    exit_code = EXIT_USAGE
    bad_request = True


class IndexError_(CqLspError):
    """index.db could not be opened or written (locked too long, read-only, disk full)."""


class WorkerError(CqLspError):
    """The worker could not be started, stopped or reached."""
