"""Records for config and markup files: their headings, keys, stages and targets as symbols.

No parser is needed for what a reader looks these files up by: a Markdown heading, a YAML or TOML
top-level key, a Dockerfile stage, a Makefile target, an SQL table. Each reader works line by line
on the text, so a file of any size costs one pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from cq_lsp.documenters.records import Symbol
from cq_lsp.documenters.treesitter.common import DOC_LIMIT, whole_sentences

SymbolList = list[dict[str, Any]]

_MAX_LINES = 20_000
_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+:.])\1{2,}\s*$")
_ADOC = re.compile(r"^(={1,6})\s+(\S.*?)\s*$")
_YAML_KEY = re.compile(r"^([A-Za-z_][\w.\-]*|\"[^\"]+\"|'[^']+')\s*:(?:\s|$)")
_TOML_TABLE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_TOML_KEY = re.compile(r"^([A-Za-z0-9_\-]+|\"[^\"]+\")\s*=")
_DOCKER_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", re.IGNORECASE)
_MAKE_TARGET = re.compile(r"^([A-Za-z0-9_.\-/%$(){} ]+?)\s*::?(?![=])(?:\s|$)")
_SQL_CREATE = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+|UNLOGGED\s+|VIRTUAL\s+)?"
    r"(TABLE|VIEW|MATERIALIZED\s+VIEW|INDEX|UNIQUE\s+INDEX|FUNCTION|PROCEDURE|TRIGGER|TYPE)\s+"
    r"(?:IF\s+NOT\s+EXISTS\s+)?([\w.\"`\[\]]+)",
    re.IGNORECASE,
)
_COMMENT = re.compile(r"^\s*(?:#+|//+|--+|;+|/\*+|\*+/?|<!--|%+)\s?")


def _sym(name: str, kind: str, line: int, sig: str, container: str | None = None) -> dict[str, Any]:
    return Symbol(name=name, kind=kind, line=line, container=container, signature=sig).to_dict()


def unfenced(lines: list[str]) -> Iterator[int]:
    """Indices of the Markdown lines outside the front matter and fenced code blocks."""
    in_fence = False
    for i in range(_front_matter_end(lines), len(lines)):
        if lines[i].strip().startswith(("```", "~~~")):
            in_fence = not in_fence
        elif not in_fence:
            yield i


def headings_markdown(lines: list[str]) -> SymbolList:
    out: SymbolList = []
    stack: list[tuple[int, str]] = []
    for i in unfenced(lines):
        line = lines[i]
        stripped = line.strip()
        match = _ATX.match(line)
        level, title = 0, ""
        if match:
            level, title = len(match.group(1)), match.group(2).strip()
        elif (
            stripped
            and i + 1 < len(lines)
            and _SETEXT.match(lines[i + 1])
            and not stripped.startswith(("-", "*", "|", "<", ">", "```"))
        ):
            level, title = (1 if lines[i + 1].strip()[0] == "=" else 2), stripped
        if title:
            out.append(_heading(stack, level, title, i + 1, line.strip()))
    return out


def _heading(stack: list[tuple[int, str]], level: int, title: str, line: int, sig: str) -> dict:
    while stack and stack[-1][0] >= level:
        stack.pop()
    container = stack[-1][1] if stack else None
    stack.append((level, title))
    return _sym(title, "heading", line, sig, container)


def headings_rst(lines: list[str]) -> SymbolList:
    out: SymbolList = []
    levels: list[str] = []
    stack: list[tuple[int, str]] = []
    for i in range(1, len(lines)):
        under = lines[i].rstrip()
        title = lines[i - 1].strip()
        if not title or not _RST_UNDERLINE.match(under) or len(under) < len(title):
            continue
        if _RST_UNDERLINE.match(title):
            continue
        char = under[0]
        if char not in levels:
            levels.append(char)
        out.append(_heading(stack, levels.index(char) + 1, title, i, title))
    return out


def headings_asciidoc(lines: list[str]) -> SymbolList:
    out: SymbolList = []
    stack: list[tuple[int, str]] = []
    in_block = False
    for i, line in enumerate(lines):
        if line.startswith(("----", "....", "```")):
            in_block = not in_block
            continue
        match = None if in_block else _ADOC.match(line)
        if match:
            out.append(_heading(stack, len(match.group(1)), match.group(2), i + 1, line.strip()))
    return out


def keys_yaml(lines: list[str]) -> SymbolList:
    out: SymbolList = []
    for i, line in enumerate(lines):
        match = _YAML_KEY.match(line)
        if match:
            out.append(_sym(match.group(1).strip("\"'"), "key", i + 1, line.strip()))
    return out


def keys_toml(lines: list[str]) -> SymbolList:
    out: SymbolList = []
    table: str | None = None
    for i, line in enumerate(lines):
        match = _TOML_TABLE.match(line)
        if match:
            table = match.group(1).strip()
            out.append(_sym(table, "table" if "[[" not in line else "key", i + 1, line.strip()))
            continue
        match = _TOML_KEY.match(line)
        if match:
            out.append(_sym(match.group(1).strip('"'), "key", i + 1, line.strip(), table))
    return out


def keys_json(text: str, lines: list[str]) -> SymbolList:
    try:
        data = json.loads(text)
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    # The first line holding `"key":` at the smallest indentation is the top-level one.
    out: SymbolList = []
    for key in data:
        needle = json.dumps(key) + ":"
        best: tuple[int, int] | None = None
        for i, line in enumerate(lines):
            stripped = line.lstrip()
            if stripped.replace('" :', '":', 1).startswith(needle):
                indent = len(line) - len(stripped)
                if best is None or indent < best[0]:
                    best = (indent, i + 1)
        out.append(_sym(key, "key", best[1] if best else 1, needle))
    return out


def stages_dockerfile(lines: list[str]) -> SymbolList:
    out: SymbolList = []
    for i, line in enumerate(lines):
        match = _DOCKER_FROM.match(line)
        if match:
            out.append(_sym(match.group(2) or match.group(1), "stage", i + 1, line.strip()))
    return out


def targets_makefile(lines: list[str]) -> SymbolList:
    out: SymbolList = []
    for i, line in enumerate(lines):
        if line[:1] in ("\t", " ", "#", "") or "=" in line.split(":", 1)[0]:
            continue
        match = _MAKE_TARGET.match(line)
        if not match:
            continue
        for target in match.group(1).split():
            if not target.startswith(".") or target in (".", ".."):
                out.append(_sym(target, "target", i + 1, line.strip()))
    return out


def tables_sql(lines: list[str]) -> SymbolList:
    out: SymbolList = []
    for i, line in enumerate(lines):
        match = _SQL_CREATE.match(line)
        if match:
            what = " ".join(match.group(1).upper().split())
            kind = "table" if what in ("TABLE", "VIEW", "MATERIALIZED VIEW") else (
                "function" if what in ("FUNCTION", "PROCEDURE") else "type" if what == "TYPE"
                else "key"
            )  # fmt: skip
            if kind == "key":
                continue  # indexes and triggers are not what a reader looks a schema up by
            out.append(_sym(match.group(2).strip('"`[]'), kind, i + 1, line.strip()))
    return out


def _front_matter_end(lines: list[str]) -> int:
    if lines and lines[0].strip() == "---":
        for i in range(1, min(len(lines), 200)):
            if lines[i].strip() in ("---", "..."):
                return i + 1
    return 0


def first_prose(lines: list[str], comments_only: bool = False) -> str:
    """The first paragraph of prose (or, with ``comments_only``, of comments), cut cleanly."""
    para: list[str] = []
    for raw in lines[:2000]:
        if raw.startswith("#!") or raw.lstrip().startswith(("<?xml", "<!DOCTYPE", "<!doctype")):
            continue
        match = _COMMENT.match(raw)
        if comments_only and (match is None or not match.group().strip()):
            if para:
                break
            if raw.strip():
                return ""  # code before any comment: the file has no header comment
            continue
        line = raw[match.end() :].strip() if match else raw.strip()
        if not any(ch.isalnum() for ch in line):
            if para:
                break
            continue
        para.append(line)
        if len(para) >= 12:
            break
    return whole_sentences(" ".join(para), DOC_LIMIT)


_READERS: dict[str, Callable[[str, list[str]], SymbolList]] = {
    "markdown": lambda text, lines: headings_markdown(lines),
    "restructuredtext": lambda text, lines: headings_rst(lines),
    "asciidoc": lambda text, lines: headings_asciidoc(lines),
    "yaml": lambda text, lines: keys_yaml(lines),
    "toml": lambda text, lines: keys_toml(lines),
    "json": keys_json,
    "dockerfile": lambda text, lines: stages_dockerfile(lines),
    "makefile": lambda text, lines: targets_makefile(lines),
    "sql": lambda text, lines: tables_sql(lines),
}

_NOUNS = {
    "heading": ("heading", "headings"),
    "key": ("top-level key", "top-level keys"),
    "table": ("table", "tables"),
    "stage": ("build stage", "build stages"),
    "target": ("target", "targets"),
    "function": ("function", "functions"),
    "type": ("type", "types"),
}


def read_symbols(language: str, text: str) -> SymbolList | None:
    """The symbols of a config or markup file, or None when ``language`` has no reader."""
    reader = _READERS.get(language)
    if reader is None:
        return None
    lines = text.splitlines()[:_MAX_LINES]
    return reader(text, lines)


def describe(display: str, symbols: SymbolList, limit: int = 5) -> str:
    """``YAML file with 3 top-level keys (name, on, jobs).`` — whole words, the count said."""
    by_kind: dict[str, list[str]] = {}
    for sym in symbols:
        if sym["kind"] != "heading" and sym.get("container"):
            continue
        by_kind.setdefault(sym["kind"], []).append(sym["name"])
    parts = []
    for kind, names in by_kind.items():
        one, many = _NOUNS.get(kind, (kind, kind + "s"))
        shown = ", ".join(names[:limit]) + (
            f" and {len(names) - limit} more" if len(names) > limit else ""
        )
        parts.append(f"{len(names)} {one if len(names) == 1 else many} ({shown})")
    if not parts:
        return ""
    subject = display if display.lower().endswith("file") else f"{display} file"
    return f"{subject} with " + " and ".join(parts) + "."
