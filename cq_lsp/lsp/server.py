"""The language server: the folder registry, the editor's settings, the event loop's helpers, the
lifecycle and the protocol handlers, each a thin call. A face over the core (cq_lsp.core).

What each concern does lives in its own module: debounce.py (saves and git changes settle before
they are queued), status_loop.py (cq/status, config diagnostics, the editor's liveness),
symbols.py (workspace/symbol, hover), watchers.py (file and git watchers), progress.py ($/progress,
catch-up), session.py (the cq.* commands).

Threading: handlers are coroutines on pygls' event loop; anything that blocks (SQLite, git,
psutil, reading files) runs in an executor, and every message to the client is sent from the
loop, because pygls' writer has no lock. Status and supervision run on one dedicated thread.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
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
from cq_lsp.errors import UsageError
from cq_lsp.lsp.debounce import Debouncer
from cq_lsp.lsp.folders import Folder
from cq_lsp.lsp.progress import catch_up
from cq_lsp.lsp.protocol import CqProtocol
from cq_lsp.lsp.session import command_handler
from cq_lsp.lsp.settings import EditorSettings, merge_section, parse_settings
from cq_lsp.lsp.status_loop import DirtyRoots, status_loop
from cq_lsp.lsp.symbols import EditorSymbols
from cq_lsp.lsp.watchers import pull_configuration, register_watchers, watched_files_changed

log = logging.getLogger(__name__)
T = TypeVar("T")

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
        self.symbols = EditorSymbols()
        self.debouncer = Debouncer(
            on_saves=self._queue_saved, on_git=self._reconcile_with_git, spawn=self.spawn
        )
        self._tasks: set[asyncio.Future[Any]] = set()
        #: folders whose status the next tick must look at
        self.dirty = DirtyRoots()
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
                self.symbols.forget(root)
                self.debouncer.forget(root)

                def retire(folder: Folder = folder) -> None:
                    try:
                        folder.stop_if_ours()
                    except Exception:
                        log.exception("stopping the worker of %s failed", folder.root)
                    folder.close()

                _submit(self.status_thread, retire)

    def in_background(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the io pool, not waiting for it (nothing once the server stops)."""
        _submit(self.io, fn)

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
                self.in_background(folder.restart_for_settings)
        if error and self.ready:
            self.notify_user(types.MessageType.Error, f"cq-lsp: {error}", once=True)

    # -- queueing -------------------------------------------------------------------------------

    def schedule(self, path: Path, delay_s: float, folder: Folder | None = None) -> None:
        """Queue ``path`` after ``delay_s``; another event for it within the delay restarts it.

        ``folder``: the folder of ``path`` when the caller has looked it up already."""
        folder = folder or self.folder_for_path(path)
        if folder is None or not folder.initialized:
            return
        self.debouncer.add(folder.root, path, delay_s)

    def schedule_git(self, folder: Folder) -> None:
        self.debouncer.add_git_change(folder.root)

    async def _queue_saved(self, root: Path, paths: list[str]) -> None:
        folder = self.folders.get(root)
        if folder is None:
            return  # removed meanwhile
        auto_start = self.settings.worker.auto_start
        try:
            await self.blocking(functools.partial(folder.queue_saved, paths, auto_start=auto_start))
        finally:
            self.dirty.add(root)

    async def _reconcile_with_git(self, root: Path) -> None:
        folder = self.folders.get(root)
        if folder is None:
            return
        auto_start = self.settings.worker.auto_start
        try:
            await self.blocking(functools.partial(folder.reconcile_with_git, auto_start=auto_start))
        finally:
            self.dirty.add(root)

    def maybe_start(self, folder: Folder, report: Any) -> None:
        if self.settings.worker.auto_start:
            folder.ensure_worker(report)

    # -- lifecycle ------------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Queue saves still inside their debounce, then stop the workers this server started
        if nothing waits for them (others finish and exit when idle); idempotent."""
        if self.closed:
            return
        self.closed = True
        # Let running status and queue work finish before touching the databases again.
        self.status_thread.shutdown(wait=True, cancel_futures=True)
        self.io.shutdown(wait=True, cancel_futures=True)
        self.symbols.shutdown()
        auto_start = self.settings.worker.auto_start
        for root, paths in self.debouncer.close().items():
            folder = self.folders.get(root)
            if folder is not None:
                folder.queue_saved(paths, auto_start=auto_start)
        for folder in self.folders.values():
            try:
                folder.stop_if_ours()
            except Exception:
                log.exception("cleanup of %s failed", folder.root)
            folder.close()

    def shutdown(self) -> None:
        self.cleanup()
        super().shutdown()


def _submit(executor: ThreadPoolExecutor, fn: Callable[[], Any]) -> None:
    try:
        executor.submit(fn)
    except RuntimeError:  # shut down: the server is stopping
        pass


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
        ls.spawn(status_loop(ls))
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
        ls.schedule(path, folder.debounce_s(), folder)

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
        await watched_files_changed(ls, params.changes)

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
        return await ls.symbols.workspace_symbols(list(ls.folders.values()), params.query)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: CqLanguageServer, params: types.HoverParams) -> types.Hover | None:
        path = _fs_path(params.text_document.uri)
        folder = ls.folder_for_path(path) if path is not None else None
        if path is None or folder is None or not folder.initialized:
            return None
        doc = ls.workspace.get_text_document(params.text_document.uri)
        return await ls.symbols.hover(folder, path, doc.lines, params.position)

    for command in COMMANDS.values():
        server.command(command.name)(command_handler(command))

    return server
