"""Where things live: the work-tree root and the files under ``.code-query/``."""

from __future__ import annotations

import os
from pathlib import Path

from cq_lsp.errors import NotAWorkTreeError, NotInitializedError

STATE_DIRNAME = ".code-query"


def find_work_tree(start: Path | str | None = None) -> Path:
    """The root of the git work tree containing ``start`` (default: the current directory).

    Walks up looking for ``.git`` (a directory, or a file in linked worktrees and submodules)
    instead of running git, because every CLI call pays this and ``search`` has a 150 ms budget.
    """
    here = Path(start if start is not None else os.getcwd()).resolve()
    if here.is_file():
        here = here.parent
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    raise NotAWorkTreeError(
        f"{here} is not inside a git work tree",
        hint="run cq-lsp inside a git repository, pass --root DIR, or run `git init` first",
    )


class Project:
    """One work tree and its ``.code-query/`` state directory.

    A plain class rather than attrs: ``cq-lsp search`` imports this, and attrs costs ~20 ms.
    """

    __slots__ = ("root",)

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"Project({str(self.root)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Project) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIRNAME

    @property
    def config_file(self) -> Path:
        return self.state_dir / "config.json"

    @property
    def index_db(self) -> Path:
        return self.state_dir / "index.db"

    @property
    def queue_db(self) -> Path:
        return self.state_dir / "queue.db"

    @property
    def worker_json(self) -> Path:
        return self.state_dir / "worker.json"

    @property
    def worker_lock(self) -> Path:
        return self.state_dir / "worker.lock"

    @property
    def heartbeat_file(self) -> Path:
        return self.state_dir / "worker.heartbeat"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def worker_log(self) -> Path:
        return self.logs_dir / "worker.log"

    @property
    def hooks_log(self) -> Path:
        return self.logs_dir / "hooks.log"

    @property
    def initialized(self) -> bool:
        return self.state_dir.is_dir()

    def require_initialized(self) -> None:
        if not self.initialized:
            raise NotInitializedError(
                f"{self.root} has no {STATE_DIRNAME}/ yet",
                hint=f"run `cq-lsp init` in {self.root}",
            )

    def ensure_state_dir(self) -> None:
        """Create ``.code-query/`` and its ``.gitignore`` (only config.json is committed)."""
        self.state_dir.mkdir(exist_ok=True)
        self.logs_dir.mkdir(exist_ok=True)
        gitignore = self.state_dir / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text(
                "# cq-lsp state: only config.json is meant to be committed.\n"
                "*\n!config.json\n!.gitignore\n",
                encoding="utf-8",
            )


def open_project(root: Path | str | None = None) -> Project:
    """The project for ``--root`` or the work tree around the current directory."""
    if root is not None:
        path = Path(root).expanduser()
        if not path.is_dir():
            raise NotAWorkTreeError(
                f"--root {root}: no such directory", hint="pass the path of a git work tree"
            )
        return Project(find_work_tree(path))
    return Project(find_work_tree())
