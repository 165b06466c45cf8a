"""One workspace folder of the language server: its project, workspace, worker watchdog and
the status last sent for it. Protocol-free: the server drives these objects from its loop.

Everything here blocks (SQLite, psutil, git), so the server calls it on worker threads. Status
and supervision run on one dedicated thread per server, which keeps SQLite's per-connection
``data_version`` meaningful between ticks.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cq_lsp import editor_env
from cq_lsp.errors import CqLspError, NotAWorkTreeError, PathRefused
from cq_lsp.project import Project, find_work_tree
from cq_lsp.watchdog import WorkerWatchdog
from cq_lsp.workspace import Workspace

log = logging.getLogger(__name__)

#: Refusals an editor event drops silently: the user did not ask for these files.
QUIET_REASONS = frozenset({"outside", "internal", "ignored", "excluded", "missing"})

#: Fields that change every second; a change in them alone does not make a notification.
_VOLATILE = ("uptimeS", "rssBytes", "cpuS", "heartbeatAgeS", "oldestQueuedS", "at")


def stable_view(status: Mapping[str, Any]) -> Any:
    """The status without its ever-changing numbers, for "did anything change?"."""
    if isinstance(status, Mapping):
        return {k: stable_view(v) for k, v in status.items() if k not in _VOLATILE}
    return status


def blank_status(root: Path, health: str, message: str, **extra: Any) -> dict[str, Any]:
    """The status object of a folder that has no index to report on."""
    return {
        "root": str(root),
        "health": health,
        "message": message,
        "worker": {
            "state": "stopped",
            "pid": None,
            "uptimeS": None,
            "restarts": 0,
            "rssBytes": None,
        },
        "queue": {
            "queued": 0,
            "running": 0,
            "failed": 0,
            "done": 0,
            "skipped": 0,
            "oldestQueuedS": None,
        },
        "index": {"files": 0},
        **extra,
    }


class Folder:
    """A workspace folder mapped to the git work tree that contains it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.root: Path = folder
        self.git_error: str | None = None
        try:
            self.root = find_work_tree(folder)
        except NotAWorkTreeError as exc:
            self.git_error = exc.message
        except CqLspError as exc:
            self.git_error = str(exc)
        self.project = Project(self.root)
        self.watchdog = WorkerWatchdog(self.project)
        #: True once this server started a worker here (stopped at shutdown only then).
        self.started_worker = False
        self.last_sent: Any = None
        self.last_sent_at = 0.0
        #: a change seen too soon after the last notification, to send on a later tick.
        self.deferred = False
        self.last_status: dict[str, Any] | None = None
        self._ws: Workspace | None = None
        self._settings: tuple[dict[str, Any] | None, bool] = (None, False)
        self._db_version: int | None = None
        self._stamp: Any = None
        self.config_diagnostic_sent = False
        # The io threads (a save) and the status thread (supervision) may both want a worker.
        self._start_lock = threading.Lock()

    # -- the core façade, rebuilt when the editor's settings change ----------------------------

    def configure(self, editor_layer: dict[str, Any] | None, trusted: bool) -> None:
        if (editor_layer, trusted) == self._settings and self._ws is not None:
            return
        self._settings = (editor_layer, trusted)
        # Dropped, not closed: another thread may be in the middle of a query on it, and
        # closing a SQLite connection under a running statement crashes the process. Its
        # connections close when the last user lets go of it.
        self._ws = None

    @property
    def initialized(self) -> bool:
        return self.git_error is None and self.project.initialized

    @property
    def ws(self) -> Workspace:
        if self.git_error is not None:
            raise CqLspError(self.git_error, hint="open a folder inside a git work tree")
        self.project.require_initialized()
        if self._ws is None:
            layer, trusted = self._settings
            self._ws = Workspace(
                self.project, editor_settings=layer, editor_trusted=trusted, live=True
            )
        return self._ws

    def worker_env(self) -> dict[str, str]:
        layer, trusted = self._settings
        return editor_env.encode(layer, trusted)

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()
            self._ws = None

    # -- paths --------------------------------------------------------------------------------

    def contains(self, path: Path) -> bool:
        try:
            return path.resolve().is_relative_to(self.root)
        except OSError:
            return False

    def editor_wants(self, path: Path) -> bool:
        """Should a file the editor saved or saw change be queued?

        Files the user never asked for (ignored, excluded, internal, outside) are dropped
        quietly; other refusals (binary, too large ...) go on to ``enqueue_paths``, which records
        the reason so ``show`` and ``queue list`` can say why the file has no documentation.
        """
        ws = self.ws
        try:
            rel = ws.guard.to_rel(path)
            ws.guard.check_rules(rel)
        except PathRefused as refusal:
            return refusal.reason not in QUIET_REASONS
        return True

    # -- status and supervision (on the status thread) -----------------------------------------

    def changed_since_last_look(self) -> bool:
        """Cheap: did the ledger or the worker files change since the previous call?"""
        if not self.initialized:
            return False
        try:
            version = self.ws.db.query("PRAGMA data_version")[0][0]
        except Exception:
            version = None
        stamp: list[tuple[int, int] | None] = []
        for f in (self.project.worker_json, self.project.config_file):
            try:
                st = os.stat(f)
                stamp.append((st.st_mtime_ns, st.st_ino))
            except OSError:
                stamp.append(None)
        changed = version != self._db_version or stamp != self._stamp
        self._db_version, self._stamp = version, stamp
        return changed

    def status(self) -> dict[str, Any]:
        if self.git_error is not None:
            return blank_status(
                self.root, "warning", f"not a git work tree: {self.git_error}", initialized=False
            )
        if not self.project.initialized:
            return blank_status(
                self.root,
                "warning",
                "not initialized — run CQ: Initialize (or `cq-lsp init`)",
                initialized=False,
            )
        ws = self.ws
        st = ws.status()
        st["initialized"] = True
        st["worker"]["restarts"] = self.watchdog.restarts
        err = ws.config_error
        if err is not None:
            st["configError"] = str(err)
        if self.watchdog.gave_up:
            st["health"] = "error"
            st["message"] = f"{st['message']} · {self.watchdog.gave_up}"
            st["workerError"] = self.watchdog.gave_up
        return st

    def start_worker(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Start this folder's worker unless one runs (serialised within this server)."""
        from cq_lsp.supervisor import start_worker

        with self._start_lock:
            result = start_worker(self.project, env=self.worker_env() if env is None else env)
        if result.get("started"):
            self.started_worker = True
        return result

    def ensure_worker(self, report: Any = None) -> None:
        """Auto mode: a worker for waiting work (a failed start counts as a crash)."""
        from cq_lsp.operations import ensure_worker

        if self.watchdog.holding_off:
            return  # the watchdog restarts it after its backoff (or gave up and said so)
        try:
            with self._start_lock:
                note = ensure_worker(self.ws, report, env=self.worker_env())
            if note == "worker started":
                self.started_worker = True
        except CqLspError as exc:
            self.watchdog.start_failed(str(exc))

    def supervise(self, status: dict[str, Any], *, auto_start: bool) -> str | None:
        """Start or restart the worker when work waits (auto mode). Returns what it did."""
        if not status.get("initialized"):
            return None
        ws = self.ws
        queue = status["queue"]
        waiting = bool(queue["queued"] or queue["running"])
        allowed = auto_start and ws.config.processing.mode == "auto"
        env = self.worker_env()

        def start() -> None:
            self.start_worker(env)

        def stop() -> None:
            from cq_lsp.supervisor import stop_worker

            stop_worker(self.project, grace_s=2.0)

        try:
            if allowed:
                did = self.watchdog.check(
                    status["worker"], work_waiting=waiting, start=start, stop=stop
                )
                if did:
                    return did
            state = status["worker"]["state"]
            if allowed and waiting and state == "stopped" and not self.watchdog.holding_off:
                start()
                return "started"
        except CqLspError as exc:
            log.error("could not start the worker for %s: %s", self.root, exc)
            self.watchdog.start_failed(str(exc))
        return None
