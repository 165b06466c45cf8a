"""Where configuration files live and how one is read: the repository file, the user file."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cq_lsp.config.schema import show_value
from cq_lsp.errors import ConfigError

CONFIG_DIR_NAME = ".code-query"
CONFIG_FILE_NAME = "config.json"
# Tests and sandboxes point this at a temporary dir so they never read the real user's config.
CONFIG_HOME_ENV = "CQ_LSP_CONFIG_HOME"
GITIGNORE_TEXT = "*\n!config.json\n!.gitignore\n"


def repo_config_path(root: Path) -> Path:
    """``<root>/.code-query/config.json``."""
    return Path(root) / CONFIG_DIR_NAME / CONFIG_FILE_NAME


def user_config_path(env: Mapping[str, str] | None = None) -> Path:
    """The user file: ``$CQ_LSP_CONFIG_HOME/config.json`` or the platform's user config dir."""
    environ = os.environ if env is None else env
    override = environ.get(CONFIG_HOME_ENV)
    if override:
        return Path(override) / CONFIG_FILE_NAME
    import platformdirs  # ~10 ms; only paid when a config is actually loaded

    return Path(platformdirs.user_config_dir("cq-lsp")) / CONFIG_FILE_NAME


def read_config_file(path: Path) -> tuple[dict[str, Any] | None, bytes | None]:
    """Parse a config file; ``(None, None)`` when it does not exist.

    The bytes are returned as read, so the trust hash is of exactly what was parsed.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", source=str(path)) from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte {exc.start})",
            hint="save it as UTF-8",
            source=str(path),
        ) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            problems=[f"line {exc.lineno}, column {exc.colno}: {exc.msg}"],
            hint="fix the syntax (JSON allows no comments and no trailing commas)",
            source=str(path),
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path} must hold a JSON object",
            problems=[f"(top level): must be an object ({{...}}), got {show_value(data)}"],
            source=str(path),
        )
    return data, raw
