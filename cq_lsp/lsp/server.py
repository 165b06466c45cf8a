"""The language server: queues saved and committed files, supervises the worker and reports
status to the editor. A thin face over the core (cq_lsp.core.workspace, operations, supervisor).

Threading: handlers are coroutines on pygls' event loop; anything that blocks (SQLite, git,
psutil, reading files) runs in an executor, and every message to the client is sent from the
loop, because pygls' writer has no lock. Status and supervision run on one dedicated thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from cq_lsp import __version__
from cq_lsp.commands.table import COMMANDS
from cq_lsp.config.files import read_regular
from cq_lsp.config.json_locate import locate
from cq_lsp.core import freshness
from cq_lsp.core.status import add_problem, blank_status, stable_view
from cq_lsp.errors import CqLspError, UsageError
from cq_lsp.lsp.folders import Folder
from cq_lsp.lsp.progress import catch_up
from cq_lsp.lsp.protocol import CqProtocol
from cq_lsp.lsp.session import command_handler
from cq_lsp.lsp.settings import EditorSettings, merge_section, parse_settings
from cq_lsp.lsp.symbols import SymbolTable, hover_markdown, word_at
from cq_lsp.lsp.watchers import moves_head, pull_configuration, register_watchers

log = logging.getLogger(__name__)
T = TypeVar("T")

STATUS_METHOD = "cq/status"
STATUS_MIN_GAP_S = 0.25  # the contract: at most one cq/status per 250 ms per folder
STATUS_TICK_S = 0.05  # how often to look (cheaply) for a change to report
FULL_REFRESH_S = 2.0  # worker liveness and heartbeats change without touching any file we stat
VOLATILE_RESEND_S = 10.0  # uptime / RSS refresh when nothing else changed
GIT_SETTLE_S = 0.5  # a checkout or rebase touches HEAD, refs and the index in a burst
# Work per message on the event loop is bounded so a flood never starves requests: saves are
# handed to the io pool in batches of at most this many paths, one batch at a time ...
FLUSH_BATCH = 2000
# ... a watched-files notification yields to other messages every this many changes ...
WATCHED_CHUNK = 500
# ... and one with more changes than this is taken for what it is (a checkout, a generator, a
# mass rewrite): each folder is reconciled with git once instead of queueing file by file.
WATCHED_MAX = 5000
_LEVELS = {"off": 0, "onError": 1, "onWarning": 2, "always": 4}  # highest MessageType shown


class CqLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("cq-lsp", __version__, protocol_cls=CqProtocol)
        self.settings_raw: dict[str, Any] | None = None
        self.settings = EditorSettings()
        self.settings_error: str | None = None
        self.folders: dict[Path, Folder] = {}
        self.io = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cq-io")
        self.status_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cq-status")
        # Symbols and hover on one thread: SQLite's data_version is per connection, and each
        # thread has its own, so "has the index changed since I built the table?" needs one.
        self.symbols_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cq-symbols")
        self._tasks: set[asyncio.Future[Any]] = set()
        self._pending: dict[Path, dict[str, float]] = {}  # folder root -> path -> due time
        self._git_due: dict[Path, float] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self._flush_at: float | None = None  # when the armed flush fires
        self._flushing = False  # one flush at a time: the next one is armed when it ends
        self.dirty: set[Path] = set()
        self.symbol_tables: dict[Path, SymbolTable] = {}
        self.closed = False
        self._shown: set[str] = set()
        #: after `initialized`: messages to the user may be shown from now on.
        self.ready = False

    # -- plumbing -------------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.loop.run_in_executor(self.io, fn, *args)

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Future[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task failed", exc_info=t.exception())

        task.add_done_callback(done)

    def notify_user(self, level: types.MessageType, message: str, *, once: bool = False) -> None:
        """window/showMessage, filtered by the showNotifications setting; always logged."""
        self.window_log_message(types.LogMessageParams(type=level, message=message))
        if once:
            if message in self._shown:
                return
            self._shown.add(message)
        if level <= _LEVELS.get(self.settings.show_notifications, 1):
            self.window_show_message(types.ShowMessageParams(type=level, message=message))

    # -- folders --------------------------------------------------------------------------------

    def add_folder(self, path: Path) -> Folder:
        folder = Folder(path)
        existing = self.folders.get(folder.root)
        if existing is not None:
            return existing
        folder.configure(self.settings.editor_layer(), self.settings.trusted)
        self.folders[folder.root] = folder
        self.dirty.add(folder.root)
        log.info("workspace folder %s -> work tree %s", path, folder.root)
        return folder

    def remove_folder(self, path: Path) -> None:
        for root, folder in list(self.folders.items()):
            if folder.folder == path or root == path:
                # Out of the map first (no more status for it), then stopped and closed on the
                # status thread, after whatever it is doing with the folder's databases.
                del self.folders[root]
                self.symbol_tables.pop(root, None)
                self._pending.pop(root, None)

                def retire(folder: Folder = folder) -> None:
                    try:
                        folder.stop_if_ours()
                    except Exception:
                        log.exception("stopping the worker of %s failed", folder.root)
                    folder.close()

                self._submit(self.status_thread, retire)

    def _submit(self, executor: ThreadPoolExecutor, fn: Callable[[], Any]) -> None:
        try:
            executor.submit(fn)
        except RuntimeError:  # shut down: the server is stopping
            pass

    def folder_for_path(self, path: Path) -> Folder | None:
        """The most specific folder whose work tree holds ``path``."""
        best: Folder | None = None
        try:
            # Resolved once, not once per folder: it is most of the cost of a save.
            resolved = path.resolve()
        except OSError:
            return None
        for folder in self.folders.values():
            if resolved.is_relative_to(folder.root) and (
                best is None or len(folder.root.parts) > len(best.root.parts)
            ):
                best = folder
        return best

    def folder_for_git_path(self, path: Path) -> Folder | None:
        """The folder whose git dir (or common git dir) holds ``path``."""
        for folder in self.folders.values():
            if folder.git_error is not None:
                continue
            for base in folder.git_dirs():
                if path.is_relative_to(base):
                    return folder
        return None

    def folder_for_args(self, args: dict[str, Any]) -> Folder:
        if not self.folders:
            raise UsageError(
                "no workspace folder is open", hint="open a folder of a git repository"
            )
        if args.get("root"):
            root = Path(args["root"]).expanduser()
            folder = self.folders.get(root.resolve()) or self.folder_for_path(root)
            if folder is None:
                raise UsageError(
                    f"{args['root']} is not one of the workspace folders",
                    hint="folders: " + ", ".join(str(r) for r in self.folders),
                )
            return folder
        for key in ("path", "paths"):
            value = args.get(key)
            first = value[0] if isinstance(value, (list, tuple)) and value else value
            if isinstance(first, str) and os.path.isabs(first):
                folder = self.folder_for_path(Path(first))
                if folder is not None:
                    return folder
        return next(iter(self.folders.values()))

    def apply_settings(self, raw: Any) -> None:
        settings, error = parse_settings(raw)
        self.settings_raw = raw if isinstance(raw, dict) else None
        self.settings = settings
        self.settings_error = error
        if settings.log_level is not None:  # else --log-level stands
            logging.getLogger("cq_lsp").setLevel(settings.log_level.upper())
        for folder in self.folders.values():
            changed = folder.configure(settings.editor_layer(), settings.trusted)
            self.dirty.add(folder.root)
            if changed and self.ready:
                # A running worker holds the old settings in its environment.
                self._submit(self.io, folder.restart_for_settings)
        if error and self.ready:
            self.notify_user(types.MessageType.Error, f"cq-lsp: {error}", once=True)

    # -- queueing -------------------------------------------------------------------------------

    def schedule(self, path: Path, delay_s: float, folder: Folder | None = None) -> None:
        """Queue ``path`` after ``delay_s``; another event for it within the delay restarts it.

        ``folder``: the folder of ``path`` when the caller has looked it up already."""
        folder = folder or self.folder_for_path(path)
        if folder is None or not folder.initialized:
            return
        due = time.monotonic() + delay_s
        self._pending.setdefault(folder.root, {})[str(path)] = due
        self._arm_flush(due)

    def schedule_git(self, folder: Folder) -> None:
        due = self._git_due[folder.root] = time.monotonic() + GIT_SETTLE_S
        self._arm_flush(due)

    def _arm_flush(self, due: float | None = None) -> None:
        """Arm the flush timer for the earliest due time.

        ``due``: one new due time — O(1) per save, where scanning every pending path made 5,000
        saves in a second cost seconds of loop time. None: look at everything (after a flush).
        """
        if self._flushing:
            return  # the running flush arms the next one when it ends
        if due is None:
            dues = [min(paths.values()) for paths in self._pending.values() if paths]
            dues.extend(self._git_due.values())
            if not dues:
                return
            due = min(dues)
        elif self._flush_at is not None and self._flush_at <= due:
            return  # a flush comes sooner and re-arms for the rest
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush_at = due
        self._flush_handle = self.loop.call_later(
            max(0.0, due - time.monotonic()), self._start_flush
        )

    def _start_flush(self) -> None:
        self._flush_handle = self._flush_at = None
        self._flushing = True
        self.spawn(self._flush())

    async def _flush(self) -> None:
        now = time.monotonic()
        try:
            for root, paths in list(self._pending.items()):
                due = [p for p, t in paths.items() if t <= now]
                folder = self.folders.get(root)
                for i in range(0, len(due), FLUSH_BATCH):
                    batch = due[i : i + FLUSH_BATCH]
                    if folder is not None:
                        await self.blocking(self._enqueue, folder, batch, "save")
                    for p in batch:  # only once handed over: a failure keeps them pending
                        if paths.get(p, now + 1) <= now:
                            del paths[p]
            for root, t in list(self._git_due.items()):
                if t <= now:
                    folder = self.folders.get(root)
                    if folder is not None:
                        await self.blocking(self._enqueue_git, folder)
                    del self._git_due[root]
        except RuntimeError:
            return  # the io pool shut down: cleanup() flushes what is pending
        finally:
            self._flushing = False
            if not self.closed:
                self._arm_flush()

    def _enqueue(self, folder: Folder, paths: list[str], source: str) -> None:
        try:
            wanted = [p for p in paths if folder.editor_wants(Path(p))]
            if not wanted:
                return
            ws = folder.ws
            report = ws.enqueue_paths(wanted, source=source)
            if report.result.queued:
                log.info(
                    "queued %d file(s) in %s (%s)", len(report.result.queued), folder.root, source
                )
            self.maybe_start(folder, report)
        except CqLspError as exc:
            log.warning("could not queue %d file(s): %s", len(paths), exc)
        except Exception:
            # Not lost: the ledger has them or not; the next save or index run tries again.
            log.exception("queueing %d file(s) in %s failed", len(paths), folder.root)
        finally:
            self.dirty.add(folder.root)

    def _enqueue_git(self, folder: Folder) -> None:
        """HEAD or refs moved (commit, checkout, merge, rebase): reconcile with git's index."""
        try:
            report = folder.ws.enqueue_all(source="git")
            r = report.result
            if r.queued or r.removed:
                log.info(
                    "git changed %s: %d queued, %d removed", folder.root, len(r.queued), r.removed
                )
            self.maybe_start(folder, report)
        except CqLspError as exc:
            log.warning("could not reconcile %s with git: %s", folder.root, exc)
        except Exception:
            log.exception("reconciling %s with git failed", folder.root)
        finally:
            self.dirty.add(folder.root)

    def maybe_start(self, folder: Folder, report: Any) -> None:
        if self.settings.worker.auto_start:
            folder.ensure_worker(report)

    # -- status ---------------------------------------------------------------------------------

    async def status_loop(self) -> None:
        last_full = 0.0
        last_parent_check = 0.0
        while not self.closed:
            now = time.monotonic()
            full = now - last_full >= FULL_REFRESH_S
            if full:
                last_full = now
            # The cheap look (a stat or two and SQLite's data_version, ~40 µs a folder) stays on
            # the loop thread: always the same thread, hence the same connection, which
            # data_version needs; handing an idle tick to another thread would cost more.
            due = self._due_folders(full)
            try:
                updates = (
                    await self.loop.run_in_executor(self.status_thread, self._collect_status, due)
                    if due
                    else []
                )
            except RuntimeError:
                break  # the executor shut down: the server is stopping
            except Exception:
                log.exception("status refresh failed")
                updates = []
            for folder, status in updates:
                if self.folders.get(folder.root) is not folder:
                    continue  # removed meanwhile
                try:
                    self.protocol.notify(STATUS_METHOD, status)
                    self._publish_config_diagnostics(folder, status)
                    if status.get("workerError"):
                        # The user must act: the worker will not be restarted again.
                        self.notify_user(
                            types.MessageType.Error,
                            f"cq-lsp ({folder.root.name}): {status['workerError']}",
                            once=True,
                        )
                except Exception:  # one folder's trouble must not end the loop for all
                    log.exception("reporting the status of %s failed", folder.root)
            if now - last_parent_check >= 1.0:
                last_parent_check = now
                self._check_parent()
            await asyncio.sleep(STATUS_TICK_S)

    def _due_folders(self, full: bool) -> list[Folder]:
        """Folders whose status may have changed (on the loop thread; cheap)."""
        dirty, self.dirty = self.dirty, set()
        due = []
        for folder in list(self.folders.values()):
            try:
                changed = folder.changed_since_last_look()
            except Exception:
                log.exception("looking at %s failed", folder.root)
                changed = True
            fresh = folder.last_sent is None
            if full or changed or fresh or folder.deferred or folder.root in dirty:
                due.append(folder)
        return due

    def _collect_status(self, due: list[Folder]) -> list[tuple[Folder, dict[str, Any]]]:
        out = []
        for folder in due:
            if folder.closed:
                continue
            try:
                update = self._folder_status(folder)
            except Exception:
                log.exception("status of %s failed", folder.root)
                continue
            if update is not None:
                out.append((folder, update))
        return out

    def _folder_status(self, folder: Folder) -> dict[str, Any] | None:
        """The folder's status if it differs from the one last sent (≤ 1 per 250 ms)."""
        if time.monotonic() - folder.last_sent_at < STATUS_MIN_GAP_S:
            # Sent less than 250 ms ago: look again on a later tick, not lose the change.
            folder.deferred = True
            return None
        folder.deferred = False
        try:
            status = folder.status(catch_up=self.settings.worker.auto_start)
        except Exception as exc:  # a broken index must not silence the others
            log.exception("status of %s failed", folder.root)
            status = blank_status(folder.root, "error", f"status failed: {exc}")
        if folder.supervise(
            status,
            auto_start=self.settings.worker.auto_start,
            submit=lambda fn: self._submit(self.io, fn),
        ):
            self.dirty.add(folder.root)  # show the new worker on a later tick
        if self.settings_error:
            status["settingsError"] = self.settings_error
            add_problem(status, "warning")
        view = stable_view(status)
        now = time.monotonic()
        if view != folder.last_sent or now - folder.last_sent_at >= VOLATILE_RESEND_S:
            folder.last_sent, folder.last_sent_at = view, now
            return status
        return None

    def _publish_config_diagnostics(self, folder: Folder, status: dict[str, Any]) -> None:
        """A bad config.json gets a diagnostic at each offending key (cleared once fixed)."""
        error = None
        if status.get("initialized"):
            err = folder.ws.config_error
            if err is not None and str(getattr(err, "source", "")) == str(
                folder.project.config_file
            ):
                error = err
        if error is None and not folder.config_diagnostic_sent:
            return
        uri = from_fs_path(str(folder.project.config_file)) or ""
        diagnostics: list[types.Diagnostic] = []
        if error is not None:
            try:  # never a FIFO or /dev/zero: the status thread must not block on it
                raw = read_regular(folder.project.config_file)
            except CqLspError:
                raw = None
            text = raw.decode("utf-8", "replace") if raw else ""
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
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics)
        )
        folder.config_diagnostic_sent = bool(diagnostics)

    def _check_parent(self) -> None:
        """The editor died without shutting us down: clean up rather than linger."""
        pid = self.process_id
        if not pid or self.closed:
            return
        import psutil

        if not psutil.pid_exists(pid):
            log.warning("the editor (pid %s) is gone; shutting down", pid)
            self.cleanup()
            os._exit(0)

    # -- lifecycle ------------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Queue saves still inside their debounce, then stop the workers this server started
        if nothing waits for them (others finish and exit when idle); idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        # Let running status and queue work finish before touching the databases again.
        self.status_thread.shutdown(wait=True, cancel_futures=True)
        self.io.shutdown(wait=True, cancel_futures=True)
        self.symbols_thread.shutdown(wait=True, cancel_futures=True)
        for root, paths in list(self._pending.items()):
            folder = self.folders.get(root)
            if paths and folder is not None:
                self._enqueue(folder, list(paths), "save")
        self._pending.clear()
        for folder in self.folders.values():
            try:
                folder.stop_if_ours()
            except Exception:
                log.exception("cleanup of %s failed", folder.root)
            folder.close()

    def shutdown(self) -> None:
        self.cleanup()
        super().shutdown()


# ------------------------------------------------------------------------------------------------
# Features


def _fs_path(uri: str) -> Path | None:
    path = to_fs_path(uri)
    return Path(path) if path else None


def create_server() -> CqLanguageServer:
    server = CqLanguageServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: CqLanguageServer, params: types.InitializeParams) -> None:
        ls.apply_settings(params.initialization_options)
        folders = [f.uri for f in params.workspace_folders or []]
        if not folders and params.root_uri:
            folders = [params.root_uri]
        elif not folders and params.root_path:
            folders = [from_fs_path(params.root_path) or ""]
        for uri in folders:
            path = _fs_path(uri)
            if path is not None:
                ls.add_folder(path)
        log.info(
            "settings: trusted=%s showNotifications=%s processing.mode=%s worker.autoStart=%s "
            "config layer keys=%s",
            ls.settings.trusted,
            ls.settings.show_notifications,
            ls.settings.processing.mode or "(config files)",
            ls.settings.worker.auto_start,
            sorted((ls.settings.config or {}).keys()),
        )
        log.info(
            "cq-lsp %s initialized: pid %s, python %s, folders %s",
            __version__,
            os.getpid(),
            sys.executable,
            [str(f) for f in ls.folders],
        )

    @server.feature(types.INITIALIZED)
    async def initialized(ls: CqLanguageServer, params: types.InitializedParams) -> None:
        ls.ready = True
        if ls.settings_error:
            ls.notify_user(types.MessageType.Error, f"cq-lsp: {ls.settings_error}", once=True)
        ls.spawn(register_watchers(ls, list(ls.folders.values()), everything=True))
        if get_capability(ls.client_capabilities, "workspace.configuration", False):
            ls.spawn(pull_configuration(ls))
        ls.spawn(ls.status_loop())
        for folder in list(ls.folders.values()):
            if folder.initialized:
                ls.spawn(catch_up(ls, folder))

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: CqLanguageServer, *args: Any) -> None:
        ls.cleanup()

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: CqLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        path = _fs_path(params.text_document.uri)
        if path is None:
            return
        folder = ls.folder_for_path(path)
        if folder is None or not folder.initialized:
            return
        debounce = folder.ws.config.processing.debounce_ms / 1000.0
        ls.schedule(path, debounce, folder)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: CqLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        # A file opened whose index entry is stale (changed while no editor watched) is queued;
        # an up-to-date one is a no-op in the ledger (same path, same sha).
        path = _fs_path(params.text_document.uri)
        if path is not None:
            ls.schedule(path, 0.0)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def did_change_watched(
        ls: CqLanguageServer, params: types.DidChangeWatchedFilesParams
    ) -> None:
        if len(params.changes) > WATCHED_MAX:
            log.info(
                "%d watched files changed at once: reconciling each folder with git instead",
                len(params.changes),
            )
            for each in list(ls.folders.values()):
                if each.initialized:
                    ls.schedule_git(each)
                    ls.dirty.add(each.root)
            return
        for n, change in enumerate(params.changes):
            if n and n % WATCHED_CHUNK == 0:
                await asyncio.sleep(0)  # let requests waiting behind this message in
            path = _fs_path(change.uri)
            if path is None:
                continue
            git_folder = ls.folder_for_git_path(path)
            if git_folder is not None:
                if git_folder.initialized and moves_head(path, git_folder):
                    ls.schedule_git(git_folder)
                continue
            folder = ls.folder_for_path(path)
            if folder is None or not folder.initialized:
                continue
            try:
                rel_parts = path.relative_to(folder.root).parts
            except ValueError:
                rel_parts = ()
            if rel_parts[:1] == (".git",):
                continue  # objects, logs, locks: nothing to document
            if rel_parts[:1] == (".code-query",):
                ls.dirty.add(folder.root)
                continue
            debounce = folder.ws.config.processing.debounce_ms / 1000.0
            ls.schedule(path, debounce, folder)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: CqLanguageServer, params: types.DidChangeConfigurationParams
    ) -> None:
        settings = params.settings
        if isinstance(settings, dict) and "cq" in settings:
            ls.apply_settings(merge_section(ls.settings_raw, settings["cq"]))
        elif get_capability(ls.client_capabilities, "workspace.configuration", False):
            await pull_configuration(ls)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_folders(
        ls: CqLanguageServer, params: types.DidChangeWorkspaceFoldersParams
    ) -> None:
        for f in params.event.removed:
            path = _fs_path(f.uri)
            if path is not None:
                ls.remove_folder(path)
        for f in params.event.added:
            path = _fs_path(f.uri)
            if path is not None:
                folder = ls.add_folder(path)
                ls.spawn(register_watchers(ls, [folder], everything=False))
                if folder.initialized:
                    ls.spawn(catch_up(ls, folder))

    @server.feature(types.WORKSPACE_SYMBOL)
    async def workspace_symbol(
        ls: CqLanguageServer, params: types.WorkspaceSymbolParams
    ) -> list[types.SymbolInformation]:
        return await ls.loop.run_in_executor(
            ls.symbols_thread, _workspace_symbols, ls, params.query
        )

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: CqLanguageServer, params: types.HoverParams) -> types.Hover | None:
        path = _fs_path(params.text_document.uri)
        if path is None:
            return None
        folder = ls.folder_for_path(path)
        if folder is None or not folder.initialized:
            return None
        doc = ls.workspace.get_text_document(params.text_document.uri)
        try:
            line = doc.lines[params.position.line]
        except IndexError:
            return None
        name = word_at(line, params.position.character)
        if not name:
            return None
        text = await ls.loop.run_in_executor(ls.symbols_thread, _hover_text, ls, folder, path, name)
        if not text:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))

    for command in COMMANDS.values():
        server.command(command.name)(command_handler(command))

    return server


def _workspace_symbols(ls: CqLanguageServer, query: str) -> list[types.SymbolInformation]:
    kinds = {
        "function": types.SymbolKind.Function,
        "method": types.SymbolKind.Method,
        "class": types.SymbolKind.Class,
        "interface": types.SymbolKind.Interface,
        "struct": types.SymbolKind.Struct,
        "enum": types.SymbolKind.Enum,
        "trait": types.SymbolKind.Interface,
        "type": types.SymbolKind.TypeParameter,
    }
    out: list[types.SymbolInformation] = []
    for folder in list(ls.folders.values()):
        if not folder.initialized:
            continue
        table = _table(ls, folder)
        found = table.search(query, limit=200)
        # A symbol from documentation older than its file may have moved: the editor shows it
        # with "(stale)" after its container, as the CLI marks stale hits.
        stale = set(freshness.annotate(folder.ws, [{"path": s.path} for s in found]))
        for s in found:
            line = max(0, s.line - 1)
            uri = from_fs_path(str(folder.root / s.path)) or ""
            out.append(
                types.SymbolInformation(
                    name=s.name,
                    kind=kinds.get(s.kind, types.SymbolKind.Variable),
                    location=types.Location(
                        uri=uri,
                        range=types.Range(types.Position(line, 0), types.Position(line, 0)),
                    ),
                    container_name=(s.container or s.path)
                    + (" (stale)" if s.path in stale else ""),
                )
            )
    return out


def _table(ls: CqLanguageServer, folder: Folder) -> SymbolTable:
    table = ls.symbol_tables.get(folder.root)
    if table is None or table.db is not folder.ws.db:
        table = SymbolTable(folder.ws.db)
        ls.symbol_tables[folder.root] = table
    return table


def _hover_text(ls: CqLanguageServer, folder: Folder, path: Path, name: str) -> str | None:
    try:
        rel = folder.ws.guard.to_rel(path)
    except CqLspError:
        rel = None
    ws = folder.ws
    return hover_markdown(
        _table(ls, folder), name, rel, stale=lambda p: bool(freshness.annotate(ws, [{"path": p}]))
    )
