"""The command line's side of the shared commands: one work tree, the current directory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from cq_lsp.commands.arguments import StatusArgs
from cq_lsp.core import autostart, supervisor
from cq_lsp.core.status import build_status
from cq_lsp.core.workspace import EnqueueReport, Workspace
from cq_lsp.worktree.project import open_project


class CliSession:
    source = "cli"

    def __init__(self, root: str | None) -> None:
        self.root = root
        self.base: Path | None = Path.cwd()
        self._ws: Workspace | None = None

    def workspace(self, root: str | None = None) -> Workspace:
        if self._ws is None:
            self._ws = open_workspace(root or self.root)
        return self._ws

    def work_tree(self, root: str | None) -> Path:
        return open_project(root or self.root).root

    def initialized(self, root: Path) -> None:
        pass

    def statuses(self, args: StatusArgs) -> list[dict[str, Any]]:
        return [build_status(self.workspace(args.root))]

    def queued(self, ws: Workspace, report: EnqueueReport | None) -> str | None:
        return autostart.ensure_worker(ws, report)

    def start_worker(self, ws: Workspace) -> dict[str, Any]:
        return supervisor.start_worker(ws.project)

    def stop_worker(self, ws: Workspace) -> dict[str, Any]:
        return supervisor.stop_worker(ws.project)

    def worker_restarts(self, ws: Workspace) -> int:
        return 0  # no watchdog outside the language server


def open_workspace(root: str | None, *, require_init: bool = True) -> Workspace:
    """The work tree's Workspace; a corrupt index.db that was rebuilt is said and re-queued."""
    project = open_project(root)
    if require_init:
        project.require_initialized()
    ws = Workspace(project)
    if require_init and ws.db.rebuilt_from is not None:
        sys.stderr.write(
            f"cq-lsp: warning: {project.index_db} was corrupt; it was moved to "
            f"{ws.db.rebuilt_from.name} and rebuilt. Re-documenting every file.\n"
        )
        autostart.ensure_worker(ws, ws.enqueue_all(source="rebuild"))
    return ws
