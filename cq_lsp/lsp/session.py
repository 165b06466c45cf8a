"""The shared commands (cq.*) in the language server: each runs from the one command table
through an ``EditorSession`` — the folder it is for, and what the editor adds (the user stopped
the worker; the watchdog's crash count; progress while an index runs)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from pygls.exceptions import JsonRpcException

from cq_lsp.commands.arguments import IndexArgs, StatusArgs, describe, main_field, parse
from cq_lsp.commands.results import Followed, IndexResult, Statuses, from_json, to_json
from cq_lsp.commands.table import Command
from cq_lsp.core.supervisor import stop_worker
from cq_lsp.core.workspace import EnqueueReport, Workspace
from cq_lsp.errors import CqLspError, UsageError
from cq_lsp.lsp.folders import Folder
from cq_lsp.lsp.progress import follow_progress

if TYPE_CHECKING:
    # Type only: the server imports this module to register its features.
    from cq_lsp.lsp.server import CqLanguageServer


# JSON-RPC codes live at the protocol faces only; an error says what it means (``bad_request``).
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


def rpc_error(exc: CqLspError) -> JsonRpcException:
    message = str(exc.message) + (f" — {exc.hint}" if exc.hint else "")
    code = INVALID_PARAMS if exc.bad_request else INTERNAL_ERROR
    return JsonRpcException(code=code, message=message, data=exc.to_dict())


def command_handler(command: Command) -> Callable[..., Any]:
    # pygls resolves handler annotations at run time: `ls` is recognised by its name instead.
    async def handler(ls: Any, *arguments: Any) -> Any:
        try:
            raw = _one_argument(command, arguments)
            args: Any = parse(command.name, command.args, raw)
            folder = ls.folder_for_args(attrs.asdict(args))
            session = EditorSession(ls, folder)
            result = await ls.blocking(command.run, session, args)
            ls.dirty.add(folder.root)
            if command.name == "cq.index":
                await follow_index(ls, folder, args, result)
            answer = to_json(result)
            if not isinstance(result, Statuses):
                answer.setdefault("root", str(folder.root))  # which folder answered
            return answer
        except CqLspError as exc:
            raise rpc_error(exc) from exc

    handler.__name__ = command.name.replace(".", "_")
    return handler


def _one_argument(command: Command, arguments: tuple[Any, ...]) -> Any:
    """Commands take one argument; several strings are the paths of the path commands."""
    if len(arguments) > 1 and all(isinstance(x, str) for x in arguments):
        main = main_field(command.args)
        if main is not None and main.metadata["check"] == "texts":
            return {main.name: list(arguments)}
    if len(arguments) > 1:
        raise UsageError(
            f"{command.name}: too many arguments ({len(arguments)})", hint=describe(command.args)
        )
    return arguments[0] if arguments else None


class EditorSession:
    """The language server's side of the shared commands, for one workspace folder."""

    source = "editor"
    base = None

    def __init__(self, ls: CqLanguageServer, folder: Folder) -> None:
        self.ls = ls
        self.folder = folder

    def workspace(self, root: str | None) -> Workspace:
        return self.folder.ws

    def work_tree(self, root: str | None) -> Path:
        return self.folder.root

    def initialized(self, root: Path) -> None:
        self.folder.configure(self.ls.settings.editor_layer(), self.ls.settings.trusted)

    def statuses(self, args: StatusArgs) -> list[dict[str, Any]]:
        folders = list(self.ls.folders.values()) if args.all else [self.folder]
        return [f.status() for f in folders]

    def queued(self, ws: Workspace, report: EnqueueReport | None) -> str | None:
        # An explicit request to document: a stop by the user no longer holds the worker off.
        self.folder.user_stopped = False
        self.ls.maybe_start(self.folder, report)
        return None

    def start_worker(self, ws: Workspace) -> dict[str, Any]:
        self.folder.watchdog.reset()  # the user asked: forget earlier crashes
        return self.folder.start_worker()

    def stop_worker(self, ws: Workspace) -> dict[str, Any]:
        # Respected: nothing here starts it again until the user starts it, indexes or queues
        # files (a git hook in another process still may, in auto mode).
        self.folder.user_stopped = True
        return stop_worker(self.folder.project)

    def worker_restarts(self, ws: Workspace) -> int:
        return self.folder.watchdog.restarts


async def follow_index(
    ls: CqLanguageServer, folder: Folder, args: IndexArgs, result: IndexResult
) -> None:
    """After cq.index: work-done progress until the queue drains (awaited with ``wait``).

    Work queued earlier is followed too (by a hook, a save, a crashed worker), as `index --wait`.
    """

    def waiting() -> list[str]:
        return [j["path"] for j in folder.ws.ledger.jobs(states=["queued", "running"])]

    queued = await ls.blocking(waiting)
    if queued:
        follow = follow_progress(ls, folder, queued, "cq-lsp: documenting")
        if args.wait:
            result.wait = from_json(Followed, await follow)
        else:
            ls.spawn(follow)
