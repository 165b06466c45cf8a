"""The periodic status refresh: ``cq/status`` per folder when its status changed (at most one per
250 ms), the worker supervised in auto mode, diagnostics on a bad ``config.json``, and a look at
whether the editor that started the server is still alive.

The cheap look for changes runs on the event loop; building a status (SQLite, psutil) runs on the
server's one status thread, and every message is sent from the loop (pygls' writer has no lock).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import from_fs_path

from cq_lsp.commands.results import Status, from_json, to_json
from cq_lsp.config.files import read_regular
from cq_lsp.config.json_locate import locate
from cq_lsp.core.status import add_problem, blank_status, stable_view
from cq_lsp.errors import CqLspError
from cq_lsp.lsp.folders import Folder

if TYPE_CHECKING:
    # Type only: the server imports this module to start the loop.
    from cq_lsp.lsp.server import CqLanguageServer

log = logging.getLogger(__name__)

STATUS_METHOD = "cq/status"
STATUS_MIN_GAP_S = 0.25  # the contract: at most one cq/status per 250 ms per folder
STATUS_TICK_S = 0.05  # how often to look (cheaply) for a change to report
FULL_REFRESH_S = 2.0  # worker liveness and heartbeats change without touching any file we stat
VOLATILE_RESEND_S = 10.0  # uptime / RSS refresh when nothing else changed
PARENT_CHECK_S = 1.0


class DirtyRoots:
    """Folders (by root) whose status must be looked at on the next tick, whatever the cheap look
    says. Marked from the loop, the io pool and the status thread alike, hence the lock."""

    def __init__(self) -> None:
        self._roots: set[Path] = set()
        self._lock = threading.Lock()

    def add(self, root: Path) -> None:
        with self._lock:
            self._roots.add(root)

    def take(self) -> set[Path]:
        """The marked roots, unmarked."""
        with self._lock:
            roots, self._roots = self._roots, set()
        return roots


async def status_loop(ls: CqLanguageServer) -> None:
    last_full = 0.0
    last_parent_check = 0.0
    while not ls.closed:
        now = time.monotonic()
        full = now - last_full >= FULL_REFRESH_S
        if full:
            last_full = now
        # The cheap look (a stat or two and SQLite's data_version, ~40 µs a folder) stays on
        # the loop thread: always the same thread, hence the same connection, which
        # data_version needs; handing an idle tick to another thread would cost more.
        due = due_folders(ls, full)
        try:
            updates = (
                await ls.loop.run_in_executor(ls.status_thread, collect_status, ls, due)
                if due
                else []
            )
        except RuntimeError:
            break  # the executor shut down: the server is stopping
        except Exception:
            log.exception("status refresh failed")
            updates = []
        for folder, status in updates:
            if ls.folders.get(folder.root) is not folder:
                continue  # removed meanwhile
            try:
                # The same typed status object as cq.status answers (commands/results.py).
                ls.protocol.notify(STATUS_METHOD, to_json(from_json(Status, status)))
                publish_config_diagnostics(ls, folder, status)
                if status.get("workerError"):
                    # The user must act: the worker will not be restarted again.
                    ls.notify_user(
                        types.MessageType.Error,
                        f"cq-lsp ({folder.root.name}): {status['workerError']}",
                        once=True,
                    )
            except Exception:  # one folder's trouble must not end the loop for all
                log.exception("reporting the status of %s failed", folder.root)
        if now - last_parent_check >= PARENT_CHECK_S:
            last_parent_check = now
            check_parent(ls)
        await asyncio.sleep(STATUS_TICK_S)


def due_folders(ls: CqLanguageServer, full: bool) -> list[Folder]:
    """Folders whose status may have changed (on the loop thread; cheap)."""
    dirty = ls.dirty.take()
    due = []
    for folder in list(ls.folders.values()):
        try:
            changed = folder.changed_since_last_look()
        except Exception:
            log.exception("looking at %s failed", folder.root)
            changed = True
        fresh = folder.last_sent is None
        if full or changed or fresh or folder.deferred or folder.root in dirty:
            due.append(folder)
    return due


def collect_status(ls: CqLanguageServer, due: list[Folder]) -> list[tuple[Folder, dict[str, Any]]]:
    """On the status thread: the statuses to send, each folder's trouble its own."""
    out = []
    for folder in due:
        if folder.closed:
            continue
        try:
            update = folder_status(ls, folder)
        except Exception:
            log.exception("status of %s failed", folder.root)
            continue
        if update is not None:
            out.append((folder, update))
    return out


def folder_status(ls: CqLanguageServer, folder: Folder) -> dict[str, Any] | None:
    """The folder's status if it differs from the one last sent (≤ 1 per 250 ms)."""
    if time.monotonic() - folder.last_sent_at < STATUS_MIN_GAP_S:
        # Sent less than 250 ms ago: look again on a later tick, not lose the change.
        folder.deferred = True
        return None
    folder.deferred = False
    auto_start = ls.settings.worker.auto_start
    try:
        status = folder.status(catch_up=auto_start)
    except Exception as exc:  # a broken index must not silence the others
        log.exception("status of %s failed", folder.root)
        status = blank_status(folder.root, "error", f"status failed: {exc}")
    if folder.supervise(status, auto_start=auto_start, submit=ls.in_background):
        ls.dirty.add(folder.root)  # show the new worker on a later tick
    if ls.settings_error:
        status["settingsError"] = ls.settings_error
        add_problem(status, "warning")
    view = stable_view(status)
    now = time.monotonic()
    if view != folder.last_sent or now - folder.last_sent_at >= VOLATILE_RESEND_S:
        folder.last_sent, folder.last_sent_at = view, now
        return status
    return None


def publish_config_diagnostics(
    ls: CqLanguageServer, folder: Folder, status: dict[str, Any]
) -> None:
    """A bad config.json gets a diagnostic at each offending key (cleared once fixed)."""
    error = None
    if status.get("initialized"):
        err = folder.ws.config_error
        if err is not None and str(getattr(err, "source", "")) == str(folder.project.config_file):
            error = err
    if error is None and not folder.config_diagnostic_sent:
        return
    uri = from_fs_path(str(folder.project.config_file)) or ""
    diagnostics = config_diagnostics(folder.project.config_file, error) if error else []
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics)
    )
    folder.config_diagnostic_sent = bool(diagnostics)


def config_diagnostics(config_file: Path, error: Exception) -> list[types.Diagnostic]:
    """One diagnostic per problem of ``error``, at the key it names in ``config_file``."""
    try:  # never a FIFO or /dev/zero: the event loop must not block on it
        raw = read_regular(config_file)
    except CqLspError:
        raw = None
    text = raw.decode("utf-8", "replace") if raw else ""
    diagnostics = []
    for problem in getattr(error, "problems", None) or [str(error)]:
        key = problem.split(":", 1)[0] if ": " in problem else ""
        (l1, c1), (l2, c2) = locate(text, key)
        diagnostics.append(
            types.Diagnostic(
                range=types.Range(types.Position(l1, c1), types.Position(l2, c2)),
                message=f"{problem} (cq-lsp keeps running on the last good configuration)",
                severity=types.DiagnosticSeverity.Error,
                source="cq-lsp",
            )
        )
    return diagnostics


def check_parent(ls: CqLanguageServer) -> None:
    """The editor died without shutting us down: clean up rather than linger."""
    pid = ls.process_id
    if not pid or ls.closed:
        return
    # Imported here, not at the top: psutil costs ~15 ms of the server's start, before
    # `initialize` is answered, and is needed only once the loop runs.
    import psutil

    if not psutil.pid_exists(pid):
        log.warning("the editor (pid %s) is gone; shutting down", pid)
        ls.cleanup()
        os._exit(0)
