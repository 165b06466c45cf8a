"""What the server asks the client to watch (the work tree, git's HEAD and refs), what it does
when those change, and what it pulls from the client (the ``cq`` configuration section)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.uris import to_fs_path

from cq_lsp.lsp.folders import Folder
from cq_lsp.lsp.settings import merge_section

if TYPE_CHECKING:
    # Type only: the server imports this module to register its features.
    from cq_lsp.lsp.server import CqLanguageServer

log = logging.getLogger(__name__)

# Work per message on the event loop is bounded so a flood never starves requests: a
# watched-files notification yields to other messages every this many changes ...
WATCHED_CHUNK = 500
# ... and one with more changes than this is taken for what it is (a checkout, a generator, a
# mass rewrite): each folder is reconciled with git once instead of queueing file by file.
WATCHED_MAX = 5000


def moves_head(path: Path, folder: Folder) -> bool:
    """A change to HEAD, ORIG_HEAD, a ref or git's index: a commit, checkout, merge or rebase."""
    git_dir, common = folder.git_dirs()
    for base in (git_dir, common):
        try:
            parts = path.relative_to(base).parts
        except ValueError:
            continue
        if parts[:1] in (("HEAD",), ("ORIG_HEAD",), ("refs",), ("index",), ("packed-refs",)):
            return True
    return False


async def register_watchers(
    ls: CqLanguageServer, folders: list[Folder], *, everything: bool
) -> None:
    """Watch files changed outside the editor, and each folder's git HEAD and refs (commits,
    checkouts, merges, rebases) wherever its git dir lives (linked worktrees too)."""
    caps = ls.client_capabilities
    if not get_capability(caps, "workspace.did_change_watched_files.dynamic_registration", False):
        log.info("the client cannot watch files for us; saves and commands still queue work")
        return
    watchers = [types.FileSystemWatcher(glob_pattern="**/*")] if everything else []
    for folder in folders:
        if folder.git_error is not None:
            continue
        git_dir, common = folder.git_dirs()
        globs = {f"{git_dir.as_posix()}/{name}" for name in ("HEAD", "ORIG_HEAD", "index")}
        globs |= {f"{common.as_posix()}/refs/**", f"{common.as_posix()}/packed-refs"}
        watchers.extend(types.FileSystemWatcher(glob_pattern=g) for g in sorted(globs))
    if not watchers:
        return
    registrations = [
        types.Registration(
            id=f"cq-watch-{uuid.uuid4().hex[:8]}",
            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers),
        )
    ]
    if everything and get_capability(
        caps, "workspace.did_change_configuration.dynamic_registration", False
    ):
        registrations.append(
            types.Registration(
                id=f"cq-config-{uuid.uuid4().hex[:8]}",
                method=types.WORKSPACE_DID_CHANGE_CONFIGURATION,
            )
        )
    try:
        await ls.client_register_capability_async(types.RegistrationParams(registrations))
    except Exception as exc:
        log.info("the client did not accept file watchers (%s); saves still queue work", exc)


async def pull_configuration(ls: CqLanguageServer) -> None:
    try:
        result = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="cq")])
        )
    except Exception as exc:
        log.info("workspace/configuration failed: %s", exc)
        return
    section = result[0] if result else None
    if isinstance(section, dict) and section:
        ls.apply_settings(merge_section(ls.settings_raw, section))


async def watched_files_changed(ls: CqLanguageServer, changes: Sequence[types.FileEvent]) -> None:
    """Files changed outside the editor are queued after their debounce; a move of git's HEAD or
    refs reconciles the folder with git; a change in .code-query/ refreshes its status."""
    if len(changes) > WATCHED_MAX:
        log.info(
            "%d watched files changed at once: reconciling each folder with git instead",
            len(changes),
        )
        for each in list(ls.folders.values()):
            if each.initialized:
                ls.schedule_git(each)
                ls.dirty.add(each.root)
        return
    for n, change in enumerate(changes):
        if n and n % WATCHED_CHUNK == 0:
            await asyncio.sleep(0)  # let requests waiting behind this message in
        raw = to_fs_path(change.uri)
        if not raw:
            continue
        path = Path(raw)
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
        ls.schedule(path, folder.debounce_s(), folder)
