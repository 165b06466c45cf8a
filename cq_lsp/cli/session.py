"""The command line's side of the shared commands: one work tree, the current directory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from cq_lsp.commands.arguments import StatusArgs
from cq_lsp.commands.table import CoreSession
from cq_lsp.core import autostart
from cq_lsp.core.status import build_status
from cq_lsp.core.workspace import Workspace
from cq_lsp.worktree.project import open_project


class CliSession(CoreSession):
    source = "cli"

    def __init__(self, root: str | None, ws: Workspace | None = None) -> None:
        """``ws``: the workspace the command already opened (else opened on first use)."""
        self.root = root
        self.base: Path | None = Path.cwd()
        self._ws = ws

    def workspace(self, root: str | None = None) -> Workspace:
        if self._ws is None:
            self._ws = open_workspace(root or self.root)
        return self._ws

    def work_tree(self, root: str | None) -> Path:
        return open_project(root or self.root).root

    def statuses(self, args: StatusArgs) -> list[dict[str, Any]]:
        return [build_status(self.workspace(args.root))]


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
