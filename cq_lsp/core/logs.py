"""Log files: the hooks' and the worker's, rotated; reading their tail, following them."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

# hooks.log: past this size it becomes hooks.log.1 (… .LOG_KEEP).
LOG_MAX_BYTES = 1_000_000
LOG_KEEP = 2


def tail_lines(path: Path, n: int) -> list[str]:
    """The last ``n`` lines, reading backwards from the end (never the whole file)."""
    if n <= 0:
        return []
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        pos = fh.tell()
        buf = b""
        while pos > 0 and buf.count(b"\n") <= n:
            step = min(8192, pos)
            pos -= step
            fh.seek(pos)
            buf = fh.read(step) + buf
    return [ln.decode("utf-8", "replace") for ln in buf.splitlines()[-n:]]


def last_line(path: Path) -> str | None:
    """The file's last line, or None when it is missing or empty."""
    try:
        lines = tail_lines(path, 1)
    except OSError:
        return None
    return lines[-1] if lines else None


def follow(path: Path, poll_s: float = 0.2) -> Iterator[str]:
    """Lines appended to ``path`` from now on, as they arrive (``logs --follow``)."""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        while True:
            chunk = fh.readline()
            if chunk:
                yield chunk.decode("utf-8", "replace")
            else:
                time.sleep(poll_s)


def log_to_rotating_file(path: Path) -> None:
    """Send this process's logging to ``path``, rotated at 1 MB with 3 old copies (the worker)."""
    # Imported here: git hooks import this module on every commit, and logging.handlers pulls in
    # socket (~7 ms of the hook's start).
    import logging
    from logging.handlers import RotatingFileHandler

    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [
        RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    ]
    if sys.stderr.isatty():  # run by hand in a terminal; detached, stderr is a file: no copy
        handlers.append(logging.StreamHandler(sys.stderr))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)


def rotate_log(log: Path, max_bytes: int = LOG_MAX_BYTES, keep: int = LOG_KEEP) -> bool:
    """Keep hooks.log bounded: past ``max_bytes`` it becomes hooks.log.1 (… .``keep``).

    Hooks may run at once, so the rename happens under a lock and after a second look. If this
    process writes to the old file (the shim opened it), it is pointed at the new one.
    """
    try:
        if log.stat().st_size <= max_bytes:
            return False
    except OSError:
        return False
    lock = open(log.with_name(log.name + ".lock"), "a+")
    try:
        try:
            import fcntl

            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - Windows: no shims there anyway
            pass
        try:
            st = log.stat()
        except OSError:
            return False
        if st.st_size <= max_bytes:
            return False
        for i in range(keep - 1, 0, -1):
            older = log.with_name(f"{log.name}.{i}")
            if older.exists():
                os.replace(older, log.with_name(f"{log.name}.{i + 1}"))
        os.replace(log, log.with_name(log.name + ".1"))
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            for std in (1, 2):
                try:
                    if os.fstat(std).st_ino == st.st_ino:
                        os.dup2(fd, std)
                except OSError:
                    pass
        finally:
            os.close(fd)
        return True
    finally:
        lock.close()
