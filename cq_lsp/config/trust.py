"""Trust for a repository's ``processor.command``: direnv's ``allow`` model.

A repository's ``.code-query/config.json`` is written by whoever committed it, so a command in it is
honoured only after the user recorded the exact bytes of that file (their sha256) in the user's
data dir, or the editor reported the workspace as trusted. Editing the file changes the hash, so an
edited file has to be trusted again.

Trust is keyed by (this repository's root, that exact content): the key is the root's real path
joined with ``.code-query/config.json`` — never the target of a symlink — and a config.json that is
a symlink (or lies in a symlinked ``.code-query/``) is never trusted, so repository B cannot borrow
trusted repository A's file by linking to it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from cq_lsp.atomic import write_json_atomic
from cq_lsp.config.files import read_repo_config
from cq_lsp.errors import ConfigError, NotInitializedError

TRUST_FILE_NAME = "trusted.json"
# Tests and sandboxes point this at a temporary dir so they never touch the real user's data dir.
DATA_HOME_ENV = "CQ_LSP_DATA_HOME"


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The user's cq-lsp data dir (``$CQ_LSP_DATA_HOME`` or the platform's user data dir)."""
    environ = os.environ if env is None else env
    override = environ.get(DATA_HOME_ENV)
    if override:
        return Path(override)
    # Imported here: platformdirs costs ~10 ms and git hooks rarely need it.
    import platformdirs

    return Path(platformdirs.user_data_dir("cq-lsp"))


def trust_store_path(env: Mapping[str, str] | None = None) -> Path:
    """Where trusted config hashes are recorded."""
    return data_dir(env) / TRUST_FILE_NAME


def file_sha256(data: bytes) -> str:
    """The hex sha256 of ``data``: the identity of a config file's exact content."""
    import hashlib  # lazily, like datetime below: this module is on the git-hook import path

    return hashlib.sha256(data).hexdigest()


def _config_key(root: Path) -> str:
    # The root is resolved (one entry however the tree is named), the file is not: following a
    # symlinked config.json would key B's trust by A's file.
    return os.path.join(os.path.realpath(root), ".code-query", "config.json")


def _read_store(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the trust store {path}: {exc}",
            hint="fix or delete that file, then trust the repositories again",
            source=str(path),
        ) from exc
    configs = data.get("configs") if isinstance(data, dict) else None
    if not isinstance(configs, dict):
        return {}
    return {k: v for k, v in configs.items() if isinstance(v, dict)}


def is_trusted(root: Path, file_hash: str | None, *, env: Mapping[str, str] | None = None) -> bool:
    """Whether the repository config of ``root`` with content hash ``file_hash`` was trusted."""
    if not file_hash:
        return False
    try:
        store = _read_store(trust_store_path(env))
    except ConfigError:
        # An unreadable store trusts nothing; the server must not crash over it.
        return False
    entry = store.get(_config_key(root))
    return entry is not None and entry.get("sha256") == file_hash


def trust_repo_config(root: Path, *, env: Mapping[str, str] | None = None) -> str:
    """Record the current bytes of ``<root>/.code-query/config.json`` as trusted; return the hash.

    Trust is per exact content: any later edit of the file needs trusting again.
    """
    config_path = Path(root) / ".code-query" / "config.json"
    _, data, own_file = read_repo_config(Path(root))
    if data is None:
        raise NotInitializedError(
            f"{config_path} does not exist, so there is nothing to trust",
            hint="run `cq-lsp init` first",
        )
    if not own_file:
        raise ConfigError(
            f"{config_path} is a symlink (or lies in a symlinked .code-query/), so it cannot be "
            "trusted",
            hint="trust is for a repository's own file: replace the symlink with a copy of the "
            "file, review it, then run `cq-lsp config trust`",
            source=str(config_path),
        )
    from datetime import datetime, timezone

    digest = file_sha256(data)
    store_path = trust_store_path(env)
    store = _read_store(store_path)
    store[_config_key(root)] = {
        "sha256": digest,
        "trusted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    store_path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(store_path, {"version": 1, "configs": store})
    return digest


def symlinked_reason(root: Path) -> str:
    """The message shown when a command comes from a config.json that is not the repository's
    own file."""
    return (
        f"{root}/.code-query/config.json is a symlink (or lies in a symlinked .code-query/) and "
        "sets processor.command; a command is honoured only from a repository's own file: "
        "replace the symlink with a copy, review it, then run `cq-lsp config trust`"
    )


def untrusted_reason(root: Path) -> str:
    """The message shown when a repository's command is ignored: what happened and how to trust."""
    return (
        "the repository's .code-query/config.json sets processor.command, which runs a program; "
        f"run `cq-lsp config trust` in {root} to allow this exact file (an edited file needs "
        "trusting again), or trust the workspace in your editor"
    )
