"""How the language server hands the editor's settings and trust to a worker it starts.

The worker is a separate process that the CLI and the hooks can start too; only a worker started
by the server sees the editor's layer. Editor trust lets a repository's ``processor.command`` run,
so it must not travel in environment variables, which any parent shell (or a tool such as direnv
acting on the repository) can set. Instead the server writes a hand-off file into the user's data
dir, mode 0600, named by the server's pid, its process start time and the work tree, and the worker
reads the file named by *its parent* — the live process that started it — and checks owner, mode
and contents. A shell that starts a worker has no such file; a file left by a server that has
exited names a pid and start time no live process has.

``CQ_LSP_CONFIG_HOME`` and ``CQ_LSP_DATA_HOME`` remain the user's channel: whoever sets them chooses
the user config (which may set ``processor.command``) and the trust store.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cq_lsp.config.trust import data_dir

HANDOFF_DIR = "editor-handoff"
#: Settings are a few keys; a larger hand-off file was not written by the server.
MAX_HANDOFF_BYTES = 1 << 20


def _process_start(pid: int) -> float | None:
    # psutil is a dependency anyway; imported here because hooks and `search` never need it.
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


def _handoff_path(pid: int, started: float, root: Path) -> Path:
    key = hashlib.sha256(os.fsencode(os.path.realpath(root))).hexdigest()[:16]
    return data_dir() / HANDOFF_DIR / f"{pid}-{round(started * 1000)}-{key}.json"


def _prune(directory: Path) -> None:
    """Hand-off files of servers that have exited (their pid and start time name no process)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        pid_s, _, rest = name.partition("-")
        started_s = rest.partition("-")[0]
        if not (pid_s.isdigit() and started_s.isdigit()):
            continue
        started = _process_start(int(pid_s))
        if started is None or round(started * 1000) != int(started_s):
            try:
                os.unlink(directory / name)
            except OSError:
                pass


def encode(settings: Mapping[str, Any] | None, trusted: bool, root: Path) -> dict[str, str]:
    """Server side: record the editor layer for workers this process starts for ``root``.

    Returns the environment to add to the worker's (nothing: the file is the channel).
    """
    started = _process_start(os.getpid())
    if started is None:
        return {}
    path = _handoff_path(os.getpid(), started, root)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _prune(path.parent)
    body = json.dumps(
        {
            "version": 1,
            "pid": os.getpid(),
            "root": os.path.realpath(root),
            "settings": dict(settings) if settings else None,
            "trusted": bool(trusted),
        },
        separators=(",", ":"),
    ).encode("utf-8")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an older file of that name may have had looser bits
        os.write(fd, body)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return {}


def decode(root: Path) -> tuple[dict[str, Any] | None, bool]:
    """Worker side: the editor layer and trust the live process that started us recorded for
    ``root``; (None, False) when there is none or it does not check out."""
    parent = os.getppid()
    started = _process_start(parent) if parent > 1 else None
    if started is None:
        return None, False
    path = _handoff_path(parent, started, root)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None, False
    try:
        st = os.fstat(fd)
        if (
            not stat.S_ISREG(st.st_mode)
            or st.st_uid != os.getuid()
            or st.st_mode & 0o077
            or st.st_size > MAX_HANDOFF_BYTES
        ):
            return None, False
        raw = os.read(fd, MAX_HANDOFF_BYTES + 1)
    except OSError:
        return None, False
    finally:
        os.close(fd)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None, False
    if (
        not isinstance(data, dict)
        or data.get("pid") != parent
        or data.get("root") != os.path.realpath(root)
    ):
        return None, False
    settings = data.get("settings")
    return (settings if isinstance(settings, dict) else None), data.get("trusted") is True
