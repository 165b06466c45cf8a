"""Choosing the documenter for a configuration: static, command, or command with static fallback.

The choice also carries trust (docs/architecture.md "Trust"): a command that comes from an untrusted
repository config is never run; the job fails with the message that says how to trust it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from cq_lsp.documenters.base import DocumentContext, Documenter, DocumenterError
from cq_lsp.documenters.records import FileRecord

if TYPE_CHECKING:
    from cq_lsp.config.load import LoadedConfig
    from cq_lsp.config.schema import Config

# The grammar packages whose versions change what the static documenter extracts.
_GRAMMARS = (
    "tree-sitter",
    "tree-sitter-python",
    "tree-sitter-javascript",
    "tree-sitter-typescript",
    "tree-sitter-go",
    "tree-sitter-rust",
    "tree-sitter-java",
)

# How much of the failure reason the fallback record's ``processor`` field repeats.
REASON_IN_PROCESSOR = 120


class UntrustedCommand(DocumenterError):
    """processor.command comes from a repository config that was not trusted: never run it."""

    retryable = False
    fallback = False


@attrs.frozen
class Selection:
    """What documents a file under one configuration."""

    documenter: Documenter
    #: stands in when the command fails for good (``processor.fallback = "static"``).
    fallback: Documenter | None = None
    #: set when the command must not run; the job fails with this (one line, says how to trust).
    refusal: str | None = None

    @property
    def uses_llm(self) -> bool:
        return self.documenter.name == "command"


def selection_key(loaded: LoadedConfig) -> tuple[object, ...]:
    """Everything the selection depends on: a new key means a new ``Selection``."""
    cfg = loaded.config
    return (cfg.processor, loaded.command_trusted, loaded.untrusted_reason)


def select_documenter(loaded: LoadedConfig, *, slots_dir: Path | None = None) -> Selection:
    """The documenter(s) for ``loaded``. ``slots_dir`` holds the concurrency slot files."""
    # Imported on first use: the static documenter loads tree-sitter and its grammars (tens of
    # ms), which a process that only checks the configuration must not pay.
    from cq_lsp.documenters.static import StaticDocumenter

    processor = loaded.config.processor
    static = StaticDocumenter()
    if processor.kind != "command":
        return Selection(documenter=static)
    if not loaded.command_trusted:
        reason = loaded.untrusted_reason or "processor.command is not trusted"
        return Selection(documenter=static, refusal=f"not run: {reason}")
    from cq_lsp.documenters.command import CommandDocumenter
    from cq_lsp.documenters.slots import SlotLimiter

    assert processor.command  # the config's cross-field check requires it with kind "command"
    command = CommandDocumenter(
        processor.command,
        timeout_s=processor.timeout_s,
        env_names=processor.env,
        limiter=SlotLimiter(slots_dir, processor.concurrency) if slots_dir is not None else None,
    )
    fallback = static if processor.fallback == "static" else None
    return Selection(documenter=command, fallback=fallback)


def fallback_record(
    static: Documenter,
    path: str,
    content: str,
    language: str,
    context: DocumentContext,
    reason: str,
) -> FileRecord:
    """The static record standing in for a failed LLM one, marked so a reader knows why."""
    record = static.document(path, content, language, context)
    limit = REASON_IN_PROCESSOR
    short = reason if len(reason) <= limit else reason[: limit - 1] + "…"
    record.processor = f"static (fallback: {short})"
    record.other_notes = [
        f"documented by the static documenter because the LLM command failed: {reason}",
        *record.other_notes,
    ]
    return record


def _package_versions(names: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def documenter_fingerprint(config: Config) -> str:
    """What the documentation key (cq_lsp/store/cache.py) says about the documenter: everything
    that changes its output and nothing else. A new model, prompt, command, cq-lsp or grammar
    version is a new fingerprint; the batch size or the worker's threads are not.

    The static record also depends on the file's path (its name, the "test file" note): the
    static documenter's keys include the path (see ``path_in_key``); an LLM's do not, so a
    renamed file is not paid for twice.
    """
    from cq_lsp import __version__
    from cq_lsp.documenters.prompt import build_prompt
    from cq_lsp.documenters.static import STATIC_VERSION

    processor = config.processor
    parts: dict[str, Any]
    if processor.kind == "command":
        parts = {
            "kind": "command",
            "command": list(processor.command or ()),
            "model": config.model,
            # The prompt for an empty file is the prompt's text with nothing of the file's.
            "prompt": hashlib.sha256(build_prompt("", "", "").encode()).hexdigest(),
        }
    else:
        parts = {
            "kind": "static",
            "version": STATIC_VERSION,
            "cq_lsp": __version__,
            "grammars": _package_versions(_GRAMMARS),
        }
    return json.dumps(parts, sort_keys=True, separators=(",", ":"))


def path_in_key(config: Config) -> bool:
    """Whether a record depends on the file's path beyond its language (see above)."""
    return config.processor.kind != "command"
