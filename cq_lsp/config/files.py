"""Where configuration files live and how one is read: the repository file, the user file."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cq_lsp.errors import ConfigError
from cq_lsp.humanize import show_value

CONFIG_DIR_NAME = ".code-query"
CONFIG_FILE_NAME = "config.json"
# Tests and sandboxes point this at a temporary dir so they never read the real user's config.
CONFIG_HOME_ENV = "CQ_LSP_CONFIG_HOME"
GITIGNORE_TEXT = "*\n!config.json\n!.gitignore\n"
#: A configuration is a few hundred bytes; anything past this is not one (and /dev/zero never ends).
MAX_CONFIG_BYTES = 1 << 20
#: Deeper than any setting nests; far below where the JSON parser would recurse out of stack.
MAX_CONFIG_DEPTH = 64
#: Longer numbers are not settings; Python refuses to parse ints past 4,300 digits anyway.
MAX_NUMBER_CHARS = 100
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:,]|-?[0-9][0-9.eE+-]*')


def repo_config_path(root: Path) -> Path:
    """``<root>/.code-query/config.json``."""
    return Path(root) / CONFIG_DIR_NAME / CONFIG_FILE_NAME


def user_config_path(env: Mapping[str, str] | None = None) -> Path:
    """The user file: ``$CQ_LSP_CONFIG_HOME/config.json`` or the platform's user config dir."""
    environ = os.environ if env is None else env
    override = environ.get(CONFIG_HOME_ENV)
    if override:
        return Path(override) / CONFIG_FILE_NAME
    import platformdirs  # ~10 ms; only paid when a config is actually loaded

    return Path(platformdirs.user_config_dir("cq-lsp")) / CONFIG_FILE_NAME


def read_regular(path: Path) -> bytes | None:
    """The bytes of ``path`` if it is a regular file of at most MAX_CONFIG_BYTES; None if absent."""
    got = _read_regular(path)
    return None if got is None else got[0]


def _read_regular(path: Path) -> tuple[bytes, os.stat_result] | None:
    """The bytes and ``fstat`` of ``path`` if it is a regular file of at most MAX_CONFIG_BYTES.

    A symlink is followed (a user may keep their config in a dotfiles repo), but a FIFO, a device
    or a directory is refused without reading: ``O_NONBLOCK`` keeps opening a FIFO from waiting
    for a writer, and ``fstat`` of what was opened decides.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read {path}: {why}", source=str(path)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = (
                "a directory"
                if stat.S_ISDIR(st.st_mode)
                else "a FIFO"
                if stat.S_ISFIFO(st.st_mode)
                else "a device"
                if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "not a regular file"
            )
            raise ConfigError(
                f"{path} is {kind}, not a regular file",
                hint="a configuration file must be a regular JSON file (a symlink to one is fine)",
                source=str(path),
            )
        chunks: list[bytes] = []
        left = MAX_CONFIG_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", source=str(path)) from None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path} is larger than {MAX_CONFIG_BYTES:,} bytes: not a configuration file",
            hint="a configuration holds a few settings; replace the file",
            source=str(path),
        )
    return raw, st


def _show_path(stack: list[list[Any]]) -> str:
    out = ""
    for kind, label, _ in stack:
        if label is None:
            break
        out += f"[{label}]" if kind == "[" else (f".{label}" if out else str(label))
    return out or "(top level)"


def _check_shape(text: str, path: Path) -> None:
    """Refuse what the JSON parser would accept badly: a key given twice (the last silently won),
    nesting deep enough to overflow the parser's recursion, numbers of thousands of digits.

    A token scan, not a parse: syntax errors are left for the parser to report.
    """
    stack: list[list[Any]] = []  # [bracket, current key or index, keys seen in this object]
    last_string: str | None = None
    problem: str | None = None
    for match in _TOKEN.finditer(text):
        tok = match.group()
        ch = tok[0]
        if ch == '"':
            last_string = tok
            continue
        top = stack[-1] if stack else None
        if tok == ":" and top is not None and top[0] == "{" and last_string is not None:
            try:
                key = json.loads(last_string)
            except ValueError:
                key = last_string[1:-1]
            top[1] = key
            if key in top[2]:
                problem = f"{_show_path(stack)}: the key {key!r} is given twice"
                break
            top[2].add(key)
        elif tok == "," and top is not None and top[0] == "[":
            top[1] += 1
        elif ch in "[{":
            if len(stack) >= MAX_CONFIG_DEPTH:
                problem = f"{_show_path(stack)}: nested deeper than {MAX_CONFIG_DEPTH} levels"
                break
            stack.append([ch, 0 if ch == "[" else None, set()])
        elif ch in "]}":
            if stack:
                stack.pop()
        elif (ch == "-" or ch.isdigit()) and len(tok) > MAX_NUMBER_CHARS:
            problem = f"{_show_path(stack)}: a number of {len(tok):,} characters"
            break
        last_string = None
    if problem is not None:
        raise ConfigError(
            f"{path} is not a usable configuration",
            problems=[problem],
            hint="fix that key; `cq-lsp config validate` checks the file",
            source=str(path),
        )


def read_config_file(path: Path) -> tuple[dict[str, Any] | None, bytes | None]:
    """Parse a config file; ``(None, None)`` when it does not exist.

    The bytes are returned as read, so the trust hash is of exactly what was parsed. Anything
    wrong — not a regular file, too large, duplicate keys, absurd nesting or numbers, bad JSON —
    is a ConfigError naming the file (and the key path where there is one), never a traceback.
    """
    got = _read_regular(path)
    if got is None:
        return None, None
    return _parse(got[0], path), got[0]


def read_repo_config(root: Path) -> tuple[dict[str, Any] | None, bytes | None, bool]:
    """The repository file, as :func:`read_config_file`, and whether the bytes read are this
    repository's own file: False when ``config.json`` or ``.code-query`` is a symlink (to another
    repository's file, say), or was swapped while being read. Trust is never given to a file
    that is not the repository's own (see cq_lsp.config.trust)."""
    path = repo_config_path(root)
    got = _read_regular(path)
    if got is None:
        return None, None, False
    raw, st = got
    return _parse(raw, path), raw, is_own_file(root, st)


def is_own_file(root: Path, opened: os.stat_result) -> bool:
    """Whether ``opened`` (an fstat) is ``<root>/.code-query/config.json`` itself, reached
    without following a symlink."""
    state = Path(os.path.realpath(root)) / CONFIG_DIR_NAME
    try:
        dir_st = os.lstat(state)
        file_st = os.lstat(state / CONFIG_FILE_NAME)
    except OSError:
        return False
    return (
        stat.S_ISDIR(dir_st.st_mode)
        and stat.S_ISREG(file_st.st_mode)
        and (file_st.st_dev, file_st.st_ino) == (opened.st_dev, opened.st_ino)
    )


def _parse(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte {exc.start})",
            hint="save it as UTF-8",
            source=str(path),
        ) from None
    _check_shape(text, path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            problems=[f"line {exc.lineno}, column {exc.colno}: {exc.msg}"],
            hint="fix the syntax (JSON allows no comments and no trailing commas)",
            source=str(path),
        ) from None
    except (ValueError, RecursionError) as exc:  # what the shape check let through, if anything
        raise ConfigError(
            f"{path} is not a usable configuration: {exc}", source=str(path)
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path} must hold a JSON object",
            problems=[f"(top level): must be an object ({{...}}), got {show_value(data)}"],
            source=str(path),
        )
    return data
