"""The agent as documenter: documentation an agent writes, checked and recorded like a job's.

An agent's fields are validated by the same code as an LLM command's answer
(:func:`cq_lsp.documenters.answer.to_record`), the file is read through the path guard (so a
path the guard refuses is refused here too), and the record is stored against the sha of the
content just read, with processor ``agent``. When the file changes later, the next job for it
supersedes the agent's record like any other.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from cq_lsp.documenters.answer import AnswerError, to_record
from cq_lsp.documenters.languages import detect_language
from cq_lsp.documenters.records import RECORD_FIELDS
from cq_lsp.errors import CqLspError, UsageError
from cq_lsp.store.documentation import get_record
from cq_lsp.store.external import commit_external
from cq_lsp.worktree.git import head_commit

if TYPE_CHECKING:
    from cq_lsp.core.workspace import Workspace

PROCESSOR = "agent"

# The record's fields as tool arguments (code-query's names and shapes).
RECORD_PROPERTIES: dict[str, dict[str, Any]] = {
    "overview": {
        "type": "string",
        "minLength": 1,
        "description": "What the file is for, in two to five sentences: its role, main "
        "entry points and anything surprising. Search ranks this field highly.",
    },
    "functions": {
        "type": "object",
        "description": 'Top-level functions: {"name": {"signature": "...", "doc": "what it '
        'does", "line": 12}}.',
    },
    "types_interfaces_classes": {
        "type": "object",
        "description": 'Classes, types, interfaces: {"Name": {"kind": "class", "doc": "...", '
        '"line": 3, "methods": {"name": {"signature": "...", "doc": "...", "line": 5}}}}.',
    },
    "exports": {
        "type": "object",
        "description": 'Public names: {"name": "function|class|constant|..."}.',
    },
    "imports": {
        "type": "object",
        "description": 'Imports: {"module": ["imported", "names"]} (an empty list imports the '
        "module itself).",
    },
    "constants": {
        "type": "object",
        "description": 'Module-level constants: {"NAME": "value or meaning"}.',
    },
    "dependencies": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Third-party packages or modules the file uses.",
    },
    "other_notes": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Short notes worth finding: invariants, caveats, TODOs.",
    },
    "ddd_context": {
        "type": "string",
        "description": "The domain or bounded context the file belongs to, e.g. billing.",
    },
}


def check_dataset(ws: Workspace, dataset_name: str | None) -> None:
    """code-query's ``dataset_name`` is accepted, and must name this work tree's dataset."""
    if dataset_name is None:
        return
    ours = ws.config.dataset_name
    if dataset_name != ours:
        raise UsageError(
            f"dataset_name {dataset_name!r} is not this work tree's dataset ({ours!r})",
            hint=f'pass dataset_name "{ours}" or leave it out (cq-lsp serves one dataset per '
            f"work tree: {ws.project.root})",
        )


def write_documentation(ws: Workspace, args: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """insert_file_documentation (``partial`` False) or update_file_documentation (True)."""
    check_dataset(ws, args.get("dataset_name"))
    rel = ws.guard.to_rel(args["filepath"])
    ws.guard.check_rules(rel)
    content = ws.guard.read(rel)
    given = {k: args[k] for k in RECORD_FIELDS if args.get(k) is not None}
    fields = dict(given)
    if partial:
        existing = get_record(ws.db, rel)
        if existing is None:
            raise CqLspError(
                f"{rel}: has no documentation to update",
                hint="call insert_file_documentation with filepath and at least overview",
            )
        if existing["content_sha"] != content.sha:
            raise CqLspError(
                f"{rel}: the file changed since its documentation was written (documented "
                f"{existing['content_sha'][:12]}, now {content.sha[:12]}), so a partial update "
                "would mix old and new descriptions",
                hint="read the file again and call insert_file_documentation with the whole record",
            )
        fields = {k: existing[k] for k in RECORD_FIELDS if existing.get(k) is not None}
        fields.update(given)
        if not given:
            raise UsageError(
                "update_file_documentation: no field to update",
                hint="pass one or more of " + ", ".join(RECORD_FIELDS),
            )
    try:
        record = to_record(
            fields,
            path=rel,
            filename=posixpath.basename(rel),
            language=detect_language(rel),
            processor=PROCESSOR,
        )
    except AnswerError as exc:
        message = str(exc).replace("invalid answer from LLM", "invalid documentation")
        raise UsageError(
            message, hint="see the tool's input schema for each field's shape"
        ) from None
    if content.notes:
        record.other_notes = [*record.other_notes, *content.notes]
    commit_external(
        ws.db,
        dataset=ws.config.dataset_name,
        record=record,
        content=content,
        commit=head_commit(ws.project.root),
        source="mcp",
    )
    return {
        "path": rel,
        "filepath": rel,
        "dataset_name": ws.config.dataset_name,
        "content_sha": content.sha,
        "processor": PROCESSOR,
        "stored": True,
        "fields": sorted(given),
    }
