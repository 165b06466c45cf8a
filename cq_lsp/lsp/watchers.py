"""What the server asks the client to watch (the work tree, git's HEAD and refs) and pulls from
it (the ``cq`` configuration section)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.capabilities import get_capability

from cq_lsp.lsp.folders import Folder
from cq_lsp.lsp.settings import merge_section

if TYPE_CHECKING:
    # Type only: the server imports this module to register its features.
    from cq_lsp.lsp.server import CqLanguageServer

log = logging.getLogger(__name__)


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
